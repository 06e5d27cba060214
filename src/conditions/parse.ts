// Turns a condition as the YAML parser left it (plain objects, arrays and
// scalars) into the AST. Types are not known here: values stay text and the
// compilers check them against the schema.
import { type Condition, ConditionError, type Path, type TestNode } from './ast.js';
import { parseField, parseFilter } from './filter.js';
import { parseLogicTree } from './logic-tree.js';
import { didYouMean } from './suggest.js';

export interface ParseOptions {
  /** Scopes a field may name, e.g. `['new', 'old', 'contact']`. */
  scopes: readonly string[];
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const GROUP_KEYS = ['and', 'or', 'not', 'not.and', 'not.or'];

/**
 * Parses a condition. An object is an implicit AND of its entries; the keys
 * `and`/`or` take a list of objects or PostgREST's string form, `not` takes an
 * object, and `not.and`/`not.or` negate a group. An empty object at the top
 * means "always".
 */
export function parseCondition(value: unknown, options: ParseOptions): Condition {
  for (const scope of options.scopes) {
    if (scope === '' || scope.includes('.') || GROUP_KEYS.includes(scope) || scope === 'now') {
      throw new Error(`invalid scope name "${scope}"`);
    }
  }
  return new Parser(options.scopes).object(value, [], true);
}

class Parser {
  constructor(readonly scopes: readonly string[]) {}

  object(value: unknown, path: Path, allowEmpty = false): Condition {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ConditionError(
        path,
        `expected a mapping like { "new.status": "eq.paid" } (or and/or/not), got ${describe(value)}`,
      );
    }
    const items: Condition[] = [];
    for (const [key, entry] of Object.entries(value)) {
      items.push(this.entry(key, entry, [...path, key]));
    }
    if (items.length === 1) return items[0]!;
    if (items.length === 0 && !allowEmpty) {
      throw new ConditionError(path, 'expected at least one condition, got an empty mapping');
    }
    return { kind: 'and', items, path };
  }

  entry(key: string, value: unknown, path: Path): Condition {
    switch (key) {
      case 'and':
      case 'or':
        return this.group(key, value, path);
      case 'not.and':
      case 'not.or':
        return {
          kind: 'not',
          item: this.group(key === 'not.and' ? 'and' : 'or', value, path),
          path,
        };
      case 'not':
        return { kind: 'not', item: this.object(value, path), path };
    }
    if (!key.includes('.')) {
      const guess = didYouMean(key, GROUP_KEYS);
      if (guess) throw new ConditionError(path, `unknown key "${key}"${guess}`);
    }
    const field = parseField(key, this.scopes, path);
    return { kind: 'test', field, ...this.filter(value, path), path };
  }

  group(kind: 'and' | 'or', value: unknown, path: Path): Condition {
    let items: Condition[];
    if (typeof value === 'string') {
      items = parseLogicTree(value, this.scopes, path);
    } else if (Array.isArray(value)) {
      if (value.length === 0) {
        throw new ConditionError(path, `expected at least one condition in "${kind}"`);
      }
      items = value.map((item, index) => this.object(item, [...path, index]));
    } else {
      throw new ConditionError(
        path,
        `expected a list of conditions or a string like "(new.a.eq.1,new.b.eq.2)" for "${kind}", got ${describe(value)}`,
      );
    }
    return { kind, items, path };
  }

  /** A filter string, or a YAML scalar: `5` means `eq.5`, `true` `is.true`, `null` `is.null`. */
  filter(value: unknown, path: Path): DistributiveOmit<TestNode, 'kind' | 'field' | 'path'> {
    if (typeof value === 'string') return { ...parseFilter(value, path), filter: value };
    if (typeof value === 'number' || typeof value === 'bigint') {
      if (typeof value === 'number' && !Number.isFinite(value)) {
        throw new ConditionError(path, `expected a finite number, got ${value}`);
      }
      return { op: 'eq', negated: false, value: String(value), filter: String(value) };
    }
    if (typeof value === 'boolean') {
      return { op: 'is', negated: false, value: value ? 'true' : 'false', filter: `is.${value}` };
    }
    if (value === null) return { op: 'is', negated: false, value: 'null', filter: 'is.null' };
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
