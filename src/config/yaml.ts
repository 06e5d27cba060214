// YAML files the user writes (nudge.yaml, feature files): parse with source
// positions, interpolate ${ENV}, validate with zod, and turn every problem into
// a ConfigError that names file:line:column and the field.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  visit,
  type YAMLError,
} from 'yaml';
import type { z } from 'zod';
import { ConfigError, type Place, throwIfAny, throwInFileOrder } from '../errors.js';
import { didYouMean } from '../suggest.js';
import { keysAt, ownMessageAt, plainMessage, valueAtPath, withGiven } from '../zod-words.js';

export type FieldPath = readonly (string | number)[];

export interface YamlSource {
  file: string;
  /** The document as plain JS (after interpolation). */
  value: unknown;
  /**
   * The document as written, `${VAR}`s left as they are: what the file says
   * whatever the environment (a deployment's fingerprint of a feature).
   */
  written: unknown;
  /** Where a field was written; `key: true` points at the key instead of the value. */
  placeOf(fieldPath: FieldPath, options?: { key?: boolean }): Place;
  /**
   * The top-level keys asked for (parseYaml's `absentWhenUnset`) that were
   * written as one `${NAME}` whose variable is not set: left out of `value`,
   * each with the error that names the variable where it is written.
   */
  unset: readonly UnsetVariable[];
  /**
   * The text a number or a null was written as (`01`, `1e3`,
   * `12345678901234567890`; `~`, `null`, or '' when nothing was), which its
   * value does not keep; undefined for any other value.
   */
  scalarText(fieldPath: FieldPath): string | undefined;
  /** A ConfigError located at `fieldPath`. */
  error(
    fieldPath: FieldPath,
    problem: string,
    options?: { key?: boolean; hint?: string },
  ): ConfigError;
}

export interface UnsetVariable {
  /** The top-level key: database_url. */
  key: string;
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
   * Top-level keys that, written as exactly one `${NAME}` whose variable is
   * not set, are absent rather than an error: the caller decides whether it
   * has something to do without them (`YamlSource.unset`). Anything else in
   * such a key — `postgres://${HOST}/db`, `${NAME:-default}` — is
   * interpolated as everywhere.
   */
  absentWhenUnset?: readonly string[];
}

export function parseYaml(
  text: string,
  file: string,
  env: Record<string, string | undefined>,
  options: ParseOptions = {},
): YamlSource {
  const lineCounter = new LineCounter();
  // logLevel error: a warning of the library (a mapping used as a key)
  // would go to stderr as a Node warning; the schema's error says it.
  const doc = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
    logLevel: 'error',
  });
  const placeAt = (offset: number): Place => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };
  // A key written twice is its own mistake; after any other syntax error
  // the parser's later errors mostly follow from the first (one missing }
  // is reported two or three times), so only the first is said.
  const first = doc.errors.find((e) => e.code !== 'DUPLICATE_KEY');
  const syntax = [
    ...(first ? [first] : []),
    ...doc.errors.filter((e) => e.code === 'DUPLICATE_KEY'),
    ...doc.warnings,
  ]
    .sort((a, b) => a.pos[0] - b.pos[0])
    .map((e) => syntaxError(doc, e, placeAt));
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

  const scalarText = (fieldPath: FieldPath): string | undefined => {
    const node = doc.getIn(fieldPath, true);
    if (!isScalar(node) || (typeof node.value !== 'number' && node.value !== null))
      return undefined;
    return node.source;
  };

  const written: unknown = doc.toJS({ maxAliasCount: 100 });
  const unset = unsetKeys(doc, env, options.absentWhenUnset ?? [], placeAt);
  throwIfAny(interpolate(doc, env, placeAt, new Set(unset.keys())));
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  for (const { key } of unset.values()) delete (value as Record<string, unknown>)[key];
  return { file, value, written, placeOf, scalarText, error, unset: [...unset.values()] };
}

/**
 * A syntax error of the parser in the user's words: a key written twice is
 * named, with the line of its first writing; a second document and a tab
 * say what to do. Others keep the parser's first line.
 */
function syntaxError(
  doc: ReturnType<typeof parseDocument>,
  error: YAMLError,
  placeAt: (offset: number) => Place,
): ConfigError {
  const place = placeAt(error.pos[0]);
  switch (error.code) {
    case 'DUPLICATE_KEY': {
      const duplicate = duplicateAt(doc, error.pos[0]);
      if (!duplicate) break;
      const { path, first } = duplicate;
      const key = path.at(-1)!;
      const condition = typeof key === 'string' && /^(new|old|contact)\./.test(key);
      return new ConfigError(
        place,
        formatPath(path),
        `written twice in one mapping (first on line ${placeAt(first).line})`,
        condition
          ? `to test one field twice, list the tests: and: [{ ${key}: gt.1 }, { ${key}: lt.5 }]`
          : 'keep one of them',
      );
    }
    case 'MULTIPLE_DOCS':
      return new ConfigError(
        place,
        '',
        'a second YAML document starts here ("---"); a file holds one',
        'remove the "---", or move what follows it to a file of its own',
      );
    case 'TAB_AS_INDENT':
      return new ConfigError(place, '', 'a tab indents this line; YAML indents with spaces only');
  }
  return new ConfigError(place, '', error.message.split('\n')[0] ?? error.message);
}

