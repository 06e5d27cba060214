// What `nudge analyze` reports and `nudge doctor` reasons about: the catalog of
// catalog.ts plus foreign keys to auth.users, triggers, privileges, row counts,
// extensions, wal_level and publications. Read-only queries, values as parameters.
import { ident } from '../db/quote.js';
import { readCatalog, SYSTEM_SCHEMAS, type Table } from './catalog.js';
import type { Sql } from './connect.js';
import { type TableName, tableKey } from './names.js';

/** Schemas Supabase (or its extensions) manages: not the app's own tables. */
export const SUPABASE_SCHEMAS = new Set([
  'auth',
  'storage',
  'extensions',
  'graphql',
  'graphql_public',
  'realtime',
  '_realtime',
  'supabase_functions',
  'supabase_migrations',
  'net',
  'pgsodium',
  'pgsodium_masks',
  'vault',
  'cron',
  'pgbouncer',
  '_analytics',
  'pgtle',
  'pgmq',
]);

export type TriggerEvent = 'INSERT' | 'UPDATE' | 'DELETE' | 'TRUNCATE';

export interface Trigger {
  name: string;
  timing: 'BEFORE' | 'AFTER' | 'INSTEAD OF';
  events: TriggerEvent[];
  level: 'ROW' | 'STATEMENT';
  function: { schema: string; name: string };
  /** ALTER TABLE ... ENABLE / ENABLE ALWAYS / ENABLE REPLICA / DISABLE TRIGGER. */
  state: 'enabled' | 'always' | 'replica' | 'disabled';
  /** Fires for ordinary sessions (state enabled or always). */
  fires: boolean;
  /** Deployed by Nudge: its function lives in schema `nudge`. */
  nudge: boolean;
}

export interface AuthUserReference {
  constraint: string;
  columns: string[];
  /** Columns of auth.users referenced, usually [id]. */
  references: string[];
  onDelete: 'no action' | 'restrict' | 'cascade' | 'set null' | 'set default';
}

export interface RowCount {
  /** null when unknown. */
  value: number | null;
  /** estimate: reltuples; count: count(*) because the table was never analyzed and is small. */
  source: 'estimate' | 'count' | 'unknown';
}

export interface TableReport extends Table {
  rows: RowCount;
  authUserReferences: AuthUserReference[];
  triggers: Trigger[];
  /** Publications that include the table (FOR ALL TABLES ones too). */
  publications: string[];
  /** What the connected role may do here. */
  access: {
    select: boolean;
    trigger: boolean;
    /** RLS filters this role's reads: RLS on and not superuser, BYPASSRLS or (non-forced) owner. */
    rlsApplies: boolean;
  };
}

export interface Publication {
  name: string;
  allTables: boolean;
  operations: TriggerEvent[];
  /** Member tables; empty for FOR ALL TABLES. */
  tables: TableName[];
}

export interface Extension {
  name: string;
  version: string;
  schema: string;
}

export interface Analysis {
  database: {
    name: string;
    serverVersion: string;
    serverVersionNum: number;
    role: string;
    superuser: boolean;
    bypassRls: boolean;
    /** CREATE on the database: may create the nudge schema. */
    canCreateSchema: boolean;
    walLevel: string;
  };
  schemas: { name: string; tables: TableReport[] }[];
  extensions: Extension[];
  pgNet: { installed: boolean; version: string | null; available: boolean };
  publications: Publication[];
  nudgeSchema: { exists: boolean; owner: string | null; usable: boolean };
}

export interface AnalyzeOptions {
  /** Only these schemas (the database-wide facts are always read). */
  schemas?: string[];
  /** count(*) tables that were never analyzed and are at most this many bytes (0: never). */
  countBelowBytes?: number;
}

const TIMINGS = { 2: 'BEFORE', 64: 'INSTEAD OF' } as const;
const STATES = { O: 'enabled', A: 'always', R: 'replica', D: 'disabled' } as const;
const ON_DELETE = {
  a: 'no action',
  r: 'restrict',
  c: 'cascade',
  n: 'set null',
  d: 'set default',
} as const;

/** Decodes pg_trigger.tgtype (see pg_trigger.h). */
export function decodeTriggerType(tgtype: number) {
  const events: TriggerEvent[] = [];
  if (tgtype & 4) events.push('INSERT');
  if (tgtype & 16) events.push('UPDATE');
  if (tgtype & 8) events.push('DELETE');
  if (tgtype & 32) events.push('TRUNCATE');
  const timing: Trigger['timing'] = tgtype & 64 ? TIMINGS[64] : tgtype & 2 ? TIMINGS[2] : 'AFTER';
  return { timing, events, level: (tgtype & 1 ? 'ROW' : 'STATEMENT') as Trigger['level'] };
}

