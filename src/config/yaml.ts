// YAML files the user writes (nudge.yaml, feature files): parse with source
// positions, interpolate ${ENV}, validate with zod, and turn every problem into
// a ConfigError that names file:line:column and the field.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument, visit } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type Place, throwIfAny } from '../errors.js';
import { plainMessage, valueAtPath } from '../zod-words.js';
import { didYouMean } from './suggest.js';

export type FieldPath = readonly (string | number)[];

export interface YamlSource {
  file: string;
  /** The document as plain JS (after interpolation). */
  value: unknown;
  /** Where a field was written; `key: true` points at the key instead of the value. */
  placeOf(fieldPath: FieldPath, options?: { key?: boolean }): Place;
  /**
   * The fields asked for (parseYaml's `absentWhenUnset`) that were written as
   * one `${NAME}` whose variable is not set: left out of `value`, each with
   * the error that names the variable where it is written.
   */
  unset: readonly UnsetVariable[];
  /** A ConfigError located at `fieldPath`. */
  error(
    fieldPath: FieldPath,
    problem: string,
    options?: { key?: boolean; hint?: string },
  ): ConfigError;
}

export interface UnsetVariable {
  fieldPath: FieldPath;
  /** The variable's name: DATABASE_URL for `${DATABASE_URL}`. */
  variable: string;
  error: ConfigError;
}

/** `connectors.supabase.sync.tables[1]` */
export function formatPath(fieldPath: FieldPath): string {
  let out = '';
  for (const part of fieldPath) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

/** Paths are shown relative to the working directory, as editors expect. */
export function displayPath(file: string, cwd = process.cwd()): string {
  const relative = path.relative(cwd, file);
  return relative && !relative.startsWith('..') ? relative : file;
}

export async function readYamlFile(
  file: string,
  env: Record<string, string | undefined>,
  cwd = process.cwd(),
  options: ParseOptions = {},
) {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      { file: displayPath(file, cwd) },
      '',
      code === 'ENOENT' ? 'file not found' : `cannot read file (${code})`,
    );
  }
  return parseYaml(text, displayPath(file, cwd), env, options);
}

export interface ParseOptions {
  /**
   * Fields that, written as exactly one `${NAME}` whose variable is not set,
   * are absent rather than an error: the caller decides whether it has
   * something to do without them (`YamlSource.unset`). Anything else in
   * such a field — `postgres://${HOST}/db`, `${NAME:-default}` — is
   * interpolated as everywhere.
   */
  absentWhenUnset?: readonly FieldPath[];
}

export function parseYaml(
  text: string,
  file: string,
  env: Record<string, string | undefined>,
  options: ParseOptions = {},
): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const placeAt = (offset: number): Place => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };
  const syntax = [...doc.errors, ...doc.warnings].map(
    (e) => new ConfigError(placeAt(e.pos[0]), '', e.message.split('\n')[0] ?? e.message),
  );
  throwIfAny(syntax);

  const placeOf = (fieldPath: FieldPath, options: { key?: boolean } = {}): Place => {
    let node: unknown = doc.contents;
    let found: Node | undefined = (doc.contents as Node | null) ?? undefined;
    for (let i = 0; i < fieldPath.length; i++) {
      const part = fieldPath[i]!;
      const last = i === fieldPath.length - 1;
      if (isMap(node)) {
        const pair = node.items.find(
          (p) => isScalar(p.key) && String(p.key.value) === String(part),
        );
        if (!pair) break;
        const target = last && options.key ? pair.key : (pair.value ?? pair.key);
        node = target;
        if (target) found = target as Node;
      } else if (isSeq(node) && typeof part === 'number' && node.items[part]) {
        node = node.items[part];
        found = node as Node;
      } else {
        break;
      }
    }
    return placeAt(found?.range?.[0] ?? 0);
  };

  const error = (
    fieldPath: FieldPath,
    problem: string,
    options: { key?: boolean; hint?: string } = {},
  ) => new ConfigError(placeOf(fieldPath, options), formatPath(fieldPath), problem, options.hint);

  const absent = new Set((options.absentWhenUnset ?? []).map(formatPath));
  const { errors, unset } = interpolate(doc, env, placeAt, absent);
  throwIfAny(errors);
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  for (const field of unset) removeAt(value, field.fieldPath);
  return { file, value, placeOf, error, unset };
}

/** Deletes the field at `fieldPath` from a plain JS document. */
function removeAt(value: unknown, fieldPath: FieldPath): void {
  const parent = fieldPath
    .slice(0, -1)
    .reduce<unknown>(
      (at, part) =>
        at && typeof at === 'object' ? (at as Record<string, unknown>)[part] : undefined,
      value,
    );
  if (parent && typeof parent === 'object') {
    delete (parent as Record<string, unknown>)[String(fieldPath[fieldPath.length - 1])];
  }
}

