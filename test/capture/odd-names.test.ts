// Capture against what users have: columns named like the variables of the
// trigger's own PL/pgSQL or like Nudge's own columns, dollar quotes,
// backslashes, unicode, 63-byte names and names alike up to their last byte;
// drift in how a trigger fires and how its function runs; a partitioned table
// written through its partitions. Tables are captured as the product captures
// them (with their catalog columns).
import { beforeAll, describe, expect, it } from 'vitest';
import { deploy, teardown } from '../../src/capture/deploy.js';
import { makePlan } from '../../src/capture/plan.js';
import { readCaptureState } from '../../src/capture/state.js';
import {
  buildCaptureObjects,
  type CapturedColumn,
  type CaptureNeed,
  capturedColumns,
  type Operation,
} from '../../src/capture/triggers.js';
import { ident } from '../../src/db/quote.js';
import { readCatalog } from '../../src/source/catalog.js';
import type { TableName } from '../../src/source/names.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();

async function columnsOf(table: TableName): Promise<CapturedColumn[]> {
  return db.sql<CapturedColumn[]>`
    select a.attname::text as name, format_type(a.atttypid, a.atttypmod) as type
      from pg_attribute a
     where a.attrelid = ${ident(table.schema, table.table)}::regclass and a.attnum > 0 and not a.attisdropped
     order by a.attnum`;
}

async function needsFor(
  table: TableName,
  operations: Operation[],
  by = 'odd',
): Promise<CaptureNeed[]> {
  const columns = await columnsOf(table);
  return operations.map((operation) => ({
    table,
    operation,
    by,
    columns,
    primaryKey: ['id'],
    reads: { all: 'test reads whole rows' },
  }));
}

/** Makes `table` refuse every insert; undone by the returned function. */
async function refuseWrites(table: string): Promise<() => Promise<void>> {
  await db.sql.unsafe(`
    CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'test: % refuses writes', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
    END $$;
    CREATE TRIGGER refuse BEFORE INSERT ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION public.refuse();`);
  return async () => {
    await db.sql.unsafe(`DROP TRIGGER refuse ON ${table}; DROP FUNCTION public.refuse();`);
  };
}

beforeAll(async () => {
  await db.sql`create schema nudge_probe`;
});

describe('columns named like the trigger’s own variables', () => {
  const table = { schema: 'public', table: 'diagnostics' };

  it('still records the rows in failed_events when capturing them fails', async () => {
    await db.sql`create table public.diagnostics (
      id int primary key, err_state text, err_message text, err_detail text, err_context text,
      nudge_payload text, nudge_key text)`;
    const needs = await needsFor(table, ['insert', 'update', 'delete']);
    await deploy(db.sql, buildCaptureObjects(needs));
    // Typed copy and its JSON fallback both fail: the rows must reach failed_events.
    const rowsTables = await db.sql<{ name: string }[]>`
      select relname::text as name from pg_class
       where relnamespace = 'nudge'::regnamespace and relname like 'rows_%'`;
    for (const { name } of rowsTables) {
      await db.sql.unsafe(`ALTER TABLE ${ident('nudge', name)} RENAME TO ${ident(`${name}_x`)}`);
    }
    const restore = await refuseWrites('nudge.event_log');
    try {
      await db.sql`insert into public.diagnostics values (1, 's', 'm', 'd', 'c', 'p', 'k'), (2, null, null, null, null, null, null)`;
      await db.sql`update public.diagnostics set err_state = 'changed' where id = 1`;
      await db.sql`delete from public.diagnostics where id = 2`;
    } finally {
      await restore();
      for (const { name } of rowsTables) {
        await db.sql.unsafe(`ALTER TABLE ${ident('nudge', `${name}_x`)} RENAME TO ${ident(name)}`);
      }
    }
    const failed = await db.sql<{ operation: string; id: string; sqlstate: string }[]>`
      select f.operation, coalesce(f.new_row, f.old_row) ->> 'id' as id, f.sqlstate
        from nudge.failed_events f where f.table_name = 'diagnostics' order by f.id`;
    expect(failed.map((f) => `${f.operation} ${f.id} ${f.sqlstate}`)).toEqual([
      'insert 1 42501',
      'insert 2 42501',
      'update 1 42501',
      'delete 2 42501',
    ]);
  });
});

