// Drift of what deploy makes besides the trigger functions: a typed
// capture's rows table altered by hand (a column dropped, retyped or made
// NOT NULL, one added, a default taken away), and nudge.enrich() or
// nudge.pending() edited by hand. Each is shown by plan, repaired by deploy,
// and plan shows nothing to do afterwards.
import type postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { listRowsTables } from '../../src/capture/state.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { ident } from '../../src/db/quote.js';
import { useDatabase } from '../harness/db.js';
import { capturesOf, pumpAll, rowsTableOf } from './drift.js';
import { captured } from './outbox.js';

const db = useDatabase();
const parcels = { schema: 'public', table: 'parcels' };
const shipping = capturesOf(parcels, ['insert', 'delete'], 'shipping');
const plan = shipping.plan;
const deployNow = shipping.deploy;
const insertRowsTable = (sql: postgres.Sql) => rowsTableOf(sql, 'insert');

/** The rows table's columns as `name type [not null] [default]`, in order. */
async function shape(sql: postgres.Sql, name: string): Promise<string[]> {
  const rows = await sql<{ line: string }[]>`
    select a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || case when a.attnotnull then ' not null' else '' end
           || case when a.atthasdef then ' default' else '' end as line
      from pg_attribute a
     where a.attrelid = ${`nudge.${ident(name)}`}::regclass and a.attnum > 0 and not a.attisdropped
     order by a.attnum`;
  return rows.map((r) => r.line);
}

beforeAll(async () => {
  await db.sql`create table public.parcels (
    id bigserial primary key, label text, weight integer, sent_at timestamptz)`;
  await migrateEngine(db.sql, db.url);
});

describe('rows table drift', () => {
  it('shows a rows table altered by hand, says what differs, and makes it again', async () => {
    await deployNow(db.sql);
    expect((await plan(db.sql)).hasChanges).toBe(false);
    const name = await insertRowsTable(db.sql);
    const deployed = await shape(db.sql, name);
    const table = `nudge.${ident(name)}`;
    await db.sql.unsafe(`alter table ${table} drop column label`);
    await db.sql.unsafe(`alter table ${table} alter column weight type text`);
    await db.sql.unsafe(`alter table ${table} add column note text not null`);
    await db.sql.unsafe(`alter table ${table} alter column sent_at set not null`);
    await db.sql.unsafe(`alter table ${table} alter column "nudge:id" drop default`);

    // Captures no longer copy typed rows (they fall back to JSON in event_log).
    await db.sql`insert into parcels (label, weight) values ('a', 1)`;
    expect((await captured(db.sql)).map((c) => c.store)).toEqual(['event_log']);

    const p = await plan(db.sql);
    const item = p.items.find((i) => i.subject === 'public.parcels insert')!;
    expect(item.action).toBe('replace');
    expect(item.drift).toEqual([
      `rows table nudge.${name} was changed by hand: column "nudge:id" lost its default; column label was dropped; column weight is text, not integer; column sent_at was made NOT NULL; column note (text NOT NULL) was added; deploy makes it again (it is empty)`,
    ]);
    expect(p.items.find((i) => i.subject === 'public.parcels delete')!.action).toBe('unchanged');

    await pumpAll(db.sql);
    await deployNow(db.sql);
    expect(await shape(db.sql, name)).toEqual(deployed);
    expect((await plan(db.sql)).hasChanges).toBe(false);
    await db.sql`insert into parcels (label, weight) values ('b', 2)`;
    expect((await captured(db.sql)).map((c) => c.store)).toEqual([name]);
    expect(await pumpAll(db.sql)).toBe(1);
  });

  it('sets a rows table holding rows aside for the pump, and makes a new one', async () => {
    const name = await insertRowsTable(db.sql);
    const deployed = await shape(db.sql, name);
    await db.sql`insert into parcels (label, weight) values ('held', 3)`;
    await db.sql.unsafe(`alter table nudge.${ident(name)} add column extra text`);

    const p = await plan(db.sql);
    expect(p.items.find((i) => i.subject === 'public.parcels insert')!.drift).toEqual([
      `rows table nudge.${name} was changed by hand: column extra (text) was added; deploy makes it again (the rows it holds are set aside for the engine, then dropped)`,
    ]);
    await deployNow(db.sql);
    expect(await shape(db.sql, name)).toEqual(deployed);
    const after = await plan(db.sql);
    expect(after.hasChanges).toBe(false);
    const aside = after.items.filter((i) => i.waiting).map((i) => i.subject);
    expect(aside).toEqual([expect.stringMatching(new RegExp(`^table nudge\\.${name}_drift1$`))]);

    // The row captured before the repair is still delivered, before the new one.
    await db.sql`insert into parcels (label, weight) values ('fresh', 4)`;
    expect((await captured(db.sql)).map((c) => [c.store, c.new_rows?.[0]?.label])).toEqual([
      [`${name}_drift1`, 'held'],
      [name, 'fresh'],
    ]);
    expect(await pumpAll(db.sql)).toBe(2);
    const drained = await plan(db.sql);
    expect(drained.items.filter((i) => i.action !== 'unchanged').map((i) => i.subject)).toEqual([
      `table nudge.${name}_drift1`,
    ]);
    await deployNow(db.sql);
    expect((await plan(db.sql)).hasChanges).toBe(false);
  });
});

