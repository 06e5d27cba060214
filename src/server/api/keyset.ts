// Keyset paging for the dashboard's lists (decisions, actions, mailbox):
// newest first by id, `before=<id>` for the next page, `limit` capped, and
// `next` — the cursor to pass as `before` — while a page comes back full.
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

/** `limit`, 1 to MAX_LIMIT, `fallback` when absent. */
export function limitOf(text: string | undefined, fallback: number): number {
  const limit = wholeNumber(text, 'limit') ?? fallback;
  if (limit < 1 || limit > MAX_LIMIT)
    throw new HttpError(400, 'bad_query', `limit: expected 1 to ${MAX_LIMIT}, got ${limit}`);
  return limit;
}

/** The cursor of the next page: the last id of a full page, null after the last. */
export function nextCursor(rows: { id: number }[], limit: number): string | null {
  return rows.length === limit ? String(rows.at(-1)!.id) : null;
}