/** The field a scalar is the value of, from the visitor's ancestors. */
function fieldPathOf(ancestors: readonly unknown[], node: unknown): FieldPath {
  const chain = [...ancestors, node];
  const out: (string | number)[] = [];
  chain.forEach((item, i) => {
    if (isPair(item) && isScalar(item.key)) out.push(String(item.key.value));
    else if (isSeq(item)) out.push(item.items.indexOf(chain[i + 1] as never));
  });
  return out;
}

const WHOLE_VARIABLE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/**
 * Replaces `${NAME}` and `${NAME:-default}` in string values with environment
 * variables; `$${` writes a literal `${`. A variable that is not set (and has
 * no default) is an error naming the variable and where it is used — set
 * aside in `unset` instead when the field is one of `absent` and holds
 * nothing but that `${NAME}`.
 */
function interpolate(
  doc: ReturnType<typeof parseDocument>,
  env: Record<string, string | undefined>,
  placeAt: (offset: number) => Place,
  absent: ReadonlySet<string>,
): { errors: ConfigError[]; unset: UnsetVariable[] } {
  const errors: ConfigError[] = [];
  const unset: UnsetVariable[] = [];
  const notSet = (node: Node, name: string) =>
    new ConfigError(
      placeAt(node.range?.[0] ?? 0),
      '',
      `environment variable ${name} is not set`,
      `set ${name} in the environment or in .env next to the config file, or write \${${name}:-default}`,
    );
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      const whole = WHOLE_VARIABLE.exec(node.value)?.[1];
      if (whole !== undefined && !env[whole] && absent.size) {
        const fieldPath = fieldPathOf(ancestors, node);
        if (absent.has(formatPath(fieldPath))) {
          unset.push({ fieldPath, variable: whole, error: notSet(node, whole) });
          return;
        }
      }
      node.value = node.value.replace(
        /\$?\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
        (match, name: string, fallback: string | undefined) => {
          if (match.startsWith('$$')) return match.slice(1);
          const value = env[name];
          if (value !== undefined && value !== '') return value;
          if (fallback !== undefined) return fallback;
          errors.push(notSet(node, name));
          return '';
        },
      );
    },
  });
  return { errors, unset };
}

/** Validates `source.value` against `schema`; every issue becomes a located ConfigError. */
export function validate<S extends z.ZodType>(source: YamlSource, schema: S): z.output<S> {
  const result = schema.safeParse(source.value ?? {});
  if (result.success) return result.data;
  const errors: ConfigError[] = [];
  for (const issue of result.error.issues) {
    const at = issue.path as (string | number)[];
    if (issue.code === 'unrecognized_keys') {
      const allowed = keysAt(schema, at);
      for (const key of issue.keys) {
        errors.push(
          source.error([...at, key], `unknown field "${key}"${didYouMean(key, allowed)}`, {
            key: true,
          }),
        );
      }
    } else if (issue.code === 'invalid_value' && 'values' in issue && !ownMessageAt(schema, at)) {
      const got = valueAtPath(source.value, at);
      const options = issue.values.map(String);
      errors.push(
        source.error(
          at,
          `expected one of ${options.join(', ')}${typeof got === 'string' ? didYouMean(got, options) : ''}`,
        ),
      );
    } else if (issue.code === 'invalid_key') {
      // A record key its key schema refused: that schema's own messages, at the key.
      for (const inner of issue.issues) errors.push(source.error(at, inner.message, { key: true }));
    } else if (issue.code === 'invalid_type' && valueAtPath(source.value, at) === undefined) {
      errors.push(source.error(at, `missing required field`, { key: true }));
    } else {
      errors.push(source.error(at, plainMessage(issue, valueAtPath(source.value, at))));
    }
  }
  throwIfAny(errors);
  throw new Error('unreachable');
}

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

/** The field names the schema allows at `at`, for "did you mean". */
function keysAt(schema: z.ZodType, at: FieldPath): string[] {
  const defs = walk([(schema as unknown as { _zod: { def: Def } })._zod.def], at);
  return defs.flatMap((def) => Object.keys(def.shape ?? {}));
}

/**
 * Whether the value allowed at `at` (an enum or a literal) words its own
 * errors (z.enum(..., { error })): its issue's message is then used as it is.
 */
function ownMessageAt(schema: z.ZodType, at: FieldPath): boolean {
  return walk([(schema as unknown as { _zod: { def: Def } })._zod.def], at).some(
    (def) => (def.type === 'enum' || def.type === 'literal') && def.error !== undefined,
  );
}

function walk(defs: Def[], at: FieldPath): Def[] {
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
