// The small grammars inside one test: a field reference (`new.meta->>plan`)
// and a PostgREST filter (`not.in.(a,"b,c")`). Shared by the YAML-object
// form (parse.ts) and PostgREST's string form (logic-tree.ts).

import { didYouMean } from '../suggest.js';
import {
  ConditionError,
  type FieldRef,
  IS_VALUES,
  type IsValue,
  OPERATORS,
  type Operator,
  type Path,
  type TestNode,
} from './ast.js';

/** PostgREST operators Nudge does not offer, so the error can say so plainly. */
const UNSUPPORTED = [
  'cs',
  'cd',
  'ov',
  'sl',
  'sr',
  'nxl',
  'nxr',
  'adj',
  'fts',
  'plfts',
  'phfts',
  'wfts',
  'match',
  'imatch',
  'isdistinct',
];

const FILTER_EXAMPLE = 'expected "<op>.<value>", e.g. "eq.paid"';

/** Parses `<scope>.<column>` with an optional `->a->>b` JSON path. */
export function parseField(raw: string, scopes: readonly string[], path: Path): FieldRef {
  const dot = raw.indexOf('.');
  if (dot < 0) {
    throw new ConditionError(
      path,
      `expected "<scope>.<column>" such as "${scopes[0] ?? 'new'}.${raw}", got "${raw}"`,
    );
  }
  const scope = raw.slice(0, dot);
  if (!scopes.includes(scope)) {
    throw new ConditionError(
      path,
      `unknown scope "${scope}" in "${raw}"${didYouMean(scope, scopes)}; expected one of ${scopes.join(', ')}`,
    );
  }
  const rest = raw.slice(dot + 1);
  const arrow = rest.indexOf('->');
  const column = arrow < 0 ? rest : rest.slice(0, arrow);
  if (column === '') throw new ConditionError(path, `expected a column name after "${scope}."`);
  const jsonPath: string[] = [];
  let text = false;
  if (arrow >= 0) {
    // `->a->>b`: split on the arrows; a step that starts with `>` was `->>`.
    const steps = rest.slice(arrow + 2).split('->');
    steps.forEach((step, index) => {
      const isText = step.startsWith('>');
      const key = isText ? step.slice(1) : step;
      if (key === '') throw new ConditionError(path, `empty JSON key in "${raw}"`);
      if (isText && index < steps.length - 1) {
        throw new ConditionError(
          path,
          `"->>" yields text, so it must be the last step in "${raw}"`,
        );
      }
      text = isText;
      jsonPath.push(key);
    });
  }
  return { scope, column, jsonPath, text, raw };
}

/** A JSON path step that indexes an array (`->0`, `->-1`) rather than naming a key. */
export function isIndexStep(step: string): boolean {
  return /^-?\d{1,9}$/.test(step);
}

type DistributivePick<T, K extends keyof T> = T extends unknown ? Pick<T, K> : never;
type ParsedFilter = DistributivePick<TestNode, 'op' | 'negated' | 'value'>;

/**
 * Parses `[not.]<op>.<value>`. Inside PostgREST's string form (`quoted`),
 * a value may be double-quoted to hold commas and parentheses.
 */
export function parseFilter(text: string, path: Path, quoted = false): ParsedFilter {
  let rest = text;
  let negated = false;
  if (rest.startsWith('not.')) {
    negated = true;
    rest = rest.slice(4);
  }
  const dot = rest.indexOf('.');
  if (dot < 0) {
    if ((OPERATORS as readonly string[]).includes(rest)) {
      throw new ConditionError(path, `missing value after "${rest}."; ${FILTER_EXAMPLE}`);
    }
    const example = rest === '' ? 'eq.paid' : `eq.${rest}`;
    throw new ConditionError(path, `expected "<op>.<value>", e.g. "${example}", got "${text}"`);
  }
  const op = checkOperator(rest.slice(0, dot), path, text);
  let value = rest.slice(dot + 1);
  switch (op) {
    case 'is':
      return { op, negated, value: checkIsValue(value, path) };
    case 'in':
      return { op, negated, value: parseInList(value, path) };
    case 'like':
    case 'ilike':
      if (quoted) value = unquote(value, path);
      return { op, negated, value: likePattern(value, path) };
    default:
      return { op, negated, value: quoted ? unquote(value, path) : value };
  }
}