describe('drift in what the trigger fires on, and how its function runs', () => {
  const table = { schema: 'public', table: 'ledger' };
  let needs: CaptureNeed[];
  const plan = async () => makePlan(buildCaptureObjects(needs), await readCaptureState(db.sql));
  const driftOf = async (subject: string) =>
    (await plan()).items.find((i) => i.subject === subject)?.drift;
  const functionOf = async (trigger: string) => {
    const [fn] = await db.sql<{ name: string }[]>`
      select p.proname::text as name from pg_trigger t join pg_proc p on p.oid = t.tgfoid
       where t.tgname = ${trigger} and t.tgrelid = 'public.ledger'::regclass`;
    return ident('nudge', fn!.name);
  };

  beforeAll(async () => {
    await db.sql`create table public.ledger (id int primary key, status text, amount int)`;
    needs = await needsFor(table, ['insert', 'update']);
    await deploy(db.sql, buildCaptureObjects(needs));
    expect((await plan()).hasChanges).toBe(false);
  });

  it('finds a trigger re-created to fire BEFORE, and repairs it', async () => {
    const fn = await functionOf('nudge_capture_insert');
    await db.sql.unsafe(`DROP TRIGGER nudge_capture_insert ON public.ledger;
      CREATE TRIGGER nudge_capture_insert BEFORE INSERT ON public.ledger
        FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`);
    expect(await driftOf('public.ledger insert')).toEqual(['trigger was changed by hand']);
    await deploy(db.sql, buildCaptureObjects(needs));
    expect((await plan()).hasChanges).toBe(false);
  });

  it('finds a trigger re-created with a WHEN condition or a column list, and repairs it', async () => {
    const fn = await functionOf('nudge_capture_update');
    await db.sql.unsafe(`DROP TRIGGER nudge_capture_update ON public.ledger;
      CREATE TRIGGER nudge_capture_update AFTER UPDATE ON public.ledger
        FOR EACH ROW WHEN (false) EXECUTE FUNCTION ${fn}()`);
    expect(await driftOf('public.ledger update')).toEqual(['trigger was changed by hand']);
    await db.sql.unsafe(`DROP TRIGGER nudge_capture_update ON public.ledger;
      CREATE TRIGGER nudge_capture_update AFTER UPDATE OF status ON public.ledger
        FOR EACH ROW EXECUTE FUNCTION ${fn}()`);
    expect(await driftOf('public.ledger update')).toEqual(['trigger was changed by hand']);
    await deploy(db.sql, buildCaptureObjects(needs));
    expect((await plan()).hasChanges).toBe(false);
    await db.sql`insert into public.ledger values (1, 'new', 1)`;
    await db.sql`update public.ledger set amount = 2 where id = 1`;
    const [update] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from nudge.event_log where table_name = 'ledger' and operation = 'update'`;
    expect(update!.n).toBe(1);
  });

  it('finds a function made SECURITY INVOKER or given another search_path, and repairs it', async () => {
    const fn = await functionOf('nudge_capture_insert');
    await db.sql.unsafe(`ALTER FUNCTION ${fn}() SECURITY INVOKER`);
    expect(await driftOf('public.ledger insert')).toEqual([
      'function was made SECURITY INVOKER by hand (writes by roles without access to schema nudge are not captured)',
    ]);
    await deploy(db.sql, buildCaptureObjects(needs));
    expect((await plan()).hasChanges).toBe(false);
    await db.sql.unsafe(`ALTER FUNCTION ${fn}() SET search_path = public`);
    expect(await driftOf('public.ledger insert')).toEqual([
      'function settings were changed by hand',
    ]);
    await deploy(db.sql, buildCaptureObjects(needs));
    expect((await plan()).hasChanges).toBe(false);
  });
});

describe('tables and columns with names that quote badly', () => {
  const long = (c: string) => `${c.repeat(58)}_tail`; // 63 bytes
  const names = [
    'Order Items',
    `it's "quoted"`,
    'back\\slash\\',
    '$$dollar$$',
    '$nudge$ end $nudge_1$',
    'sélection ünïcode 表',
    'select',
    long('a'),
  ];
  // Two 63-byte names that differ only in their last character.
  const twins = [`${'t'.repeat(62)}1`, `${'t'.repeat(62)}2`];

  it('captures inserts, updates and deletes of each, typed and as JSON, and plans nothing after', async () => {
    await db.sql.unsafe(`CREATE SCHEMA "my-app$$"`);
    const tables = [...names, ...twins].map((table) => ({ schema: 'my-app$$', table }));
    for (const table of tables) {
      await db.sql.unsafe(`CREATE TABLE ${ident(table.schema, table.table)} (
        id int PRIMARY KEY, ${ident(table.table)} text, "$$" text, "a\\b" text, "nudge_new_rows" int,
        "n" int, "${'c'.repeat(63)}" text)`);
    }
    const needs = (
      await Promise.all(tables.map((t) => needsFor(t, ['insert', 'update', 'delete'])))
    ).flat();
    const objects = buildCaptureObjects(needs);
    expect(new Set(objects.map((o) => o.functionName)).size).toBe(objects.length);
    const rows = objects.flatMap((o) => (o.rows ? [o.rows.table] : []));
    expect(new Set(rows).size).toBe(rows.length);
    for (const name of [...objects.map((o) => o.functionName), ...rows])
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63);
    await deploy(db.sql, objects);
    expect(makePlan(objects, await readCaptureState(db.sql)).hasChanges).toBe(false);
    for (const [i, table] of tables.entries()) {
      const t = ident(table.schema, table.table);
      await db.sql.unsafe(
        `INSERT INTO ${t} (id, ${ident(table.table)}, "$$", "a\\b", "n") VALUES (1, 'x$$y', '$nudge$', 'c\\d', ${i}), (2, null, null, null, null)`,
      );
      await db.sql.unsafe(`UPDATE ${t} SET "$$" = 'changed' WHERE id = 1`);
      await db.sql.unsafe(`DELETE FROM ${t} WHERE id = 2`);
    }
    expect(
      await db.sql`select table_name, operation, sqlstate, message from nudge.failed_events where schema_name = 'my-app$$'`,
    ).toEqual([]);
    const pending = await db.sql<
      { table_name: string; operation: string; row: Record<string, unknown> }[]
    >`
      select table_name, operation, coalesce(new_row, old_row) as row from nudge.pending()
       where schema_name = 'my-app$$' order by id, row_index`;
    for (const [i, table] of tables.entries()) {
      const mine = pending.filter((p) => p.table_name === table.table);
      expect(mine.map((p) => `${p.operation} ${p.row.id}`)).toEqual([
        'insert 1',
        'insert 2',
        'update 1',
        'delete 2',
      ]);
      expect(mine[0]!.row).toMatchObject({
        [table.table]: 'x$$y',
        $$: '$nudge$',
        'a\\b': 'c\\d',
        n: i,
      });
    }
  });
});

