// Where a sync reads from, one reader per (what, where): auth users and app
// tables, from the database by keyset pagination or from the HTTP APIs (Auth
// admin pages, PostgREST with keyset filters). Pages are bounded, so memory
// stays flat whatever the row count.
import type postgres from 'postgres';
import { ident } from '../../db/quote.js';
import type { SupabaseApi } from '../../source/supabase-api.js';
import { postgrestName, postgrestValue } from '../../source/supabase-api.js';
import { type TableSyncMapping, tableColumns, toTimestamp } from '../mapping.js';
import type { SyncMode } from './checkpoint.js';
import type { PageReader, Row } from './runner.js';

/** Full syncs page by id; incremental ones by (updated_at, id). */
export type UserCursor = { id: string; at?: string };

export function dbUserReader(
  sql: postgres.Sql,
  columns: string[],
  run: { mode: SyncMode; since: string | null; reread?: string[] },
  batchSize: number,
): PageReader<UserCursor> {
  const select = sql.unsafe(columns.map((column) => ident(column)).join(', '));
  if (run.mode === 'full') {
    return {
      async read(after) {
        const rows = after
          ? await sql`select ${select} from auth.users where id > ${after.id}::uuid order by id limit ${batchSize}`
          : await sql`select ${select} from auth.users order by id limit ${batchSize}`;
        const last = rows.at(-1) as Row | undefined;
        return { rows, next: last ? { id: String(last.id) } : null };
      },
      async total(after) {
        const [row] = after
          ? await sql<
              { n: number }[]
            >`select count(*)::float8 as n from auth.users where id > ${after.id}::uuid`
          : await sql<{ n: number }[]>`select count(*)::float8 as n from auth.users`;
        return row?.n ?? null;
      },
    };
  }
  const since = run.since ?? new Date(0).toISOString();
  // Users the last run could not write whole come too, whenever they changed:
  // in (updated_at, id) order with the rest, so the keyset holds (a NULL
  // updated_at has no place in it: such rows are for full runs, as ever).
  const changed = run.reread?.length
    ? sql`(updated_at >= ${since}::text::timestamptz
           or (id = any(${run.reread}::uuid[]) and updated_at is not null))`
    : sql`updated_at >= ${since}::text::timestamptz`;
  // The cursor's time is rendered exactly (microseconds, UTC) so no row repeats or is lost.
  const at = sql`to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_at`;
  return {
    async read(after) {
      const rows = after
        ? await sql`
            select ${select}, ${at} from auth.users
             where ${changed}
               and (updated_at, id) > (${after.at!}::text::timestamptz, ${after.id}::uuid)
             order by updated_at, id limit ${batchSize}`
        : await sql`
            select ${select}, ${at} from auth.users
             where ${changed}
             order by updated_at, id limit ${batchSize}`;
      const last = rows.at(-1) as Row | undefined;
      const next = last ? { id: String(last.id), at: String(last.cursor_at) } : null;
      for (const row of rows) delete (row as Row).cursor_at;
      return { rows, next };
    },
    async total(after) {
      const [row] = after
        ? await sql<{ n: number }[]>`
            select count(*)::float8 as n from auth.users
             where ${changed}
               and (updated_at, id) > (${after.at!}::text::timestamptz, ${after.id}::uuid)`
        : await sql<{ n: number }[]>`
            select count(*)::float8 as n from auth.users where ${changed}`;
      return row?.n ?? null;
    },
  };
}

/**
 * The Auth admin API lists users newest first, a page at a time. The cursor
 * is the last page read. Incremental runs read every page (the API has no
 * filter on updated_at) and keep the users changed since.
 */
export function apiUserReader(
  api: SupabaseApi,
  run: { mode: SyncMode; since: string | null; reread?: string[] },
  perPage: number,
): PageReader<{ page: number }> {
  let ended = false;
  const since = run.mode === 'incremental' ? run.since : null;
  const reread = new Set(run.reread);
  return {
    async read(after) {
      if (ended) return { rows: [], next: null };
      const page = (after?.page ?? 0) + 1;
      const result = await api.listUsers(page, perPage);
      if (result.users.length === 0) return { rows: [], next: null };
      ended = !result.hasNext;
      const rows = since
        ? result.users.filter(
            (u) =>
              (toTimestamp(u.updated_at) ?? '') >= since || reread.has(String(u.id).toLowerCase()),
          )
        : result.users;
      return { rows, next: { page } };
    },
    async total(after) {
      if (since) return null;
      const all = (await api.listUsers(1, 1)).total;
      return all === null ? null : Math.max(0, all - (after?.page ?? 0) * perPage);
    },
  };
}

/** A table's rows in (changed-at, primary key) order; cursor values are text. */
export type TableCursor = string[];

