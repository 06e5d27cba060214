// Drift of the nudge schema's tables beyond their columns: the keys and
// indexes the migrations make (the pump claims event_log in id order, and
// retries and deploys find rows by key), indexes added by hand to the tables
// every captured write goes to (event_log and the rows tables, which have
// none but event_log's key, so that a capture costs the app's write as
// little as it can), and triggers added by hand to any table of the schema
// (they run inside the app's write; a BEFORE trigger that returns NULL drops
// the captured row without a word). What is not compared, and why:
// docs/capture.md ("Plan and drift").
import { ident } from '../db/quote.js';
import type { Sql } from '../source/connect.js';
import type { PlanItem } from './plan.js';
import { migrations } from './schema.js';

export interface SchemaTablesState {
  /** Every table of schema nudge, and whether it has a primary key. */
  tables: { name: string; keyed: boolean }[];
  /** Every index of schema nudge: its table, and whether a constraint owns it. */
  indexes: { table: string; name: string; constraint: boolean }[];
  /** Triggers on tables of schema nudge (Nudge makes none). */
  triggers: { table: string; name: string }[];
}

export async function readSchemaTables(sql: Sql): Promise<SchemaTablesState> {
  const tables = await sql<{ name: string; keyed: boolean }[]>`
    select c.relname as name,
           exists (select from pg_constraint k where k.conrelid = c.oid and k.contype = 'p') as keyed
      from pg_class c where c.relnamespace = 'nudge'::regnamespace and c.relkind in ('r', 'p')`;
  const indexes = await sql<{ table: string; name: string; constraint: boolean }[]>`
    select c.relname as table, i.relname as name,
           exists (select from pg_constraint k where k.conindid = x.indexrelid) as constraint
      from pg_index x join pg_class c on c.oid = x.indrelid join pg_class i on i.oid = x.indexrelid
     where c.relnamespace = 'nudge'::regnamespace
     order by 1, 2`;
  const triggers = await sql<{ table: string; name: string }[]>`
    select c.relname as table, t.tgname as name
      from pg_trigger t join pg_class c on c.oid = t.tgrelid
     where c.relnamespace = 'nudge'::regnamespace and not t.tgisinternal
     order by 1, 2`;
  return { tables, indexes, triggers };
}

/** The primary keys the migrations declare: table → columns. */
function declaredKeys(): Map<string, string> {
  const keys = new Map<string, string>([['schema_migrations', 'version']]);
  for (const { sql } of migrations()) {
    for (const [, table, body] of sql.matchAll(
      /CREATE TABLE IF NOT EXISTS nudge\.(\w+) \(([\s\S]*?)\n\);/g,
    )) {
      const listed = /^\s*PRIMARY KEY \(([^)]+)\)/m.exec(body!)?.[1];
      const inline = /^\s*(\w+) [^\n]*\bPRIMARY KEY\b/m.exec(body!)?.[1];
      const columns = listed ?? inline;
      if (columns) keys.set(table!, columns);
    }
  }
  return keys;
}

/** The indexes the migrations make by name, with the statement that makes each. */
function declaredIndexes(): Map<string, { table: string; sql: string }> {
  const indexes = new Map<string, { table: string; sql: string }>();
  for (const { sql } of migrations())
    for (const [statement, name, table] of sql.matchAll(
      /CREATE INDEX IF NOT EXISTS (\w+) ON nudge\.(\w+)[^;]*/g,
    ))
      indexes.set(name!, { table: table!, sql: statement! });
  return indexes;
}

/** The tables every captured write goes to: event_log and the rows tables. */
const WRITTEN = (table: string, rowsTables: string[]) =>
  table === 'event_log' || rowsTables.includes(table);

/**
 * One item when anything differs, repaired by deploy: a key or index the
 * migrations make put back, an index added to a table captures write to
 * dropped, a trigger added to a table of the schema dropped.
 */
export function schemaTablesItems(
  state: SchemaTablesState | undefined,
  rowsTables: string[],
): PlanItem[] {
  if (!state) return [];
  const drift: string[] = [];
  const sql: string[] = [];
  const found = (name: string) => state.tables.find((t) => t.name === name);
  for (const [table, columns] of declaredKeys()) {
    // A table that exists without its key (one not made yet is the migrations' to make).
    if (found(table)?.keyed !== false) continue;
    drift.push(
      `the primary key of nudge.${table} was dropped by hand${table === 'event_log' ? ' (the engine reads the outbox in id order: every claim would sort the whole table)' : ''}`,
    );
    sql.push(`ALTER TABLE ${ident('nudge', table)} ADD PRIMARY KEY (${columns})`);
  }
  const declared = declaredIndexes();
  for (const [name, index] of declared) {
    if (!found(index.table) || state.indexes.some((i) => i.name === name)) continue;
    drift.push(`index nudge.${name} was dropped by hand`);
    sql.push(index.sql);
  }
  for (const index of state.indexes) {
    if (index.constraint || declared.has(index.name) || !WRITTEN(index.table, rowsTables)) continue;
    drift.push(
      `index ${index.name} was added to nudge.${index.table} by hand (every captured write would update it)`,
    );
    sql.push(`DROP INDEX IF EXISTS ${ident('nudge', index.name)}`);
  }
  for (const trigger of state.triggers) {
    drift.push(
      `trigger ${trigger.name} was added to nudge.${trigger.table} by hand (it would run in the app's writes; one BEFORE INSERT that returns NULL drops captured rows)`,
    );
    sql.push(`DROP TRIGGER IF EXISTS ${ident(trigger.name)} ON ${ident('nudge', trigger.table)}`);
  }
  if (!drift.length) return [];
  return [
    {
      action: 'replace',
      kind: 'schema',
      subject: 'nudge tables',
      detail:
        "restore the keys and indexes Nudge's tables are made with; drop what was added to them",
      drift,
      sql,
    },
  ];
}
