// Typed values shared by both compilers: which operators a field's type
// allows, what a literal means for that type (checked once, with the same
// message whichever compiler runs), and how the JavaScript side reads and
// orders row values so that it agrees with PostgreSQL.
//
// Type handling, per kind of field:
// - text: code-point order (SQL uses COLLATE "C"); like/ilike allowed.
// - unknown (enums, arrays, intervals, ...): compared as the text of the
//   value's JSON form, `to_jsonb(col) #>> '{}'` in SQL, which is exactly what
//   the JavaScript side receives; equality and like only, since e.g. an
//   enum's order is not its text's order.
// - integer/numeric: exact decimals (decimal.ts). Literals are checked as
//   numbers; whole literals bind as bigint for integer columns (so indexes
//   apply), anything else as numeric (`intcol > 1.5` stays exact).
// - boolean: true/false literals only; false < true.
// - timestamptz/timestamp/date: BigInt microseconds (time.ts); literals are
//   ISO 8601 or `now()±N<unit>`; literals without an offset are UTC.
// - uuid: canonical lowercase text, whose order is uuid's byte order.
// - jsonb (a json/jsonb column, or a `->` path): literals are JSON, compared
//   with jsonb equality; no ordering, no like. `->>` paths are text.
import { JsonNumber, parseJson } from '../db/json.js';
import { ConditionError, type TestNode } from './ast.js';
import {
  compareDecimal,
  type Decimal,
  decimalFromRow,
  fitsBigint,
  parseDecimal,
  plainDecimal,
} from './decimal.js';
import { compareCodePoints, jsonbEquals, jsonText } from './json.js';
import { attributeTime, formatTime, parseRelative, parseTime, yearOf } from './time.js';
import type { ValueType } from './types.js';

export type Kind = 'text' | 'number' | 'boolean' | 'time' | 'uuid' | 'json';

/**
 * What the JS side compares, by kind: a string (text, uuid), a Decimal
 * (number), a boolean, a bigint of microseconds (time), a JSON value (json).
 */
export type Comparable = unknown;

/** A literal typed for its field: what SQL binds, and what JavaScript compares. */
export interface Literal {
  kind: 'literal';
  paramType: ValueType;
  paramValue: string | boolean;
  js: Comparable;
}

/** `now()`, `now()-7d`: resolved against the shared clock at evaluation. */
export interface RelativeTime {
  kind: 'relative';
  offsetSeconds: number;
}

export type Operand = Literal | RelativeTime;

export interface TestPlan {
  test: TestNode;
  /** The column's type, before any JSON path. */
  columnType: ValueType;
  /** The type compared: the column's, or text/jsonb at the end of a JSON path. */
  type: ValueType;
  kind: Kind;
  operands: Operand[];
}

const KINDS: Record<ValueType, Kind> = {
  text: 'text',
  unknown: 'text',
  integer: 'number',
  numeric: 'number',
  boolean: 'boolean',
  timestamptz: 'time',
  timestamp: 'time',
  date: 'time',
  uuid: 'uuid',
  jsonb: 'json',
};

/** Checks a test against its column's type and types its literals. Throws ConditionError. */
export function planTest(test: TestNode, columnType: ValueType): TestPlan {
  const fail = (message: string): never => {
    throw new ConditionError(test.path, message);
  };
  const { field } = test;
  let type = columnType;
  if (field.jsonPath.length > 0) {
    if (columnType !== 'jsonb' && columnType !== 'unknown') {
      fail(
        `${field.scope}.${field.column} is ${columnType}; -> and ->> need a json or jsonb column`,
      );
    }
    type = field.text ? 'text' : 'jsonb';
  }
  const kind = KINDS[type];
  const plan: TestPlan = { test, columnType, type, kind, operands: [] };
  const op = test.op;
  if (op === 'is') {
    if (test.value !== 'null' && test.value !== 'not_null' && kind !== 'boolean') {
      fail(`is.${test.value} needs a boolean field; ${field.raw} is ${type}`);
    }
    return plan;
  }
  if (op === 'like' || op === 'ilike') {
    if (kind !== 'text') {
      fail(
        `${op} needs a text field; ${field.raw} is ${type}${type === 'jsonb' ? ' (use ->> for text)' : ''}`,
      );
    }
  } else if (op !== 'eq' && op !== 'neq' && op !== 'in') {
    if (kind === 'json')
      fail(`${op} cannot order jsonb values (${field.raw}); use ->> to compare text`);
    if (type === 'unknown') {
      fail(
        `${op} cannot order ${field.raw}: its type compares only with eq, neq, in, like, ilike and is`,
      );
    }
  }
  const values = op === 'in' ? test.value : [test.value];
  plan.operands = values.map((text) => operand(text, type, field.raw, fail));
  return plan;
}