describe('columns named like Nudge’s own', () => {
  it('are captured under their names, as JSON where a rows table has a column of that name', async () => {
    const meta = { schema: 'public', table: 'meta' };
    const outbox = { schema: 'public', table: 'outboxlike' };
    await db.sql.unsafe(`CREATE TABLE public.meta (id int PRIMARY KEY, "nudge:id" int, "nudge:at" text);
      CREATE TABLE public.outboxlike (id int PRIMARY KEY, schema_name text, row_count int, new_rows text,
        stored_in text, row_index int, txid text, captured_at text)`);
    const needs = [
      ...(await needsFor(meta, ['insert', 'delete'])),
      ...(await needsFor(outbox, ['insert', 'update', 'delete'])),
    ];
    const objects = buildCaptureObjects(needs);
    expect(objects.filter((o) => o.rows).map((o) => `${o.table.table} ${o.operation}`)).toEqual([
      'outboxlike insert',
      'outboxlike delete',
    ]);
    await deploy(db.sql, objects);
    await db.sql`insert into public.meta values (1, 7, 'at')`;
    await db.sql`delete from public.meta`;
    await db.sql`insert into public.outboxlike values (1, 's', 5, 'n', 'x', 9, 't', 'c')`;
    await db.sql`update public.outboxlike set row_count = 6`;
    await db.sql`delete from public.outboxlike`;
    const pending = await db.sql<{ table_name: string; operation: string; row: object }[]>`
      select table_name, operation, coalesce(new_row, old_row) as row from nudge.pending()
       where table_name in ('meta', 'outboxlike') order by id, row_index`;
    const outboxRow = {
      id: 1,
      schema_name: 's',
      new_rows: 'n',
      stored_in: 'x',
      row_index: 9,
      txid: 't',
      captured_at: 'c',
    };
    expect(pending).toEqual([
      { table_name: 'meta', operation: 'insert', row: { id: 1, 'nudge:id': 7, 'nudge:at': 'at' } },
      { table_name: 'meta', operation: 'delete', row: { id: 1, 'nudge:id': 7, 'nudge:at': 'at' } },
      { table_name: 'outboxlike', operation: 'insert', row: { ...outboxRow, row_count: 5 } },
      { table_name: 'outboxlike', operation: 'update', row: { ...outboxRow, row_count: 6 } },
      { table_name: 'outboxlike', operation: 'delete', row: { ...outboxRow, row_count: 6 } },
    ]);
  });
});

