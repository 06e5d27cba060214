// Turns a condition as the YAML parser left it (plain objects, arrays and
// scalars) into the AST. Types are not known here: values stay text and the
// compilers check them against the schema.

import { didYouMean } from '../suggest.js';
import { type Condition, ConditionError, type Path, type TestNode } from './ast.js';
import { parseField, parseFilter } from './filter.js';
import { parseLogicTree } from './logic-tree.js';

export interface ParseOptions {
  /** Scopes a field may name, e.g. `['new', 'old', 'contact']`. */
  scopes: readonly string[];
  /**
   * The text a YAML number or null was written as, by its path: what
   * `new.code: 01` compares with (the number 1 is not what was written),
   * and whether `new.status:` has nothing after it ('') rather than `null`.
   */
  scalarText?: (path: Path) => string | undefined;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const GROUP_KEYS = ['and', 'or', 'not', 'not.and', 'not.or'];

/**
 * Parses a condition. An object is an implicit AND of its entries; the keys
 * `and`/`or` take a list of objects or PostgREST's string form, `not` takes an
 * object, and `not.and`/`not.or` negate a group. An empty object at the top
 * means "always". Throws the first mistake, in the order written.
 */
export function parseCondition(value: unknown, options: ParseOptions): Condition {
  const { condition, errors } = parseConditionFully(value, options);
  if (errors[0]) throw errors[0];
  return condition!;
}

/**
 * Parses a condition and finds every mistake in it, not only the first: each
 * entry of a mapping and each item of a list is parsed on its own, so an
 * unknown operator in one does not hide a bad field in the next. What parses
 * is kept (entries that do not are left out, `undefined` when nothing is
 * left), so that the caller can check the rest against the schema too; it
 * is not the condition the user wrote and must not be run. A string form
 * (`or: "(...)"`) is one place and gives at most one error.
 */
export function parseConditionFully(
  value: unknown,
  options: ParseOptions,
): { condition: Condition | undefined; errors: ConditionError[] } {
  for (const scope of options.scopes) {
    if (scope === '' || scope.includes('.') || GROUP_KEYS.includes(scope) || scope === 'now') {
      throw new Error(`invalid scope name "${scope}"`);
    }
  }
  const parser = new Parser(options.scopes, options.scalarText);
  const condition = parser.object(value, [], true);
  return { condition, errors: parser.errors };
}

/** Each method returns undefined for a part that did not parse, its mistakes added to `errors`. */
class Parser {
  readonly errors: ConditionError[] = [];
  constructor(
    readonly scopes: readonly string[],
    readonly scalarText: ParseOptions['scalarText'],
  ) {}

  fail(path: Path, message: string): undefined {
    this.errors.push(new ConditionError(path, message));
    return undefined;
  }

  /** `read()`, or undefined with its ConditionError recorded. */
  attempt<T>(read: () => T): T | undefined {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof ConditionError)) throw error;
      this.errors.push(error);
      return undefined;
    }
  }

  object(value: unknown, path: Path, allowEmpty = false): Condition | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return this.fail(
        path,
        `expected a mapping like { "new.status": "eq.paid" } (or and/or/not), got ${describe(value)}`,
      );
    }
    const entries = Object.entries(value);
    const items = entries.flatMap(
      ([key, entry]) => this.entry(key, entry, [...path, key], entries.length > 1) ?? [],
    );
    // An entry that failed was reported; the mapping is not also empty.
    if (items.length < entries.length) return this.joined('and', items, path);
    if (items.length === 1) return items[0]!;
    if (items.length === 0 && !allowEmpty) {
      return this.fail(path, 'expected at least one condition, got an empty mapping');
    }
    return { kind: 'and', items, path };
  }

  /** What is left of a mapping or list some of whose parts failed. */
  joined(kind: 'and' | 'or', items: Condition[], path: Path): Condition | undefined {
    if (items.length <= 1) return items[0];
    return { kind, items, path };
  }

  /** `beside`: the mapping has other entries, one of which this may have been cut from. */
  entry(key: string, value: unknown, path: Path, beside = false): Condition | undefined {
    switch (key) {
      case 'and':
      case 'or':
        return this.group(key, value, path);
      case 'not.and':
      case 'not.or': {
        const item = this.group(key === 'not.and' ? 'and' : 'or', value, path);
        return item && { kind: 'not', item, path };
      }
      case 'not': {
        const item = this.object(value, path);
        return item && { kind: 'not', item, path };
      }
    }
    return this.attempt(() => {
      if (!key.includes('.')) {
        const guess = didYouMean(key, GROUP_KEYS);
        if (guess) throw new ConditionError(path, `unknown key "${key}"${guess}`);
      }
      const field = this.field(key, value, path, beside);
      return { kind: 'test', field, ...this.filter(value, path), path };
    });
  }

  /**
   * A key with no value that is not a field, beside others, is most often
   * the rest of the value before it, cut at a comma (`{ new.plan: in.(a,b) }` is YAML for
   * `new.plan: "in.(a"` and `b)` with no value): the error says so.
   */
  field(key: string, value: unknown, path: Path, beside: boolean) {
    try {
      return parseField(key, this.scopes, path);
    } catch (error) {
      if (!(error instanceof ConditionError) || value !== null || !beside) throw error;
      throw new ConditionError(
        path,
        `${error.message}; if it is the rest of the value before it, quote that value: inside { } a comma ends a value`,
      );
    }
  }

  group(kind: 'and' | 'or', value: unknown, path: Path): Condition | undefined {
    if (typeof value === 'string') {
      const items = this.attempt(() => parseLogicTree(value, this.scopes, path));
      return items && { kind, items, path };
    }
    if (Array.isArray(value)) {
      if (value.length === 0) {
        return this.fail(path, `expected at least one condition in "${kind}"`);
      }
      const items = value.flatMap((item, index) => this.object(item, [...path, index]) ?? []);
      if (items.length < value.length) return this.joined(kind, items, path);
      return { kind, items, path };
    }
    return this.fail(
      path,
      `expected a list of conditions or a string like "(new.a.eq.1,new.b.eq.2)" for "${kind}", got ${describe(value)}`,
    );
  }

  /** A filter string, or a YAML scalar: `5` means `eq.5`, `true` `is.true`, `null` `is.null`. */
  filter(value: unknown, path: Path): DistributiveOmit<TestNode, 'kind' | 'field' | 'path'> {
    if (typeof value === 'string') return { ...parseFilter(value, path), filter: value };
    if (typeof value === 'number' || typeof value === 'bigint') {
      if (typeof value === 'number' && !Number.isFinite(value)) {
        throw new ConditionError(path, `expected a finite number, got ${value}`);
      }
      const text = this.scalarText?.(path) ?? String(value);
      return { op: 'eq', negated: false, value: text, filter: text };
    }
    if (typeof value === 'boolean') {
      return { op: 'is', negated: false, value: value ? 'true' : 'false', filter: `is.${value}` };
    }
    if (value === null) {
      // `new.status:` with its filter forgotten is not a test for NULL.
      if (this.scalarText?.(path) === '') {
        throw new ConditionError(
          path,
          'nothing after the key; write a filter such as "eq.paid", or is.null to test for NULL',
        );
      }
      return { op: 'is', negated: false, value: 'null', filter: 'is.null' };
    }
    throw new ConditionError(
      path,
      `expected a filter such as "eq.paid" or "gt.100", got ${describe(value)}`,
    );
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}
