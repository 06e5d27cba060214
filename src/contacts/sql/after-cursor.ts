// The `after` cursor of contact queries (GET /v1/contacts, a list's members):
// the last row's value of every order key, the id last, so the next page
// starts strictly after that row in the same total order, whatever was
// written meanwhile (an offset shifts by the rows created before it). The
// cursor also carries a fingerprint of the order: one made for another order
// would compare other keys, so it is refused, as is one changed or cut (a
// checksum, not a signature: it guards against damage, not against a caller,
// who may read any contact with a filter anyway).
import { createHash } from 'node:crypto';
import { parseJson, stringifyJson } from '../../db/json.js';

/** One order key, as the ORDER BY of the page compares it. */
export interface CursorKey {
  /** The key over the row (contacts AS c), typed and collated as ORDER BY has it. */
  row: string;
  /** The same key over the cursor's value, typed alike. */
  cursor: string;
  descending: boolean;
  nullsLast: boolean;
}

/** `base64url(JSON [fingerprint, values]).checksum` */
export function encodeCursor(order: string, values: unknown[]): string {
  const payload = Buffer.from(stringifyJson([fingerprint(order), values])).toString('base64url');
  return `${payload}.${checksum(payload)}`;
}

/**
 * The values of a cursor made for `order`, as JSON text (big numbers kept
 * exact); a string saying what is wrong otherwise.
 */
export function decodeCursor(
  cursor: string,
  order: string,
  keys: number,
): { values: string } | string {
  const dot = cursor.lastIndexOf('.');
  const payload = cursor.slice(0, dot);
  if (dot < 0 || cursor.slice(dot + 1) !== checksum(payload)) {
    return `"${cursor}" is no cursor this API gave, or was changed or cut; pass the x-nudge-next header of the previous page as it came`;
  }
  const [made, values] = parseJson(Buffer.from(payload, 'base64url').toString()) as [
    string,
    unknown[],
  ];
  if (made !== fingerprint(order) || !Array.isArray(values) || values.length !== keys) {
    return `the cursor was made for another order than this one (${order}); send the order= of the page that gave it, or start again without after=`;
  }
  return { values: stringifyJson(values) };
}

/**
 * Rows strictly after the cursor in the order of `keys`: for some key i, the
 * keys before it equal the cursor's and key i comes after the cursor's. Nulls
 * sort where the key puts them (ASC: last, DESC: first, unless NULLS says);
 * a null cursor value is followed by the non-null values only when nulls come
 * first, and a non-null one by the nulls only when they come last.
 */
export function afterSql(keys: CursorKey[]): string {
  const equal = (key: CursorKey) => `(${key.row}) IS NOT DISTINCT FROM (${key.cursor})`;
  const later = (key: CursorKey) => {
    const beyond = `(${key.row}) ${key.descending ? '<' : '>'} (${key.cursor})`;
    return `(CASE WHEN (${key.cursor}) IS NULL THEN ${key.nullsLast ? 'FALSE' : `(${key.row}) IS NOT NULL`}
      ELSE coalesce(${beyond}, ${key.nullsLast ? `(${key.row}) IS NULL` : 'FALSE'}) END)`;
  };
  const branches = keys.map((key, i) => [...keys.slice(0, i).map(equal), later(key)].join(' AND '));
  return `(${branches.map((branch) => `(${branch})`).join(' OR ')})`;
}

function fingerprint(order: string): string {
  return createHash('sha256').update(order).digest('base64url').slice(0, 12);
}

function checksum(payload: string): string {
  return createHash('sha256')
    .update(`nudge contacts after\n${payload}`)
    .digest('base64url')
    .slice(0, 16);
}