describe('a partitioned table', () => {
  it('captures rows written into one of its partitions directly', async () => {
    const table = { schema: 'public', table: 'events' };
    await db.sql.unsafe(`CREATE TABLE public.events (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
      CREATE TABLE public.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`);
    // As features and live sync make their needs: from the catalog's table.
    const found = (await readCatalog(db.sql)).get(table)!;
    expect(found.kind).toBe('partitioned table');
    const needs: CaptureNeed[] = (['insert', 'update', 'delete'] as const).map((operation) => ({
      table,
      operation,
      by: 'events',
      ...capturedColumns(found),
    }));
    await deploy(db.sql, buildCaptureObjects(needs));
    // The triggers cloned to its partitions are its own, not extra ones.
    expect(makePlan(buildCaptureObjects(needs), await readCaptureState(db.sql)).hasChanges).toBe(
      false,
    );
    await db.sql`insert into public.events values (1, '2024-02-01')`;
    await db.sql`insert into public.events_2024 values (2, '2024-03-01')`;
    await db.sql`update public.events_2024 set at = '2024-04-01' where id = 2`;
    await db.sql`delete from public.events_2024 where id = 1`;
    const pending = await db.sql<{ operation: string; id: number }[]>`
      select p.operation, (coalesce(p.new_row, p.old_row) ->> 'id')::int as id from nudge.pending() p
       where p.table_name = 'events' order by p.id, p.row_index`;
    expect(pending.map((p) => `${p.operation} ${p.id}`)).toEqual([
      'insert 1',
      'insert 2',
      'update 2',
      'delete 1',
    ]);
    // Teardown drops its triggers, the partitions' clones with them.
    await teardown(db.sql);
    const [left] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from pg_trigger where tgname like 'nudge_capture_%'`;
    expect(left!.n).toBe(0);
  });
});