describe('an old rows table with its metadata dropped', () => {
  it('is shown, given its columns back by deploy, and emptied by the pump', async () => {
    await deployNow(db.sql);
    const old = await insertRowsTable(db.sql);
    await db.sql`insert into parcels (label, weight) values ('waiting', 5)`;
    // A new column: the capture copies whole rows, so it writes a new rows table.
    await db.sql`alter table parcels add column note text`;
    await deployNow(db.sql);
    const inserts = (await listRowsTables(db.sql)).filter((t) => t.operation === 'insert');
    expect(inserts.map((t) => t.name).filter((name) => name !== old)).toHaveLength(1);
    await db.sql.unsafe(`alter table nudge.${ident(old)} drop column "nudge:at"`);

    const p = await plan(db.sql);
    const item = p.items.find((i) => i.subject === `table nudge.${old}`)!;
    expect([item.action, item.drift]).toEqual([
      'replace',
      ['column "nudge:at" was dropped by hand'],
    ]);
    expect(item.detail).toBe(
      'old outbox: rows table no capture uses, still holding rows: deploy puts back "nudge:at" so the engine can empty it',
    );
    await deployNow(db.sql);
    const after = await plan(db.sql);
    expect(after.items.find((i) => i.subject === `table nudge.${old}`)!.action).toBe('unchanged');
    expect(after.hasChanges).toBe(false);
    expect(await pumpAll(db.sql)).toBe(1);
    await deployNow(db.sql); // drops the emptied table
    expect((await plan(db.sql)).hasChanges).toBe(false);
    await db.sql`alter table parcels drop column note`;
    await deployNow(db.sql);
  });
});

describe('schema function drift', () => {
  it('shows nudge.enrich() edited by hand and restores it', async () => {
    await db.sql.unsafe(`CREATE OR REPLACE FUNCTION nudge.enrich(p_schema text, p_table text, p_row json)
      RETURNS json LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
      AS $$ BEGIN RETURN '{}'; END $$`);
    const p = await plan(db.sql);
    const item = p.items.find((i) => i.kind === 'schema')!;
    expect(item.action).toBe('replace');
    expect(item.drift).toEqual(['function nudge.enrich() was edited by hand']);
    expect(item.detail).toBe('restore nudge.enrich() as migration 001 defines it');
    await deployNow(db.sql);
    expect((await plan(db.sql)).hasChanges).toBe(false);
  });

  it('shows nudge.enrich() made SECURITY INVOKER and nudge.pending() given settings by hand', async () => {
    await db.sql`alter function nudge.enrich(text, text, json) security invoker`;
    await db.sql`alter function nudge.pending() set work_mem = '1MB'`;
    const item = (await plan(db.sql)).items.find((i) => i.kind === 'schema')!;
    expect(item.action).toBe('replace');
    expect(item.drift).toEqual([
      'function nudge.enrich() was made SECURITY INVOKER by hand',
      'function nudge.pending() settings were changed by hand',
    ]);
    await deployNow(db.sql);
    expect((await plan(db.sql)).hasChanges).toBe(false);
  });

  it('leaves the functions of a newer Nudge’s schema alone', async () => {
    // A later release migrated the schema past what this one knows and
    // redefined nudge.pending(): not drift, and not to be put back.
    await db.sql`alter function nudge.pending() set work_mem = '1MB'`;
    await db.sql`insert into nudge.schema_migrations (version, name) values (999, 'from a newer nudge')`;
    try {
      const item = (await plan(db.sql)).items.find((i) => i.kind === 'schema');
      expect(item?.drift ?? []).toEqual([]);
      expect(item?.action ?? 'unchanged').toBe('unchanged');
    } finally {
      await db.sql`delete from nudge.schema_migrations where version = 999`;
      await deployNow(db.sql);
    }
  });
});
