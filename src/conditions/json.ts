// jsonb as the JavaScript side sees it: following `->`/`->>` paths, jsonb
// equality, and the text PostgreSQL prints for a jsonb value (what `->>` and
// `#>> '{}'` return), so JS and SQL compare the same strings.
import { JsonNumber } from '../db/json.js';
import { compareDecimal, decimalFromRow, plainDecimal } from './decimal.js';
import { isIndexStep } from './filter.js';

/**
 * Follows a JSON path. `undefined` is SQL NULL (a missing key, an index past
 * the end, a key looked up in an array or scalar); JSON `null` stays a
 * value, as it does for `->` in PostgreSQL. Integer steps index arrays
 * (negative from the end) and find nothing in objects. PostgreSQL stores a
 * lone scalar as a one-element array, so `scalar -> 0` and `scalar -> -1`
 * return the scalar itself (measured on PostgreSQL 17: '5'::jsonb -> -1 = 5).
 */
export function followPath(value: unknown, steps: readonly string[]): unknown {
  let current = value;
  for (const step of steps) {
    if (current === undefined) return undefined;
    // A JsonNumber is a scalar: a number, kept as its text.
    const container =
      typeof current === 'object' && current !== null && !(current instanceof JsonNumber);
    if (isIndexStep(step)) {
      const position = Number(step);
      if (Array.isArray(current)) {
        const index = position < 0 ? current.length + position : position;
        current = index >= 0 && index < current.length ? current[index] : undefined;
      } else if (container || (position !== 0 && position !== -1)) {
        return undefined;
      }
    } else {
      if (!container || Array.isArray(current)) return undefined;
      const object = current as Record<string, unknown>;
      if (!Object.hasOwn(object, step)) return undefined;
      current = object[step];
    }
  }
  return current;
}

/**
 * The text of a JSON value as `->>` returns it: strings as themselves, JSON
 * null as SQL NULL (undefined), numbers in numeric's plain notation,
 * containers in jsonb's output format.
 */
export function jsonText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  return jsonbOutput(value);
}

/**
 * jsonb's output format: `{"a": 1, "b": [1, 2]}`, with ", " and ": " and
 * object keys in jsonb's storage order (shorter keys first, then bytewise).
 */
export function jsonbOutput(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'boolean') return String(value);
  // A long number as PostgreSQL wrote it (plain, its scale kept: `->>` of
  // 12345678901234567.50 is that text); any other spelling made plain.
  if (value instanceof JsonNumber && /^-?\d+(\.\d+)?$/.test(value.text)) return value.text;
  if (typeof value === 'number' || typeof value === 'bigint' || value instanceof JsonNumber) {
    const decimal = decimalFromRow(value);
    if (!decimal) throw new Error(`cannot print ${String(value)} as a JSON number`);
    return plainDecimal(decimal);
  }
  if (Array.isArray(value)) return `[${value.map(jsonbOutput).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      compareJsonbKeys(a, b),
    );
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}: ${jsonbOutput(item)}`).join(', ')}}`;
  }
  throw new Error(`not a JSON value: ${String(value)}`);
}

function compareJsonbKeys(a: string, b: string): number {
  const lengthA = Buffer.byteLength(a);
  const lengthB = Buffer.byteLength(b);
  if (lengthA !== lengthB) return lengthA - lengthB;
  return compareCodePoints(a, b);
}

/**
 * Orders strings by code point, which is UTF-8 byte order and so COLLATE "C".
 * JS's `<` compares UTF-16 units, which puts U+FF5E above U+1F600; moving
 * surrogates above the rest of the BMP fixes that.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixup(x) - fixup(y);
  }
  return a.length - b.length;
}

function fixup(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/**
 * jsonb equality: numbers by value (1 = 1.0, and exactly: a JsonNumber is
 * the decimal it was written as), objects by their set of keys, arrays in
 * order, and a scalar never equals an array.
 */
export function jsonbEquals(a: unknown, b: unknown): boolean {
  if (isJsonNumber(a) && isJsonNumber(b)) {
    return compareDecimal(decimalFromRow(a)!, decimalFromRow(b)!) === 0;
  }
  if (a instanceof JsonNumber || b instanceof JsonNumber) return false;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, index) => jsonbEquals(item, b[index]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  return keys.every((key) => Object.hasOwn(right, key) && jsonbEquals(left[key], right[key]));
}

function isJsonNumber(value: unknown): value is number | JsonNumber {
  return typeof value === 'number' || value instanceof JsonNumber;
}