function operand(
  text: string,
  type: ValueType,
  raw: string,
  fail: (message: string) => never,
): Operand {
  const got = `got ${JSON.stringify(text)}`;
  switch (type) {
    case 'text':
    case 'unknown':
      if (text.includes('\0')) fail(`text values cannot contain NUL characters (${raw})`);
      return { kind: 'literal', paramType: 'text', paramValue: text, js: text };
    case 'integer':
    case 'numeric': {
      const decimal = parseDecimal(text);
      if (!decimal) return fail(`expected a number for ${raw}, ${got}`);
      if (decimal.kind === 'finite' && Math.abs(decimal.digits.length + decimal.exponent) > 1000) {
        fail(`number out of range for ${raw}, ${got}`);
      }
      const paramType = type === 'integer' && fitsBigint(decimal) ? 'integer' : 'numeric';
      return { kind: 'literal', paramType, paramValue: plainDecimal(decimal), js: decimal };
    }
    case 'boolean':
      if (text !== 'true' && text !== 'false') fail(`expected true or false for ${raw}, ${got}`);
      return {
        kind: 'literal',
        paramType: 'boolean',
        paramValue: text === 'true',
        js: text === 'true',
      };
    case 'timestamptz':
    case 'timestamp':
    case 'date': {
      const relative = parseRelative(text);
      if (relative === 'too far') fail(`now() offsets are limited to 36500d, ${got}`);
      if (relative !== undefined)
        return { kind: 'relative', offsetSeconds: relative.offsetSeconds };
      const parsed = parseTime(text, true);
      const expected =
        type === 'date'
          ? `expected a date (2024-01-31) or now()-7d for ${raw}, ${got}`
          : `expected an ISO 8601 timestamp (2024-01-31T12:00:00Z) or now()-7d for ${raw}, ${got}`;
      if (!parsed || (type === 'date' && (parsed.hasTime || parsed.hasOffset)))
        return fail(expected);
      const year = yearOf(parsed.micros);
      if (year < 1 || year > 9999) fail(`timestamp out of range for ${raw}, ${got}`);
      return {
        kind: 'literal',
        paramType: type,
        paramValue: formatTime(parsed.micros, type),
        js: parsed.micros,
      };
    }
    case 'uuid': {
      const hex =
        /^\{?([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})\}?$/i.exec(
          text,
        );
      if (!hex) return fail(`expected a UUID for ${raw}, ${got}`);
      const canonical = hex.slice(1).join('-').toLowerCase();
      return { kind: 'literal', paramType: 'uuid', paramValue: canonical, js: canonical };
    }
    case 'jsonb': {
      let parsed: unknown;
      try {
        parsed = parseJson(text); // its numbers exact, as the jsonb SQL binds
      } catch {
        return fail(
          `expected JSON for ${raw}, ${got} (write strings as "\\"pro\\"", or use ->> to compare text)`,
        );
      }
      if (text.includes('\\u0000')) fail(`JSON values cannot contain NUL characters (${raw})`);
      return { kind: 'literal', paramType: 'jsonb', paramValue: text.trim(), js: parsed };
    }
  }
}

/**
 * Reads a row value (as to_jsonb() + JSON.parse left it; undefined is SQL
 * NULL) for comparison. A value of the wrong shape means the type resolver
 * and the row disagree, a bug in the caller, so it throws a plain Error.
 */
