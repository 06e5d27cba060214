// zod's default messages ("Invalid input: expected number, received string",
// "Too small: expected number to be >0") in the words Nudge's errors use
// elsewhere, with what was given: one wording for nudge.yaml, feature files
// and API bodies. A schema's own message is left as it is.
import type { z } from 'zod';
import { plural } from './words.js';

/** An issue as zod reports it, the fields read here. */
export interface Issue {
  code?: string;
  message: string;
  path: readonly PropertyKey[];
  expected?: unknown;
  origin?: unknown;
  minimum?: unknown;
  maximum?: unknown;
  inclusive?: unknown;
}

/** A JSON or YAML value's kind in words: "an array", "a string", "null". */
function kindOf(value: unknown, objectWords: string): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return objectWords;
  return `a ${typeof value}`;
}

/** What zod's expected type names, in the same words. */
const EXPECTED: Record<string, string> = {
  object: 'an object',
  array: 'an array',
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
};

/** The bound of a too_small / too_big issue in words, or undefined for one not worded here. */
function bound(issue: Issue, side: 'least' | 'most'): string | undefined {
  const limit = Number(side === 'least' ? issue.minimum : issue.maximum);
  if (!Number.isFinite(limit)) return undefined;
  const inclusive = issue.inclusive !== false;
  switch (issue.origin) {
    case 'number':
    case 'int':
      return inclusive
        ? `a number of at ${side} ${limit}`
        : `a number ${side === 'least' ? 'above' : 'below'} ${limit}`;
    case 'string':
      return side === 'least' && limit === 1
        ? 'a non-empty string'
        : `at ${side} ${plural(limit, 'character')}`;
    case 'array':
      return side === 'least' && limit === 1
        ? 'at least one item'
        : `at ${side} ${plural(limit, 'item')}`;
    default:
      return undefined;
  }
}

/**
 * The issue's message for a user: a wrong type says what came instead, a
 * bound says the bound and the value given. `value` is what sat at the
 * issue's path (undefined: nothing was there).
 */
export function plainMessage(
  issue: Issue,
  value: unknown,
  objectWords = 'an object',
  { quote = true }: { quote?: boolean } = {},
): string {
  const own = !/^(Invalid input|Too small|Too big)\b/.test(issue.message);
  if (own) return quote ? withGiven(issue.message, value, issue.path) : issue.message;
  if (issue.code === 'invalid_type' && typeof issue.expected === 'string') {
    const expected =
      issue.expected === 'object' ? objectWords : (EXPECTED[issue.expected] ?? issue.expected);
    return value === undefined
      ? `required (${expected})`
      : `expected ${expected}, got ${(quote && given(value, issue.path)) || kindOf(value, objectWords)}`;
  }
  if (issue.code === 'too_small' || issue.code === 'too_big') {
    const words = bound(issue, issue.code === 'too_small' ? 'least' : 'most');
    if (words) return `expected ${words}, got ${JSON.stringify(value)}`;
  }
  return issue.message;
}

/** The longest string quoted whole in a message; a longer one is cut. */
const QUOTED = 40;

/** Fields whose value a message never repeats: it may be a credential, and errors are printed and logged. */
const SECRET = /secret|key|password|token|url|dsn|auth|credential|signature|hmac|cookie|session/i;

/**
 * A scalar as a message quotes it ("insrt", 30, true); undefined for null,
 * objects, arrays, and a field named like a credential.
 */
function given(value: unknown, path: readonly PropertyKey[]): string | undefined {
  if (path.some((key) => typeof key === 'string' && SECRET.test(key))) return undefined;
  if (typeof value === 'string')
    return JSON.stringify(value.length > QUOTED ? `${value.slice(0, QUOTED - 1)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * An "expected …" message (at `path`) with what was given (`, got "insrt"`) before a
 * closing "(did you mean …?)"; any other message, one that says already
 * what came, or a value that is not a scalar, as it is.
 */
export function withGiven(message: string, value: unknown, path: readonly PropertyKey[]): string {
  const quoted = given(value, path);
  if (quoted === undefined || !message.startsWith('expected ') || /\bgot\b/.test(message))
    return message;
  const hint = / \(did you mean [^)]*\?\)$/.exec(message);
  return hint
    ? `${message.slice(0, hint.index)}, got ${quoted}${hint[0]}`
    : `${message}, got ${quoted}`;
}

/** The value at `path` inside `root`. */
export function valueAtPath(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

// Reading a zod schema's definition: what it allows at a path.

/** What is read of a zod definition. */
interface Def {
  type: string;
  shape?: Record<string, { _zod: { def: Def } }>;
  innerType?: { _zod: { def: Def } };
  element?: { _zod: { def: Def } };
  valueType?: { _zod: { def: Def } };
  options?: { _zod: { def: Def } }[];
  in?: { _zod: { def: Def } };
  /** A message of the schema's own (z.enum(..., { error })). */
  error?: unknown;
}

/** The field names the schema allows at `at` (through optional, default, pipe, union, array and record), for "did you mean". */
export function keysAt(schema: z.ZodType, at: readonly PropertyKey[]): string[] {
  const defs = walk([(schema as unknown as { _zod: { def: Def } })._zod.def], at);
  return [...new Set(defs.flatMap((def) => Object.keys(def.shape ?? {})))];
}

/**
 * Whether the value allowed at `at` (an enum or a literal) words its own
 * errors (z.enum(..., { error })): its issue's message is then used as it is.
 */
export function ownMessageAt(schema: z.ZodType, at: readonly PropertyKey[]): boolean {
  return walk([(schema as unknown as { _zod: { def: Def } })._zod.def], at).some(
    (def) => (def.type === 'enum' || def.type === 'literal') && def.error !== undefined,
  );
}

function walk(defs: Def[], at: readonly PropertyKey[]): Def[] {
  const unwrapped = defs.flatMap(unwrap);
  if (at.length === 0) return unwrapped;
  const [part, ...rest] = at;
  const next: Def[] = [];
  for (const def of unwrapped) {
    if (def.type === 'object' && typeof part === 'string' && def.shape?.[part]) {
      next.push(def.shape[part]._zod.def);
    } else if (def.type === 'array' && def.element) next.push(def.element._zod.def);
    else if (def.type === 'record' && def.valueType) next.push(def.valueType._zod.def);
  }
  return walk(next, rest);
}

function unwrap(def: Def): Def[] {
  if (def.innerType) return unwrap(def.innerType._zod.def);
  if (def.type === 'pipe' && def.in) return unwrap(def.in._zod.def);
  if (def.type === 'union' && def.options) return def.options.flatMap((o) => unwrap(o._zod.def));
  return [def];
}
