// Values as the mappings read them: times normalised to ISO 8601 UTC, values
// converted to the attribute types declared in contacts.attributes, and the
// short descriptions skip reasons quote. Pure; used by ../mapping.ts.
import { JsonNumber } from '../../db/json.js';
import type { AttributeType } from '../mapping.js';

export type Conversion<T> = { ok: true; value: T } | { ok: false; reason: string };

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INTEGER = /^[+-]?\d+$/;
const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const HAS_OFFSET = /(Z|[+-]\d\d(:?\d\d)?)$/i;

/**
 * A time as ISO 8601 UTC (`2024-01-31T12:00:00.123Z`): a Date, or text with or
 * without an offset (none means UTC, as conditions read it). null stays null;
 * undefined means the value is not a time.
 */
export function toTimestamp(value: unknown): string | null | undefined {
  if (value === null || value === undefined) return null;
  let date: Date;
  if (value instanceof Date) date = value;
  else if (typeof value === 'string') {
    // PostgreSQL's text form (`2024-01-02 03:04:05.123456+02`) as ISO 8601.
    const text = value
      .trim()
      .replace(' ', 'T')
      .replace(
        /(T[\d:.]+[+-]\d\d)(\d\d)?$/,
        (_, hours: string, m?: string) => `${hours}:${m ?? '00'}`,
      );
    if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined;
    date = new Date(text.length > 10 && !HAS_OFFSET.test(text) ? `${text}Z` : text);
  } else return undefined;
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** A value as the attribute's declared type (contacts.attributes), or why it is not one. */
export function convertValue(
  value: unknown,
  type: AttributeType | undefined,
  source: string,
): Conversion<unknown> {
  if (value === null || value === undefined) return ok(null);
  if (value instanceof Date) value = value.toISOString();
  // A number a double cannot hold (db/json.ts), read as its digits are.
  if (value instanceof JsonNumber && type !== undefined && type !== 'jsonb') value = value.text;
  const bad = () => fail(`${source} ${describe(value)} is not ${article(type ?? '')} ${type}`);
  switch (type) {
    case undefined:
    case 'jsonb':
      return ok(value);
    case 'text':
      return ok(typeof value === 'object' ? JSON.stringify(value) : String(value));
    case 'integer': {
      if (typeof value === 'number') return Number.isInteger(value) ? ok(value) : bad();
      if (typeof value === 'string' && INTEGER.test(value.trim())) {
        const n = Number(value);
        return Number.isSafeInteger(n) ? ok(n) : ok(value.trim());
      }
      return bad();
    }
    case 'numeric': {
      if (typeof value === 'number') return Number.isFinite(value) ? ok(value) : bad();
      if (typeof value === 'string' && NUMERIC.test(value.trim())) {
        const n = Number(value);
        return String(n) === value.trim() ? ok(n) : ok(value.trim());
      }
      return bad();
    }
    case 'boolean': {
      if (typeof value === 'boolean') return ok(value);
      const text = String(value).trim().toLowerCase();
      if (['true', 't', 'yes', '1'].includes(text)) return ok(true);
      if (['false', 'f', 'no', '0'].includes(text)) return ok(false);
      return bad();
    }
    case 'timestamptz': {
      const time = toTimestamp(value);
      return time ? ok(time) : bad();
    }
    case 'date': {
      if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value.trim())) {
        return Number.isNaN(Date.parse(value)) ? bad() : ok(value.trim());
      }
      const time = toTimestamp(value);
      return time ? ok(time.slice(0, 10)) : bad();
    }
    case 'uuid':
      return typeof value === 'string' && UUID.test(value) ? ok(value.toLowerCase()) : bad();
  }
}

export function ok<T>(value: T): Conversion<T> {
  return { ok: true, value };
}

export function fail(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

/** `a string`, `an array`, `a number`: what a JSON value is. */
export function kindOf(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `${article(typeof value)} ${typeof value}`;
}

/** A short, safe description of a value for skip reasons (long text is cut). */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  // PostgreSQL's infinity, or a year beyond ±275760, parses to an invalid Date.
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? 'an infinite or out-of-range time' : value.toISOString();
  }
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  }
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