export async function analyzeDatabase(sql: Sql, options: AnalyzeOptions = {}): Promise<Analysis> {
  const [
    catalog,
    database,
    tableFacts,
    references,
    triggers,
    extensions,
    pgNetAvailable,
    pubs,
    nudge,
  ] = await Promise.all([
    readCatalog(sql),
    readDatabase(sql),
    readTableFacts(sql),
    readAuthUserReferences(sql),
    readTriggers(sql),
    sql<Extension[]>`
        select e.extname as name, e.extversion as version, n.nspname as schema
          from pg_extension e join pg_namespace n on n.oid = e.extnamespace
         order by e.extname`,
    sql<{ available: boolean }[]>`
        select exists (select from pg_available_extensions where name = 'pg_net') as available`,
    readPublications(sql),
    sql<{ owner: string; usable: boolean }[]>`
        select pg_get_userbyid(nspowner) as owner,
               has_schema_privilege(oid, 'USAGE') and has_schema_privilege(oid, 'CREATE') as usable
          from pg_namespace where nspname = 'nudge'`,
  ]);

  const wanted = options.schemas ? new Set(options.schemas) : undefined;
  const schemaNames = (await userSchemas(sql)).filter((name) => !wanted || wanted.has(name));
  const bySchema = new Map(schemaNames.map((name) => [name, [] as TableReport[]]));
  const countLimit = options.countBelowBytes ?? 0;
  const toCount: TableReport[] = [];

  for (const table of catalog.tables) {
    const list = bySchema.get(table.schema);
    if (!list) continue;
    const key = tableKey(table);
    const facts = tableFacts.get(key);
    const isView = table.kind === 'view' || table.kind === 'foreign table';
    const report: TableReport = {
      ...table,
      rows:
        isView || table.rowEstimate < 0
          ? { value: null, source: 'unknown' }
          : { value: Math.round(table.rowEstimate), source: 'estimate' },
      authUserReferences: references.get(key) ?? [],
      triggers: triggers.get(key) ?? [],
      publications: pubs
        .filter((p) => (p.allTables && !isView) || p.tables.some((t) => tableKey(t) === key))
        .map((p) => p.name),
      access: {
        select: facts?.select ?? false,
        trigger: facts?.trigger ?? false,
        rlsApplies: table.rls && !(facts?.bypassesRls ?? false),
      },
    };
    list.push(report);
    const small = facts !== undefined && facts.bytes <= countLimit;
    if (
      !isView &&
      table.rowEstimate < 0 &&
      small &&
      report.access.select &&
      !report.access.rlsApplies
    ) {
      toCount.push(report);
    }
  }
  // Never-analyzed tables (reltuples = -1): a bounded count(*) is cheap when they are small.
  for (const report of toCount.slice(0, 100)) {
    const count = await countRows(sql, report).catch(() => undefined);
    if (count !== undefined) report.rows = { value: count, source: 'count' };
  }

  const pgNet = extensions.find((e) => e.name === 'pg_net');
  return {
    database,
    schemas: [...bySchema].map(([name, tables]) => ({ name, tables })),
    extensions: [...extensions],
    pgNet: {
      installed: !!pgNet,
      version: pgNet?.version ?? null,
      available: !!pgNet || !!pgNetAvailable[0]?.available,
    },
    publications: pubs,
    nudgeSchema: nudge[0]
      ? { exists: true, owner: nudge[0].owner, usable: nudge[0].usable }
      : { exists: false, owner: null, usable: false },
  };
}

/** Every schema that is not PostgreSQL's or Nudge's, including ones without tables. */
export async function userSchemas(sql: Sql): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`
    select nspname as name from pg_namespace
     where nspname <> all(${SYSTEM_SCHEMAS})
       and nspname not like 'pg\\_%'
     order by nspname`;
  return rows.map((row) => row.name);
}

export async function readDatabase(sql: Sql): Promise<Analysis['database']> {
  const [row] = await sql<Analysis['database'][]>`
    select current_database() as name,
           current_setting('server_version') as "serverVersion",
           current_setting('server_version_num')::int as "serverVersionNum",
           current_user as role, r.rolsuper as superuser, r.rolbypassrls as "bypassRls",
           has_database_privilege(current_database(), 'CREATE') as "canCreateSchema",
           current_setting('wal_level') as "walLevel"
      from pg_roles r where r.rolname = current_user`;
  return row!;
}

interface TableFacts {
  bytes: number;
  select: boolean;
  trigger: boolean;
  bypassesRls: boolean;
}

async function readTableFacts(sql: Sql): Promise<Map<string, TableFacts>> {
  const rows = await sql<(TableName & TableFacts)[]>`
    select n.nspname as schema, c.relname as table,
           coalesce((select sum(pg_relation_size(p.relid)) from pg_partition_tree(c.oid) p), 0)::float8
             as bytes,
           has_schema_privilege(n.oid, 'USAGE') and has_table_privilege(c.oid, 'SELECT') as select,
           has_table_privilege(c.oid, 'TRIGGER') as trigger,
           (r.rolsuper or r.rolbypassrls
             or (pg_has_role(c.relowner, 'USAGE') and not c.relforcerowsecurity)) as "bypassesRls"
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      join pg_roles r on r.rolname = current_user
     where c.relkind in ('r', 'p', 'v', 'm', 'f') and not c.relispartition
       and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')`;
  return new Map(rows.map((row) => [tableKey(row), row]));
}

