// Reads the user's schema from the system catalogs: tables, columns with their
// types, primary keys, RLS. One round trip; read-only. `plan` validates
// features against it; `analyze` prints it with more detail.
import { ENGINE_SCHEMA, WORKER_SCHEMA } from '../db/schemas.js';
import type { Sql } from './connect.js';
import { type TableName, tableKey } from './names.js';

export interface Column {
  name: string;
  /** format_type() of the column, e.g. `character varying(255)`, `timestamp with time zone`. */
  type: string;
  /** The base type name, e.g. `varchar`, `timestamptz`, `_text` for text[]. */
  typeName: string;
  notNull: boolean;
  generated: boolean;
}

export interface Table extends TableName {
  kind: 'table' | 'partitioned table' | 'view' | 'materialized view' | 'foreign table';
  columns: Column[];
  primaryKey: string[];
  rls: boolean;
  owner: string;
  /** reltuples, or -1 when the table was never analyzed. */
  rowEstimate: number;
}

export class Catalog {
  private readonly byKey = new Map<string, Table>();
  constructor(readonly tables: Table[]) {
    for (const table of tables) this.byKey.set(tableKey(table), table);
  }
  get(name: TableName): Table | undefined {
    return this.byKey.get(tableKey(name));
  }
}

/** Schemas that belong to PostgreSQL or to Nudge (capture, engine store, job queue), never to the user's app. */
export const SYSTEM_SCHEMAS = [
  'pg_catalog',
  'information_schema',
  'pg_toast',
  'nudge',
  ENGINE_SCHEMA,
  WORKER_SCHEMA,
];

const KINDS: Record<string, Table['kind']> = {
  r: 'table',
  p: 'partitioned table',
  v: 'view',
  m: 'materialized view',
  f: 'foreign table',
};

export async function readCatalog(sql: Sql): Promise<Catalog> {
  const rows = await sql<
    {
      schema: string;
      table: string;
      kind: string;
      rls: boolean;
      owner: string;
      estimate: number;
      columns: Column[] | null;
      primary_key: string[] | null;
    }[]
  >`
    select n.nspname as schema, c.relname as table, c.relkind as kind,
           c.relrowsecurity as rls, pg_get_userbyid(c.relowner) as owner,
           c.reltuples::float8 as estimate,
           (select json_agg(json_build_object(
                     'name', a.attname,
                     'type', format_type(a.atttypid, a.atttypmod),
                     'typeName', t.typname,
                     'notNull', a.attnotnull,
                     'generated', a.attgenerated <> '') order by a.attnum)
              from pg_attribute a join pg_type t on t.oid = a.atttypid
             where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as columns,
           (select array_agg(a.attname order by array_position(i.indkey::int2[], a.attnum))
              from pg_index i
              join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey::int2[])
             where i.indrelid = c.oid and i.indisprimary) as primary_key
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p', 'v', 'm', 'f')
       and not c.relispartition
       and n.nspname <> all(${SYSTEM_SCHEMAS})
       and n.nspname not like 'pg\\_%'
     order by n.nspname, c.relname`;
  return new Catalog(
    rows.map((row) => ({
      schema: row.schema,
      table: row.table,
      kind: KINDS[row.kind] ?? 'table',
      columns: row.columns ?? [],
      primaryKey: row.primary_key ?? [],
      rls: row.rls,
      owner: row.owner,
      rowEstimate: row.estimate,
    })),
  );
}
