// Exact decimal numbers for the JavaScript side: literals compare with row
// values as PostgreSQL's numeric does, digit by digit, never through a
// binary float (0.1 + 0.2 style surprises would otherwise leak in).
import { JsonNumber } from '../db/json.js';

/**
 * A number as sign × digits × 10^exponent, digits without leading or
 * trailing zeros (zero has sign 0 and no digits), or one of numeric's
 * special values, which PostgreSQL orders -Infinity < numbers < Infinity < NaN.
 */
export type Decimal =
  | { kind: 'finite'; sign: -1 | 0 | 1; digits: string; exponent: number }
  | { kind: 'infinity'; sign: -1 | 1 }
  | { kind: 'nan' };

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,6}))?$/;

/** Parses `12`, `-0.5`, `.5`, `1e3`, `1.5E-7`; undefined for anything else. */
export function parseDecimal(text: string): Decimal | undefined {
  const match = DECIMAL.exec(text);
  if (!match) return undefined;
  const [, sign, whole = '', fraction = '', exponent = '0'] = match;
  if (whole === '' && fraction === '') return undefined;
  const all = (whole + fraction).replace(/^0+/, '');
  const digits = all.replace(/0+$/, '');
  if (digits === '') return { kind: 'finite', sign: 0, digits: '', exponent: 0 };
  return {
    kind: 'finite',
    sign: sign === '-' ? -1 : 1,
    digits,
    exponent: Number(exponent) - fraction.length + (all.length - digits.length),
  };
}

/**
 * A number as it arrives in a row: a JS number (from JSON.parse), a
 * JsonNumber (one a double cannot hold, kept as its text by db/json.ts), a
 * bigint, or a string (numeric's `NaN`/`Infinity`, which to_jsonb() writes
 * as strings, or a number a contact's attribute holds as text). A JS number
 * is read through its shortest round-trip form (`String(0.1)` is "0.1"), so a
 * numeric column holding 0.1 equals the literal 0.1 exactly.
 */
export function decimalFromRow(value: unknown): Decimal | undefined {
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return { kind: 'nan' };
    if (!Number.isFinite(value)) return { kind: 'infinity', sign: value > 0 ? 1 : -1 };
    return parseDecimal(String(value));
  }
  if (value instanceof JsonNumber) return parseDecimal(value.text);
  if (typeof value === 'bigint') return parseDecimal(String(value));
  if (typeof value !== 'string') return undefined;
  if (value === 'NaN') return { kind: 'nan' };
  if (value === 'Infinity' || value === '-Infinity') {
    return { kind: 'infinity', sign: value === 'Infinity' ? 1 : -1 };
  }
  return parseDecimal(value);
}

function rank(value: Decimal): number {
  if (value.kind === 'nan') return 2;
  if (value.kind === 'infinity') return value.sign;
  return 0;
}

/** Compares like PostgreSQL's numeric: negative, zero or positive. */
export function compareDecimal(a: Decimal, b: Decimal): number {
  if (a.kind !== 'finite' || b.kind !== 'finite') return Math.sign(rank(a) - rank(b));
  if (a.sign !== b.sign) return Math.sign(a.sign - b.sign);
  if (a.sign === 0) return 0;
  // Same sign: compare magnitudes by the position of the leading digit,
  // then digit by digit.
  const magnitudeA = a.digits.length + a.exponent;
  const magnitudeB = b.digits.length + b.exponent;
  let order: number;
  if (magnitudeA !== magnitudeB) {
    order = magnitudeA > magnitudeB ? 1 : -1;
  } else {
    const length = Math.max(a.digits.length, b.digits.length);
    const left = a.digits.padEnd(length, '0');
    const right = b.digits.padEnd(length, '0');
    order = left === right ? 0 : left > right ? 1 : -1;
  }
  return order === 0 ? 0 : order * a.sign;
}

/** Plain notation without an exponent, as PostgreSQL prints numeric: `0.0000001`, not `1e-7`. */
export function plainDecimal(value: Decimal): string {
  if (value.kind === 'nan') return 'NaN';
  if (value.kind === 'infinity') return value.sign > 0 ? 'Infinity' : '-Infinity';
  if (value.sign === 0) return '0';
  const { digits, exponent } = value;
  let text: string;
  if (exponent >= 0) {
    text = digits + '0'.repeat(exponent);
  } else {
    const point = digits.length + exponent;
    text =
      point > 0
        ? `${digits.slice(0, point)}.${digits.slice(point)}`
        : `0.${'0'.repeat(-point)}${digits}`;
  }
  return value.sign < 0 ? `-${text}` : text;
}

/** True when the number is a whole number that fits a bigint column. */
export function fitsBigint(value: Decimal): boolean {
  if (value.kind !== 'finite') return false;
  if (value.sign === 0) return true;
  if (value.exponent < 0 || value.digits.length + value.exponent > 19) return false;
  const whole = BigInt(plainDecimal(value));
  return whole >= -(2n ** 63n) && whole < 2n ** 63n;
}