async function readAuthUserReferences(sql: Sql): Promise<Map<string, AuthUserReference[]>> {
  const rows = await sql<
    (TableName & { constraint: string; columns: string[]; references: string[]; del: string })[]
  >`
    select n.nspname as schema, c.relname as table, con.conname as constraint,
           array(select a.attname from unnest(con.conkey) with ordinality k(num, ord)
                   join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.num
                  order by k.ord) as columns,
           array(select a.attname from unnest(con.confkey) with ordinality k(num, ord)
                   join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.num
                  order by k.ord) as references,
           con.confdeltype as del
      from pg_constraint con
      join pg_class c on c.oid = con.conrelid
      join pg_namespace n on n.oid = c.relnamespace
     where con.contype = 'f'
       -- not to_regclass(): it needs USAGE on schema auth, which a reader may lack
       and con.confrelid = (select u.oid from pg_class u join pg_namespace un on un.oid = u.relnamespace
                             where un.nspname = 'auth' and u.relname = 'users')
     order by con.conname`;
  const byTable = new Map<string, AuthUserReference[]>();
  for (const row of rows) {
    const list = byTable.get(tableKey(row)) ?? [];
    list.push({
      constraint: row.constraint,
      columns: row.columns,
      references: row.references,
      onDelete: ON_DELETE[row.del as keyof typeof ON_DELETE] ?? 'no action',
    });
    byTable.set(tableKey(row), list);
  }
  return byTable;
}

async function readTriggers(sql: Sql): Promise<Map<string, Trigger[]>> {
  const rows = await sql<
    (TableName & {
      name: string;
      tgtype: number;
      enabled: string;
      fschema: string;
      fname: string;
    })[]
  >`
    select n.nspname as schema, c.relname as table, t.tgname as name, t.tgtype::int as tgtype,
           t.tgenabled as enabled, fn.nspname as fschema, p.proname as fname
      from pg_trigger t
      join pg_class c on c.oid = t.tgrelid
      join pg_namespace n on n.oid = c.relnamespace
      join pg_proc p on p.oid = t.tgfoid
      join pg_namespace fn on fn.oid = p.pronamespace
     where not t.tgisinternal
     order by n.nspname, c.relname, t.tgname`;
  const byTable = new Map<string, Trigger[]>();
  for (const row of rows) {
    const state = STATES[row.enabled as keyof typeof STATES] ?? 'enabled';
    const list = byTable.get(tableKey(row)) ?? [];
    list.push({
      name: row.name,
      ...decodeTriggerType(row.tgtype),
      function: { schema: row.fschema, name: row.fname },
      state,
      fires: state === 'enabled' || state === 'always',
      nudge: row.fschema === 'nudge',
    });
    byTable.set(tableKey(row), list);
  }
  return byTable;
}

async function readPublications(sql: Sql): Promise<Publication[]> {
  const rows = await sql<
    {
      name: string;
      all_tables: boolean;
      ins: boolean;
      upd: boolean;
      del: boolean;
      trunc: boolean;
      tables: TableName[];
    }[]
  >`
    select p.pubname as name, p.puballtables as all_tables, p.pubinsert as ins,
           p.pubupdate as upd, p.pubdelete as del, p.pubtruncate as trunc,
           coalesce((select json_agg(json_build_object('schema', t.schemaname, 'table', t.tablename)
                                     order by t.schemaname, t.tablename)
                       from pg_publication_tables t
                      where t.pubname = p.pubname and not p.puballtables), '[]') as tables
      from pg_publication p order by p.pubname`;
  return rows.map((row) => ({
    name: row.name,
    allTables: row.all_tables,
    operations: (
      [
        [row.ins, 'INSERT'],
        [row.upd, 'UPDATE'],
        [row.del, 'DELETE'],
        [row.trunc, 'TRUNCATE'],
      ] as const
    )
      .filter(([on]) => on)
      .map(([, op]) => op),
    tables: row.tables,
  }));
}

/** count(*) under a statement timeout (SQLSTATE 57014 when it runs out). */
export async function countRows(sql: Sql, table: TableName, timeoutMs = 2000): Promise<number> {
  return sql.begin(async (tx) => {
    await tx`select set_config('statement_timeout', ${String(timeoutMs)}, true)`;
    const [row] = await tx.unsafe<{ n: number }[]>(
      `select count(*)::float8 as n from ${ident(table.schema, table.table)}`,
    );
    return row?.n ?? 0;
  });
}

/** Whether the role sees at least one row (a cheap probe for RLS hiding everything). */
export async function seesAnyRow(sql: Sql, table: TableName, timeoutMs = 5000): Promise<boolean> {
  return sql.begin(async (tx) => {
    await tx`select set_config('statement_timeout', ${String(timeoutMs)}, true)`;
    const [row] = await tx.unsafe<{ any: boolean }[]>(
      `select exists (select from ${ident(table.schema, table.table)}) as any`,
    );
    return !!row?.any;
  });
}

/** Tables of every reported schema, flattened. */
export function allTables(analysis: Analysis): TableReport[] {
  return analysis.schemas.flatMap((schema) => schema.tables);
}