/** The key written at `offset` (a key written twice) as a field path, and where its first writing starts. */
function duplicateAt(
  doc: ReturnType<typeof parseDocument>,
  offset: number,
): { path: FieldPath; first: number } | undefined {
  let found: { path: FieldPath; first: number } | undefined;
  visit(doc, {
    Map(_, map, ancestors) {
      const index = map.items.findIndex((pair) => (pair.key as Node | null)?.range?.[0] === offset);
      if (index < 0) return undefined;
      const key = keyText(map.items[index]!.key);
      const first = map.items.find((pair) => keyText(pair.key) === key);
      const path: (string | number)[] = [];
      const nodes = [...ancestors, map];
      nodes.forEach((node, i) => {
        if (isPair(node)) path.push(keyText(node.key));
        else if (isSeq(node)) path.push(node.items.indexOf(nodes[i + 1] as Node));
      });
      found = {
        path: [...path, key],
        first: (first?.key as Node | null)?.range?.[0] ?? offset,
      };
      return visit.BREAK;
    },
  });
  return found;
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

const WHOLE_VARIABLE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/**
 * The pairs of the document's top-level map whose key is one of `keys` and
 * whose value is exactly one `${NAME}` with NAME not set, by that value.
 */
function unsetKeys(
  doc: ReturnType<typeof parseDocument>,
  env: Record<string, string | undefined>,
  keys: readonly string[],
  placeAt: (offset: number) => Place,
): Map<Node, UnsetVariable> {
  const unset = new Map<Node, UnsetVariable>();
  if (!isMap(doc.contents)) return unset;
  for (const { key, value } of doc.contents.items) {
    if (!isScalar(key) || !keys.includes(String(key.value)) || !isScalar(value)) continue;
    const variable =
      typeof value.value === 'string' ? WHOLE_VARIABLE.exec(value.value)?.[1] : undefined;
    if (variable === undefined || env[variable]) continue;
    unset.set(value, {
      key: String(key.value),
      variable,
      error: notSet(placeAt(value.range?.[0] ?? 0), variable),
    });
  }
  return unset;
}

function notSet(place: Place, name: string): ConfigError {
  return new ConfigError(
    place,
    '',
    `environment variable ${name} is not set`,
    `set ${name} in the environment or in .env next to the config file, or write \${${name}:-default}`,
  );
}

/**
 * Replaces `${NAME}` and `${NAME:-default}` in string values with environment
 * variables; `$${` writes a literal `${`. A variable that is not set (and has
 * no default) is an error naming the variable and where it is used; the
 * values in `skip` (unsetKeys) are left as they are.
 */
function interpolate(
  doc: ReturnType<typeof parseDocument>,
  env: Record<string, string | undefined>,
  placeAt: (offset: number) => Place,
  skip: ReadonlySet<Node>,
): ConfigError[] {
  const errors: ConfigError[] = [];
  visit(doc, {
    Scalar(key, node) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      if (skip.has(node)) return;
      node.value = node.value.replace(
        /\$?\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
        (match, name: string, fallback: string | undefined) => {
          if (match.startsWith('$$')) return match.slice(1);
          const value = env[name];
          if (value !== undefined && value !== '') return value;
          if (fallback !== undefined) return fallback;
          errors.push(notSet(placeAt(node.range?.[0] ?? 0), name));
          return '';
        },
      );
    },
  });
  return errors;
}

/** Validates `source.value` against `schema`; every issue becomes a located ConfigError. */
export function validate<S extends z.ZodType>(source: YamlSource, schema: S): z.output<S> {
  const top = source.value;
  if (Array.isArray(top) || (top !== null && top !== undefined && typeof top !== 'object')) {
    // The whole file is a list (a line starting with "- ") or one word.
    throw source.error(
      [],
      `expected a mapping of fields (such as name: ...) at the top of the file, got ${Array.isArray(top) ? 'a list' : JSON.stringify(top)}`,
      Array.isArray(top)
        ? {
            hint: 'remove the "- " before the first field and unindent the rest; one file holds one mapping',
          }
        : {},
    );
  }
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
          withGiven(
            `expected one of ${options.join(', ')}${typeof got === 'string' ? didYouMean(got, options) : ''}`,
            got,
            at,
          ),
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
  throwInFileOrder(errors);
  throw new Error('unreachable');
}
