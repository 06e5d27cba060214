// JSON whose numbers stay exact: a row's bigint over 2^53 or numeric of more
// than 15 significant digits is not rounded to the nearest double on its way
// from PostgreSQL through the engine to a webhook, a template or the store.
//
// Such a number is read as a JsonNumber: its text as written, which
// stringifyJson writes back as the same digits, as a JSON number, and which
// the conditions compare as the exact decimal it is (conditions/decimal.ts).
// Every other number stays a JavaScript number, so code that reads rows sees
// what it always saw unless a row holds a number a double cannot.
//
// Cost: parseJson looks for a run of 16 digits (dots among them) before it
// parses, and only text that has one takes the slower exact parse; a number
// found there that a double holds exactly stays a number. stringifyJson is
// JSON.stringify plus a counter's compare unless a JsonNumber was written;
// then it writes the value again, each JsonNumber marked by a replacer.
// Every postgres.js client of a user's URL parses and serializes json and
// jsonb with these (jsonTypes, used by db/tls.ts postgresFor).
import type postgres from 'postgres';

/**
 * A JSON number a double cannot hold exactly (`9007199254740993`,
 * `12345678901234567.89`), kept as the text it was written in. String()
 * and templates give that text; arithmetic, as with any string of digits,
 * the nearest double.
 */
export class JsonNumber {
  constructor(readonly text: string) {}

  toString(): string {
    return this.text;
  }

  /**
   * The digits as a string: exact, where a JSON number would be rounded by
   * the reader of a plain JSON.stringify (a log line). stringifyJson counts
   * the calls to know whether a value held a JsonNumber.
   */
  toJSON(): string {
    seen++;
    return this.text;
  }
}

// The mark of a JsonNumber in text being parsed or written: a string no row
// holds (PostgreSQL text cannot hold U+0000, and the rest is this process's
// own random nonce).
// Web Crypto, not node:crypto: the dashboard reads API answers with this file too.
const MARK = `\u0000${[...globalThis.crypto.getRandomValues(new Uint8Array(6))]
  .map((byte) => byte.toString(16).padStart(2, '0'))
  .join('')}:`;
/** A JSON number, by JSON's own grammar: what may stand unquoted in JSON text. */
const NUMBER = '-?(?:0|[1-9]\\d*)(?:\\.\\d+)?(?:[eE][+-]?\\d+)?';
const IS_NUMBER = new RegExp(`^${NUMBER}$`);
const MARKED = new RegExp(`"\\\\u0000${MARK.slice(1)}(${NUMBER})"`, 'g');

/** JsonNumber.toJSON calls, ever: one during a JSON.stringify says it met a JsonNumber. */
let seen = 0;

/**
 * JSON.stringify, writing each JsonNumber as the JSON number it is.
 *
 * The mark never leaves this function: only markNumbers makes it, and only
 * this call's JSON.stringify sees what it returns. A toJSON inside the value
 * that writes JSON itself (JSON.stringify, stringifyJson, a logger) gets the
 * digits as any JSON.stringify writes them, as a string. A value holding a
 * JsonNumber is written twice, so its getters and toJSON methods run twice.
 */
export function stringifyJson(value: unknown, space?: number): string {
  const before = seen;
  const text = JSON.stringify(value, null, space);
  if (seen === before) return text;
  return JSON.stringify(value, markNumbers, space).replace(MARKED, '$1');
}

/**
 * The replacer that marks a JsonNumber held in an object or array: its
 * holder still has it (JSON.stringify passes its toJSON's string). Text that
 * is no JSON number (`new JsonNumber('NaN')`) stays that string.
 */
function markNumbers(this: unknown, key: string, value: unknown): unknown {
  const held = (this as Record<string, unknown>)[key];
  return held instanceof JsonNumber && IS_NUMBER.test(held.text) ? MARK + held.text : value;
}

