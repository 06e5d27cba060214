// Keyset paging for the dashboard's lists (decisions, actions, ingest
// records, mailbox, and a contact's timeline): newest first, `before=<cursor>`
// for the next page, `limit` capped. A list reads one row more than it shows
// (`limit` + 1) and pageOf cuts it: `next` — the cursor to pass as `before`,
// the id of the page's last row — is given only when that extra row shows
// something older is there, so "Older" never opens an empty page. The ids
// are bigints, read `::float8` to come as a number: exact to 2^53 (and
// `before` goes no further), where `::int` failed past 2^31 — an inbox fed
// 100 events a second passes it in eight months.
import { outOfRange } from '../../contacts/query.js';
import { HttpError } from '../http-error.js';

export const MAX_LIMIT = 200;

/**
 * A whole-number query parameter, or undefined when it is absent; 400 naming
 * it otherwise — also past 2^53 - 1, which no id reaches and which would
 * reach the database as a number it cannot compare with a bigint (a 500).
 * With a `range`, any value outside it is refused with the range
 * (contacts/query.ts outOfRange).
 */
export function wholeNumber(
  text: string | undefined,
  name: string,
  range?: { min: number; max: number },
): number | undefined {
  if (text === undefined || text === '') return undefined;
  const problem = range
    ? outOfRange(text, range.min, range.max)
    : !/^\d+$/.test(text)
      ? `expected a whole number, got "${text}"`
      : !Number.isSafeInteger(Number(text))
        ? `expected a whole number up to ${Number.MAX_SAFE_INTEGER}, got "${text}"`
        : undefined;
  if (problem) throw new HttpError(400, 'bad_query', `${name}: ${problem}`);
  return Number(text);
}

/** `limit`, 1 to MAX_LIMIT, `fallback` when absent. */
export function limitOf(text: string | undefined, fallback: number): number {
  return wholeNumber(text, 'limit', { min: 1, max: MAX_LIMIT }) ?? fallback;
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