export function rowValue(plan: TestPlan, value: unknown): Comparable | undefined {
  if (value === undefined) return undefined;
  const wrong = (expected: string): never => {
    throw new Error(
      `${plan.test.field.raw}: expected ${expected} in the row, got ${JSON.stringify(value)}`,
    );
  };
  switch (plan.kind) {
    case 'text':
      return jsonText(value);
    case 'json':
      return value;
    case 'number':
      return decimalFromRow(value) ?? wrong('a number');
    case 'boolean':
      return typeof value === 'boolean' ? value : wrong('a boolean');
    case 'uuid':
      return typeof value === 'string' ? value.toLowerCase() : wrong('a UUID string');
    case 'time': {
      const parsed = typeof value === 'string' ? parseTime(value, false) : undefined;
      return parsed ? parsed.micros : wrong('an ISO 8601 timestamp or date');
    }
  }
}

const ATTRIBUTE_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,4})?$/;
const ATTRIBUTE_UUID =
  /^\{?([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})\}?$/i;

/**
 * Reads a value that JSON holds whatever its declared type (a contact's
 * attribute) the way the SQL side's nudge_engine.attribute_<type>()
 * functions read it: a value not of the type is NULL, not an error; numbers
 * may be written as strings ("100") and are plain text compared as text
 * (90.0 is "90"); a date written with a time of day is
 * that day. A time is ISO 8601 only (attributeTime): the forms PostgreSQL's
 * own input also takes (`May 1 2024`, `yesterday`) are NULL on both sides.
 */
export function attributeValue(plan: TestPlan, value: unknown): Comparable | undefined {
  if (value === undefined || value === null) return undefined;
  switch (plan.kind) {
    case 'text':
      // A number as its value written plainly (90.0 is "90"), as
      // nudge_engine.attribute_text reads it: the row's JSON keeps no spelling.
      if (typeof value === 'number' || value instanceof JsonNumber) {
        const decimal = decimalFromRow(value);
        if (decimal) return plainDecimal(decimal);
      }
      return rowValue(plan, value);
    case 'json':
      return rowValue(plan, value);
    case 'number':
      if (typeof value === 'string' && !ATTRIBUTE_NUMBER.test(value)) {
        return ['NaN', 'Infinity', '-Infinity'].includes(value) ? decimalFromRow(value) : undefined;
      }
      return typeof value === 'number' || typeof value === 'string' || value instanceof JsonNumber
        ? decimalFromRow(value)
        : undefined;
    case 'boolean':
      return typeof value === 'boolean' ? value : undefined;
    case 'uuid': {
      const hex = typeof value === 'string' ? ATTRIBUTE_UUID.exec(value) : null;
      return hex ? hex.slice(1).join('-').toLowerCase() : undefined;
    }
    case 'time':
      return typeof value === 'string'
        ? attributeTime(value, plan.type === 'date' ? 'date' : 'timestamptz')
        : undefined;
  }
}

/** Orders two comparables of one kind (never called for json). */
export function compareValues(kind: Kind, a: Comparable, b: Comparable): number {
  switch (kind) {
    case 'number':
      return compareDecimal(a as Decimal, b as Decimal);
    case 'boolean':
      return Number(a) - Number(b);
    case 'time':
      return (a as bigint) < (b as bigint) ? -1 : (a as bigint) > (b as bigint) ? 1 : 0;
    case 'json':
      throw new Error('jsonb values have no order here');
    default:
      return compareCodePoints(a as string, b as string);
  }
}

export function equalValues(kind: Kind, a: Comparable, b: Comparable): boolean {
  if (kind === 'json') return jsonbEquals(a, b);
  if (kind === 'text' || kind === 'uuid') return a === b;
  return compareValues(kind, a, b) === 0;
}

const NUMBER_LITERAL = /^-?\d+(\.\d+)?$/;
const TIME_LITERAL = /^\d{4}-\d{2}-\d{2}T|^now\(\)/;

/**
 * The type a test's literal suggests (`gt.100` → numeric), undefined when it
 * says none (`is.null`): how event properties are typed, and the type the
 * hints to declare an attribute name.
 */
export function suggestedType(test: TestNode): ValueType | undefined {
  const sample = test.op === 'in' ? test.value[0] : test.value;
  if (test.op === 'is') return sample === 'true' || sample === 'false' ? 'boolean' : undefined;
  if (test.op === 'like' || test.op === 'ilike' || sample === undefined) return 'text';
  if (NUMBER_LITERAL.test(sample)) return 'numeric';
  if (TIME_LITERAL.test(sample)) return 'timestamptz';
  if (sample === 'true' || sample === 'false') return 'boolean';
  return 'text';
}