/**
 * What a number a double may not hold looks like: a run of 16 digits (a
 * point allowed among them), or an exponent of three digits (`1e400`, which
 * JSON.parse makes Infinity, `1e-400`, which it makes 0).
 */
const MAY_BE_INEXACT = /\d[\d.]{15}|[eE][+-]?\d{3}/;
/**
 * A JSON string or number token, numbers by JSON's own grammar (no leading
 * zero: `012` stays the error it is). In valid JSON, digits appear outside
 * strings only in numbers.
 */
const TOKENS = new RegExp(`"(?:[^"\\\\]|\\\\.)*"|${NUMBER}`, 'g');

/** JSON.parse, reading each number a double cannot hold exactly as a JsonNumber. */
export function parseJson(text: string): unknown {
  return parseKeeping(text, (digits) => new JsonNumber(digits));
}

/**
 * JSON.parse, reading each number a double cannot hold exactly as a string
 * of its digits: how the typed client and the dashboard read the API's
 * answers, which write such numbers as JSON numbers (server/json-answers.ts).
 * Code that shows or compares them gets the exact digits; a browser has no
 * JsonNumber to render.
 */
export function parseJsonDigits(text: string): unknown {
  return parseKeeping(text, (digits) => digits);
}

/** JSON.parse, each number a double cannot hold exactly given to `keep` as its text. */
function parseKeeping(text: string, keep: (digits: string) => unknown): unknown {
  if (!MAY_BE_INEXACT.test(text)) return JSON.parse(text);
  let kept = false;
  const marked = text.replace(TOKENS, (token) => {
    if (token.charCodeAt(0) === 34 /* " */ || isExact(token)) return token;
    kept = true;
    return `"\\u0000${MARK.slice(1)}${token}"`;
  });
  if (!kept) return JSON.parse(text);
  try {
    return JSON.parse(marked, (_key, value) =>
      typeof value === 'string' && value.startsWith(MARK) ? keep(value.slice(MARK.length)) : value,
    );
  } catch {
    // Not JSON: JSON.parse's own error, its position in the text as given.
    return JSON.parse(text);
  }
}

/**
 * A number written as text (a JSON number token, or the text form of a
 * PostgreSQL number: `9007199254740993`, `1.5`): a JavaScript number when
 * a double holds it exactly, else a JsonNumber. `NaN` and `Infinity` are
 * not JSON numbers; callers keep them as strings, as to_json does.
 */
export function jsonNumber(text: string): number | JsonNumber {
  return isExact(text) ? Number(text) : new JsonNumber(text);
}

/** Whether Number(token) is the same decimal as the token (15 digits or fewer always are, in range). */
function isExact(token: string): boolean {
  if (token.length < 16 && !token.includes('e') && !token.includes('E')) return true;
  const number = Number(token);
  return Number.isFinite(number) && canonical(String(number)) === canonical(token);
}

const NUMBER_PARTS = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** `1.50`, `15e-1` and `0.15E1` all as `15e1`: the digits and the leading digit's place. */
function canonical(token: string): string {
  const parts = NUMBER_PARTS.exec(token);
  if (!parts) return token;
  const [, sign, whole = '', fraction = '', exponent = '0'] = parts;
  const all = whole + fraction;
  const lead = all.search(/[1-9]/);
  if (lead < 0) return '0';
  const digits = all.slice(lead).replace(/0+$/, '');
  return `${sign === '-' ? '-' : ''}${digits}e${Number(exponent) + whole.length - lead}`;
}

/**
 * postgres.js's type for json and jsonb, exact both ways: the `types` every
 * client of Nudge's gets (it replaces postgres.js's own `json`, which
 * parses with JSON.parse and serializes with JSON.stringify).
 */
export const jsonTypes = {
  json: {
    to: 114,
    from: [114, 3802],
    serialize: (value: unknown) => stringifyJson(value),
    parse: (text: string) => parseJson(text),
  },
} satisfies Record<string, postgres.PostgresType>;