function orderColumns(mapping: TableSyncMapping, mode: SyncMode): string[] {
  return mode === 'incremental' && mapping.changedAt
    ? [mapping.changedAt, ...mapping.primaryKey]
    : mapping.primaryKey;
}

export function dbTableReader(
  sql: postgres.Sql,
  mapping: TableSyncMapping,
  run: { mode: SyncMode; since: string | null },
  batchSize: number,
): PageReader<TableCursor> {
  // Names through quote.ts's ident, never postgres.js's sql(name): that one
  // splits a name on its dots (`v2.orders` would read as schema v2).
  const name = (...parts: string[]) => sql.unsafe(ident(...parts));
  const from = name(mapping.table.schema, mapping.table.table);
  const order = orderColumns(mapping, run.mode);
  const list = (columns: string[], alias: string) =>
    columns.reduce(
      (acc, c, i) => (i === 0 ? sql`${name(alias, c)}` : sql`${acc}, ${name(alias, c)}`),
      sql``,
    );
  const since =
    run.mode === 'incremental' && mapping.changedAt && run.since
      ? sql`${name('t', mapping.changedAt)} >= ${run.since}::text::timestamptz`
      : sql`true`;
  // The cursor's values are text; the table's own row type turns them back
  // into the columns' types exactly (no driver-side conversion of times). A
  // row comparison with stable values on the right is an index condition.
  const keyset = (after: TableCursor | null) => {
    if (!after) return sql`true`;
    const values = JSON.stringify(Object.fromEntries(order.map((c, i) => [c, after[i]])));
    const typed = order.reduce((acc, c, i) => {
      const value = sql`(json_populate_record(null::${from}, ${values}::text::json)).${name(c)}`;
      return i === 0 ? value : sql`${acc}, ${value}`;
    }, sql``);
    return sql`(${list(order, 't')}) > (${typed})`;
  };
  // Postgres's own JSON of the row: what PostgREST would answer, so both modes agree.
  const row = sql`(select to_json(x) from (select ${list(tableColumns(mapping), 't')}) x) as row`;
  const key = order.reduce(
    (acc, c, i) =>
      i === 0
        ? sql`to_json(${name('t', c)}) #>> '{}'`
        : sql`${acc}, to_json(${name('t', c)}) #>> '{}'`,
    sql``,
  );
  return {
    async read(after) {
      const rows = await sql<{ row: Row; key: string[] }[]>`
        select ${row}, array[${key}] as key from ${from} t
         where ${since} and ${keyset(after)}
         order by ${list(order, 't')} limit ${batchSize}`;
      const last = rows.at(-1);
      return { rows: rows.map((r) => r.row), next: last ? last.key : null };
    },
    async total(after) {
      const [count] = await sql<{ n: number }[]>`
        select count(*)::float8 as n from ${from} t where ${since} and ${keyset(after)}`;
      return count?.n ?? null;
    },
  };
}

/**
 * PostgREST pages by keyset filters (`id=gt.42`, or an `or=(...)` tree for
 * several columns), not offsets: stable while rows are added, and correct
 * when the server caps a page below the limit asked for (1000 rows by
 * default) — a short page is not the end, an empty one is.
 */
export function apiTableReader(
  api: SupabaseApi,
  mapping: TableSyncMapping,
  run: { mode: SyncMode; since: string | null },
  batchSize: number,
): PageReader<TableCursor> {
  const order = orderColumns(mapping, run.mode);
  const incremental = run.mode === 'incremental' && mapping.changedAt && run.since;
  return {
    async read(after) {
      const filters: [string, string][] = [];
      if (incremental) filters.push([postgrestName(mapping.changedAt!), `gte.${run.since}`]);
      if (after) filters.push(...keysetFilter(order, after));
      const rows = await api.selectRows(mapping.table, {
        select: tableColumns(mapping),
        filters,
        order,
        limit: batchSize,
      });
      const last = rows.at(-1);
      return {
        rows,
        next: last ? order.map((column) => cursorText(last[column])) : null,
      };
    },
  };
}

/** `(a, b) > (x, y)` as PostgREST filters: a.gt.x, or a.eq.x and b.gt.y. */
export function keysetFilter(columns: string[], values: string[]): [string, string][] {
  if (columns.length === 1) return [[postgrestName(columns[0]!), `gt.${values[0]}`]];
  const branches = columns.map((column, i) => {
    const equal = columns
      .slice(0, i)
      .map((c, j) => `${postgrestName(c)}.eq.${postgrestValue(values[j]!)}`);
    const greater = `${postgrestName(column)}.gt.${postgrestValue(values[i]!)}`;
    return equal.length ? `and(${[...equal, greater].join(',')})` : greater;
  });
  return [['or', `(${branches.join(',')})`]];
}

function cursorText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
