// A full users sync inside the database, when the engine store is the source
// database itself (the default: schema nudge_engine next to auth): each page
// of auth.users becomes contacts in one INSERT ... SELECT, so the rows never
// travel to this process and back as JSON. The user mapping is translated to
// SQL expressions that give exactly what mapping.ts's userToContact gives;
// a mapping it cannot translate exactly (a declared attribute type it would
// have to convert, a column of another type) keeps the path through
// JavaScript. Rows the SQL cannot vouch for (metadata that is not an object,
// an email with characters beyond printable ASCII, a time outside years
// 1000-9999) are read and converted by userToContact as before, with its
// skip reasons; a page that hits a conflict (an email another contact holds)
// is redone through JavaScript, where writeUsers settles whose address it is
// (addresses.ts) and finds any row the store still refuses.
import type postgres from 'postgres';
import { ident, literal } from '../../db/quote.js';
import { EMPTY_IS_NULL, isUserTimeColumn, type MappedField, type UserMapping } from '../mapping.js';
import { type UsersUpserted, upsertUserRows } from '../store.js';

/** SQL over `auth.users u` that maps a user as userToContact does. */
export interface UserMappingSql {
  /** True when the SQL below gives what userToContact gives for the row; never null. */
  clean: string;
  email: string;
  phone: string;
  attributes: string;
  deletedAt: string;
}

/** auth.users columns of type text whose value maps as it is (or "" as null). */
const TEXT_COLUMNS: ReadonlySet<string> = new Set([
  'email',
  'phone',
  'aud',
  'role',
  'email_change',
  'phone_change',
]);

/** The years JavaScript's toISOString and to_char agree on, digit for digit. */
const timeInRange = (column: string) =>
  `(${column} is null or (${column} >= '1000-01-01 00:00:00+00' and ${column} < '9999-01-01 00:00:00+00'))`;
const isoTime = (column: string) =>
  `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The mapping as SQL, or null when some part of it has no exact SQL
 * counterpart (the sync then goes through JavaScript, as from another
 * database). `available` lists the columns auth.users has.
 */
export function userMappingSql(mapping: UserMapping, available?: string[]): UserMappingSql | null {
  const has = (column: string) => !available || available.includes(column);
  const clean = new Set<string>();
  const value = (field: MappedField): string | null => {
    if (!has(field.column) || [field.target, ...field.path].some((t) => t.includes('\0'))) {
      return null;
    }
    const column = `u.${ident(field.column)}`;
    const type = mapping.types[field.target];
    if (field.path.length > 0) {
      if (type !== undefined && type !== 'jsonb') return null;
      // userToContact skips a user whose metadata is an array or a scalar.
      clean.add(`(${column} is null or jsonb_typeof(${column}) in ('object', 'null'))`);
      // Each step looks into an object only (an array's elements are no keys).
      let expression = column;
      for (const step of field.path) {
        const inner = expression;
        expression = `case when jsonb_typeof(${inner}) = 'object' then ${inner} -> ${literal(step)} end`;
      }
      return expression;
    }
    if (isUserTimeColumn(field.column)) {
      if (type !== undefined && type !== 'jsonb' && type !== 'timestamptz') return null;
      clean.add(timeInRange(column));
      return `to_jsonb(${isoTime(column)})`;
    }
    if (TEXT_COLUMNS.has(field.column)) {
      if (type !== undefined && type !== 'jsonb' && type !== 'text') return null;
      return `to_jsonb(${EMPTY_IS_NULL.has(field.column) ? `nullif(${column}, '')` : column})`;
    }
    return null;
  };
  const plain = (field: MappedField, column: string) =>
    field.column === column && field.path.length === 0 && has(column);
  if (!plain(mapping.email, 'email') || !plain(mapping.phone, 'phone')) return null;
  // JavaScript trims Unicode spaces and lower-cases any script; PostgreSQL's
  // btrim and lower (under C) agree with it on printable ASCII.
  clean.add(`(u.email is null or u.email ~ '^[ -~]*$')`);
  // jsonb_build_object takes at most 100 arguments: 50 attributes a call.
  const pairs: string[] = [];
  for (const field of mapping.read) {
    if (field === mapping.email || field === mapping.phone) continue;
    const expression = value(field);
    if (expression === null) return null;
    pairs.push(`${literal(field.target)}, ${expression}`);
  }
  let deletedAt = 'null::timestamptz';
  if (has('deleted_at')) {
    clean.add(timeInRange('u.deleted_at'));
    // userToContact keeps milliseconds, as a JavaScript Date does.
    deletedAt = `date_trunc('milliseconds', u.deleted_at)`;
  }
  return {
    clean: `coalesce(${[...clean].join(' and ')}, false)`,
    // Under the C collation, as in JavaScript, whatever the database's (a
    // Turkish one lower-cases I to a dotless ı).
    email: `nullif(lower(btrim(u.email) collate "C"), '')`,
    phone: `nullif(u.phone, '')`,
    attributes: Array.from(
      { length: Math.max(1, Math.ceil(pairs.length / 50)) },
      (_, n) => `jsonb_build_object(${pairs.slice(n * 50, n * 50 + 50).join(', ')})`,
    ).join(' || '),
    deletedAt,
  };
}

type Tx = postgres.TransactionSql;

/** `u.id > from and u.id <= to`: a page of a full sync, as an id range. */
const inRange = (tx: Tx, from: string | null, to: string) =>
  from === null ? tx`u.id <= ${to}::uuid` : tx`u.id > ${from}::uuid and u.id <= ${to}::uuid`;

/**
 * Upserts the contacts of the clean users in (from, to] (upsertUserRows);
 * returns the auth user ids it wrote with the counts.
 */
export function upsertUsersInDatabase(
  tx: Tx,
  mapping: UserMappingSql,
  from: string | null,
  to: string,
): Promise<UsersUpserted & { ids: string[] }> {
  const users = () => tx`
    select u.id, ${tx.unsafe(mapping.email)} as email, ${tx.unsafe(mapping.phone)} as phone,
           ${tx.unsafe(mapping.attributes)} as attributes, ${tx.unsafe(mapping.deletedAt)} as deleted_at
      from auth.users u
     where ${inRange(tx, from, to)} and ${tx.unsafe(mapping.clean)}`;
  return upsertUserRows(tx, users, { ids: true });
}

/** The users to convert in JavaScript: these ids, or every user in (from, to]. */
export async function readUsers(
  tx: Tx,
  columns: string[],
  page: { ids: string[] } | { from: string | null; to: string },
): Promise<Record<string, unknown>[]> {
  return await tx`
    select ${tx.unsafe(columns.map((column) => `u.${ident(column)}`).join(', '))} from auth.users u
     where ${'ids' in page ? tx`u.id = any(${page.ids}::uuid[])` : inRange(tx, page.from, page.to)}
     order by u.id`;
}
