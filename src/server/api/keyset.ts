// Keyset paging for the dashboard's lists (decisions, actions, ingest
// records, mailbox, and a contact's timeline): newest first, `before=<cursor>`
// for the next page, `limit` capped. A list reads one row more than it shows
// (`limit` + 1) and pageOf cuts it: `next` — the cursor to pass as `before`,
// the id of the page's last row — is given only when that extra row shows
// something older is there, so "Older" never opens an empty page.
import { HttpError } from '../http-error.js';

export const MAX_LIMIT = 200;

/**
 * A whole-number query parameter, or undefined when it is absent; 400 naming
 * it otherwise — also past 2^53 - 1, which no id reaches and which would
 * reach the database as a number it cannot compare with a bigint (a 500).
 */
export function wholeNumber(text: string | undefined, name: string): number | undefined {
  if (text === undefined || text === '') return undefined;
  if (!/^\d+$/.test(text))
    throw new HttpError(400, 'bad_query', `${name}: expected a whole number, got "${text}"`);
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new HttpError(
      400,
      'bad_query',
      `${name}: expected a whole number up to ${Number.MAX_SAFE_INTEGER}, got "${text}"`,
    );
  }
  return value;
}

/**
 * `limit`, 1 to MAX_LIMIT, `fallback` when absent. Any other value is
 * refused with the range, whatever is wrong with it: -1 is a whole number,
 * so "expected a whole number" would not say what to send.
 */
export function limitOf(text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const limit = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(limit >= 1 && limit <= MAX_LIMIT)) {
    throw new HttpError(
      400,
      'bad_query',
      `limit: expected a whole number from 1 to ${MAX_LIMIT}, got "${text}"`,
    );
  }
  return limit;
}

/** A page of a list and the cursor of the one after it (null on the last). */
export interface KeysetPage<Row> {
  page: Row[];
  next: string | null;
}

/**
 * The page out of the up to `limit` + 1 rows a list read, newest first: the
 * first `limit`, and `next` — the cursor of the page's last row (its id,
 * unless `cursorOf` says otherwise) — only when a row is left over.
 */
export function pageOf<Row extends { id: number }>(rows: Row[], limit: number): KeysetPage<Row>;
export function pageOf<Row>(
  rows: Row[],
  limit: number,
  cursorOf: (last: Row) => string,
): KeysetPage<Row>;
export function pageOf<Row>(
  rows: Row[],
  limit: number,
  cursorOf = (last: Row) => String((last as { id: number }).id),
): KeysetPage<Row> {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { page, next: rows.length > limit && last !== undefined ? cursorOf(last) : null };
}