function checkOperator(op: string, path: Path, text: string): Operator {
  if ((OPERATORS as readonly string[]).includes(op)) return op as Operator;
  if (op === 'not')
    throw new ConditionError(path, '"not." can be written once, before the operator');
  if (UNSUPPORTED.includes(op)) {
    throw new ConditionError(
      path,
      `operator "${op}" is not supported; use one of ${OPERATORS.join(', ')}`,
    );
  }
  // Not a word: a bare value with a dot in it (email=ada@example.com),
  // which the example shows written after its operator.
  const bareValue = !/^[a-z_]+$/i.test(op);
  throw new ConditionError(
    path,
    `unknown operator "${op}"${didYouMean(op, OPERATORS)}; expected one of ${OPERATORS.join(', ')}${bareValue ? `; a value comes after its operator, e.g. "eq.${text}"` : ''}`,
  );
}

function checkIsValue(value: string, path: Path): IsValue {
  if ((IS_VALUES as readonly string[]).includes(value)) return value as IsValue;
  throw new ConditionError(
    path,
    `unknown value "is.${value}"${didYouMean(value, IS_VALUES, 'is.')}; expected is.null, is.not_null, is.true, is.false or is.unknown`,
  );
}

/**
 * A LIKE pattern in PostgreSQL's syntax: `%` any run, `_` one character,
 * `\` escapes the next character. PostgREST's `*` means `%`; `\*` is a star.
 */
function likePattern(value: string, path: Path): string {
  let pattern = '';
  for (let i = 0; i < value.length; i++) {
    const char = value[i]!;
    if (char === '\\') {
      const next = value[i + 1];
      if (next === undefined) {
        throw new ConditionError(
          path,
          'like pattern ends with a lone backslash; write \\\\ for a literal backslash',
        );
      }
      pattern += next === '*' ? '*' : char + next;
      i++;
    } else {
      pattern += char === '*' ? '%' : char;
    }
  }
  return pattern;
}

/** `"a \"b\", c"` → `a "b", c`; a value without surrounding quotes is kept as is. */
function unquote(value: string, path: Path): string {
  if (!value.startsWith('"')) return value;
  const { text, end } = readQuoted(value, 0, path);
  if (end !== value.length) {
    throw new ConditionError(path, `unexpected text after the closing quote in ${value}`);
  }
  return text;
}

/** Reads a double-quoted string starting at `start`; backslash escapes the next character. */
function readQuoted(source: string, start: number, path: Path): { text: string; end: number } {
  let text = '';
  for (let i = start + 1; i < source.length; i++) {
    const char = source[i]!;
    if (char === '"') return { text, end: i + 1 };
    if (char === '\\') {
      i++;
      if (i >= source.length) break;
      text += source[i];
    } else {
      text += char;
    }
  }
  throw new ConditionError(path, `unterminated quote in ${source}`);
}

/**
 * `(a, b,"c,d")` → `['a', 'b', 'c,d']`. Unquoted items are trimmed; quoted
 * items keep their spaces and may hold commas, parentheses and `\"`.
 */
export function parseInList(value: string, path: Path): string[] {
  if (!value.startsWith('(') || !value.endsWith(')')) {
    // `{ new.plan: in.(a,b) }`: YAML ends a value in { } at its first comma.
    const cut = value.startsWith('(') && !value.includes(')');
    throw new ConditionError(
      path,
      `expected a list in parentheses, e.g. "in.(a,b)", got "in.${value}"${cut ? '; inside { } a comma ends a value, so quote it: "in.(a,b)"' : ''}`,
    );
  }
  const inner = value.slice(1, -1);
  const items: string[] = [];
  if (inner.trim() === '') throw new ConditionError(path, 'in.() needs at least one value');
  let i = 0;
  while (i <= inner.length) {
    while (inner[i] === ' ') i++;
    if (inner[i] === '"') {
      const { text, end } = readQuoted(inner, i, path);
      items.push(text);
      i = end;
      while (inner[i] === ' ') i++;
      if (i < inner.length && inner[i] !== ',') {
        throw new ConditionError(
          path,
          `expected "," after the quoted item "${text}" in in.${value}`,
        );
      }
    } else {
      let end = inner.indexOf(',', i);
      if (end < 0) end = inner.length;
      const item = inner.slice(i, end).trim();
      if (item === '') {
        throw new ConditionError(path, `empty item in in.${value}; write "" for an empty string`);
      }
      if (item.includes('"')) {
        throw new ConditionError(path, `stray quote in item ${item} of in.${value}`);
      }
      // SQL's quotes are PostgREST's characters: in.('a') would never match a.
      if (item.length >= 2 && item.startsWith("'") && item.endsWith("'")) {
        throw new ConditionError(
          path,
          `item ${item} of in.${value} is in single quotes, which would be part of the value; write in.${value.replace(/'([^',()]*)'/g, '$1')}, or "${item}" to match the quotes too`,
        );
      }
      items.push(item);
      i = end;
    }
    i++; // past the comma (or the end)
  }
  return items;
}
