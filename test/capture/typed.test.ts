// Typed capture: INSERT and DELETE captures that copy the statement's rows,
// typed, into a rows table of their own (no JSON inside the user's write),
// and the pump that merges them with nudge.event_log in capture order. Also
// what happens when the user's table changes under a deployed capture: the
// write commits and the rows are captured as JSON until the next deploy.
import type postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../src/capture/deploy.js';
import { makePlan } from '../../src/capture/plan.js';
import { listRowsTables, readCaptureState } from '../../src/capture/state.js';
import {
  capturesWaiting,
  oldestPendingCapture,
  pendingCaptures,
  pumpOnce,
} from '../../src/capture/transports/outbox/pump.js';
import {
  buildCaptureObjects,
  type CaptureNeed,
  capturedColumns,
} from '../../src/capture/triggers.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { readCatalog } from '../../src/source/catalog.js';
import type { TableName } from '../../src/source/names.js';
import { useDatabase } from '../harness/db.js';
import { onlyRollback } from '../harness/rollback.js';
import { captured } from './outbox.js';

const db = useDatabase();
const items: TableName = { schema: 'my-app', table: 'Order Items' };
const COLUMNS = [
  'id',
  'Qty "x"',
  'select',
  'MixedCase',
  'mood',
  'tags',
  'meta',
  'x',
  '$rows$ $nudge$', // the dollar-quote tags of the generated SQL
  'at',
];

/** Needs as checkFeatures makes them: with the table's columns from the catalog. */
async function needs(
  sql: postgres.Sql,
  operations: readonly ('insert' | 'update' | 'delete')[] = ['insert', 'update', 'delete'],
) {
  const table = (await readCatalog(sql)).get(items)!;
  return operations.map(
    (operation): CaptureNeed => ({
      table: items,
      operation,
      by: 'test',
      ...capturedColumns(table),
    }),
  );
}

async function deployNow(
  sql: postgres.Sql,
  operations?: readonly ('insert' | 'update' | 'delete')[],
) {
  return deploy(sql, buildCaptureObjects(await needs(sql, operations)));
}

async function inbox(sql: postgres.Sql) {
  return sql<{ source_key: string; operation: string; new_row: unknown; old_row: unknown }[]>`
    select source_key, operation, new_row, old_row from nudge_engine.inbox order by id`;
}

async function pumpAll(sql: postgres.Sql, options: { batch?: number; rowsBatch?: number } = {}) {
  let moved = 0;
  for (;;) {
    const n = await pumpOnce({ source: sql, engine: sql, route: () => 0, ...options });
    if (n === 0) return moved;
    moved += n;
  }
}

beforeAll(async () => {
  await db.sql`create schema "my-app"`;
  await db.sql`create type "my-app"."Mood" as enum ('calm', 'glad')`;
  await db.sql`create table "my-app"."Order Items" (
    id bigserial primary key,
    "Qty ""x""" integer not null,
    "select" text,
    "MixedCase" numeric(8, 3),
    mood "my-app"."Mood",
    tags text[],
    meta jsonb,
    x integer,
    "$rows$ $nudge$" text,
    at timestamptz not null default now())`;
  await migrateEngine(db.sql, db.url);
});

describe('typed capture', () => {
  it('deploys INSERT and DELETE with a rows table of the same column types, closed to the API roles', async () => {
    const result = await deployNow(db.sql);
    expect(result.plan.counts.create).toBeGreaterThan(0);
    const tables = await listRowsTables(db.sql);
    expect(tables.map((t) => [t.operation, t.columns])).toEqual([
      ['insert', COLUMNS],
      ['delete', COLUMNS],
    ]);
    const types = await db.sql<{ user: string; copy: string }[]>`
      select format_type(u.atttypid, u.atttypmod) as user, format_type(c.atttypid, c.atttypmod) as copy
        from pg_attribute u
        join pg_attribute c on c.attname = u.attname
       where u.attrelid = '"my-app"."Order Items"'::regclass and u.attnum > 0
         and c.attrelid = ${`nudge."${tables[0]!.name}"`}::regclass
       order by u.attnum`;
    expect(types.length).toBe(COLUMNS.length);
    for (const t of types) expect(t.copy).toBe(t.user);
    const grants = await db.sql<{ role: string; can: boolean }[]>`
      select r as role, has_table_privilege(r, ${`nudge."${tables[0]!.name}"`}, 'select, insert') as can
        from unnest(array['anon', 'authenticated']) as r`;
    expect(grants).toEqual([
      { role: 'anon', can: false },
      { role: 'authenticated', can: false },
    ]);
    // UPDATE stays a row-level JSON capture (it pairs old and new rows).
    const plan = makePlan(buildCaptureObjects(await needs(db.sql)), await readCaptureState(db.sql));
    expect(plan.hasChanges).toBe(false);
    expect(plan.desired.map((o) => [o.operation, o.rows ? 'typed' : 'json'])).toEqual([
      ['insert', 'typed'],
      ['update', 'json'],
      ['delete', 'typed'],
    ]);
  });

  it('captures every row exactly, merged with event_log in capture order, and rollbacks not at all', async () => {
    await db.sql`insert into "my-app"."Order Items" ("Qty ""x""", "select", "MixedCase", mood, tags, meta, x, "$rows$ $nudge$")
                 values (1, 'it''s', 1.5, 'calm', '{a,"b c"}', '{"k": [1, null]}', 7, 'dollars')`;
    await db.sql`update "my-app"."Order Items" set "Qty ""x""" = 2 where "Qty ""x""" = 1`;
    await db.sql`insert into "my-app"."Order Items" ("Qty ""x""") select g from generate_series(10, 14) g`;
    await db.sql
      .begin(async (tx) => {
        await tx`insert into "my-app"."Order Items" ("Qty ""x""") values (99)`;
        throw new Error('roll back');
      })
      .catch(onlyRollback('roll back'));
    await db.sql`delete from "my-app"."Order Items" where "Qty ""x""" = 2`;
    expect(await pendingCaptures(db.sql)).toBe(8);
    // The lag's oldest time: the first insert's, in a rows table (not in event_log).
    const [update] = await db.sql<
      { at: Date }[]
    >`select min(captured_at) as at from nudge.event_log`;
    const oldest = await oldestPendingCapture(db.sql);
    expect(oldest).not.toBeNull();
    expect(oldest!.getTime()).toBeLessThan(update!.at.getTime());
    const before = await captured(db.sql);
    // Columns in table order (the inbox keeps rows as jsonb, which sorts keys).
    expect(Object.keys(before[0]!.new_rows![0]!)).toEqual(COLUMNS);
    expect(
      before.map((c) => `${c.operation} ${c.store === 'event_log' ? 'json' : 'typed'}`),
    ).toEqual(['insert typed', 'update json', ...Array(5).fill('insert typed'), 'delete typed']);

    // Small batches, so the merge has to hold rows back across claims.
    expect(await pumpAll(db.sql, { batch: 1, rowsBatch: 2 })).toBe(8);
    expect(await pendingCaptures(db.sql)).toBe(0);
    expect(await oldestPendingCapture(db.sql)).toBeNull();
    const moved = await inbox(db.sql);
    expect(moved.map((e) => e.source_key)).toEqual(before.map((c) => `${c.id}:0`));
    const first = moved[0]!.new_row as Record<string, unknown>;
    expect(first).toMatchObject({
      'Qty "x"': 1,
      select: "it's",
      MixedCase: 1.5,
      mood: 'calm',
      tags: ['a', 'b c'],
      meta: { k: [1, null] },
      x: 7,
      '$rows$ $nudge$': 'dollars',
    });
    expect(moved.at(-1)).toMatchObject({
      operation: 'delete',
      new_row: null,
      old_row: { 'Qty "x"': 2 },
    });
    expect(
      moved.some((e) => (e.new_row as { 'Qty "x"'?: number } | null)?.['Qty "x"'] === 99),
    ).toBe(false);
  });

  it('captures as JSON when the table changed since the deploy, and typed again after the next deploy', async () => {
    await db.sql`alter table "my-app"."Order Items" drop column "select"`;
    await db.sql`insert into "my-app"."Order Items" ("Qty ""x""") values (20)`;
    const fallback = await captured(db.sql);
    expect(fallback.map((c) => [c.store, c.new_rows?.[0]?.['Qty "x"']])).toEqual([
      ['event_log', 20],
    ]);
    const [failed] = await db.sql<
      { n: number }[]
    >`select count(*)::int as n from nudge.failed_events`;
    expect(failed!.n).toBe(0);

    await db.sql`alter table "my-app"."Order Items" add column note text`;
    await db.sql`alter table "my-app"."Order Items" alter column "MixedCase" type numeric(12, 4)`;
    await db.sql`insert into "my-app"."Order Items" ("Qty ""x""", "MixedCase") values (21, 1.2345)`;
    // "select" is gone, so the deployed copy fails: JSON, with the deployed
    // columns still there (note is new: not captured until the next deploy).
    const json = (await captured(db.sql)).at(-1)!;
    expect(json).toMatchObject({
      store: 'event_log',
      new_rows: [{ 'Qty "x"': 21, MixedCase: 1.2345 }],
    });
    expect(Object.keys(json.new_rows![0]!)).not.toContain('note');
    expect(Object.keys(json.new_rows![0]!)).not.toContain('select');
    const old = (await listRowsTables(db.sql)).map((t) => t.name).sort();
    const plan = makePlan(buildCaptureObjects(await needs(db.sql)), await readCaptureState(db.sql));
    expect(
      plan.items.filter((i) => i.kind === 'capture').map((i) => `${i.action} ${i.subject}`),
    ).toEqual([
      'replace "my-app"."Order Items" insert',
      // The update trigger names the columns it copies: a new shape replaces it too.
      'replace "my-app"."Order Items" update',
      'replace "my-app"."Order Items" delete',
      ...old.map((name) => `drop table nudge.${name}`).reverse(),
    ]);
    // A new shape is a new rows table (insert and delete have one), made with
    // its trigger: not one dropped by hand.
    expect(plan.items.flatMap((i) => i.drift ?? [])).toEqual([]);
    expect(plan.items.filter((i) => i.action === 'replace').map((i) => i.createsRowsTable)).toEqual(
      [
        expect.stringMatching(/^rows_order_items_insert_/),
        undefined,
        expect.stringMatching(/^rows_order_items_delete_/),
      ],
    );
    await deployNow(db.sql);
    // Rows tables of the new shape; the old ones were empty, so they went.
    const now = await listRowsTables(db.sql);
    expect(now.filter((t) => old.includes(t.name))).toEqual([]);
    const fresh = now.find((t) => t.operation === 'insert' && !old.includes(t.name))!;
    expect(fresh.columns).toEqual([...COLUMNS.filter((c) => c !== 'select'), 'note']);
    const [numeric] = await db.sql<{ type: string }[]>`
      select format_type(atttypid, atttypmod) as type from pg_attribute
       where attrelid = ${`nudge."${fresh.name}"`}::regclass and attname = 'MixedCase'`;
    expect(numeric!.type).toBe('numeric(12,4)');
    await db.sql`insert into "my-app"."Order Items" ("Qty ""x""", "MixedCase", note) values (22, 1.2345, 'new column')`;
    const after = await captured(db.sql);
    expect(after.map((c) => c.store)).toEqual(['event_log', 'event_log', fresh.name]);
    expect(after.at(-1)!.new_rows).toEqual([
      expect.objectContaining({ 'Qty "x"': 22, MixedCase: 1.2345, note: 'new column' }),
    ]);
    expect(await pumpAll(db.sql, { batch: 1, rowsBatch: 1 })).toBe(3);
    expect((await inbox(db.sql)).slice(-3).map((e) => e.source_key)).toEqual(
      after.map((c) => `${c.id}:0`),
    );
  });

  it('repairs a rows table dropped by hand, capturing as JSON meanwhile', async () => {
    const insert = (await listRowsTables(db.sql)).find((t) => t.operation === 'insert');
    await db.sql.unsafe(`drop table nudge."${insert!.name}"`);
    await db.sql`insert into "my-app"."Order Items" ("Qty ""x""") values (30)`;
    expect((await captured(db.sql)).map((c) => c.store)).toEqual(['event_log']);
    const plan = makePlan(buildCaptureObjects(await needs(db.sql)), await readCaptureState(db.sql));
    const item = plan.items.find((i) => i.subject === '"my-app"."Order Items" insert')!;
    expect(item.action).toBe('replace');
    expect(item.drift).toEqual([
      'rows table was dropped by hand (rows were captured as JSON meanwhile)',
    ]);
    await deployNow(db.sql);
    await db.sql`insert into "my-app"."Order Items" ("Qty ""x""") values (31)`;
    expect((await captured(db.sql)).map((c) => c.store === 'event_log')).toEqual([true, false]);
    expect(await pumpAll(db.sql)).toBe(2);
  });

  it('keeps an orphaned rows table until the pump has emptied it, then drops it', async () => {
    await db.sql`insert into "my-app"."Order Items" ("Qty ""x""") values (40)`;
    const insert = (await listRowsTables(db.sql)).find((t) => t.operation === 'insert')!.name;
    await deployNow(db.sql, ['update']);
    expect((await listRowsTables(db.sql)).map((t) => t.name)).toEqual([insert]); // the delete one was empty
    expect(await pumpAll(db.sql)).toBe(1);
    const plan = makePlan(
      buildCaptureObjects(await needs(db.sql, ['update'])),
      await readCaptureState(db.sql),
    );
    expect(plan.items.filter((i) => i.action === 'drop').map((i) => i.subject)).toEqual([
      `table nudge.${insert}`,
    ]);
    await deployNow(db.sql, ['update']);
    expect(await listRowsTables(db.sql)).toEqual([]);
    // The idle look still knew the dropped table: it looks again instead of
    // failing on every turn (the pump runs only when a look says so).
    expect(await capturesWaiting(db.sql)).toBe(false);
    await db.sql`update "my-app"."Order Items" set x = 2 where "Qty ""x""" = 40`;
    expect(await capturesWaiting(db.sql)).toBe(true);
    expect(await pumpAll(db.sql)).toBe(1);
  });

  it('tells an idle pump whether it has anything to claim, and to look after a deploy it has not seen', async () => {
    // Only updates are captured (the test above): into event_log.
    await pumpAll(db.sql);
    expect(await capturesWaiting(db.sql)).toBe(false);
    await db.sql`update "my-app"."Order Items" set x = 1 where "Qty ""x""" = 40`;
    expect(await capturesWaiting(db.sql)).toBe(true);
    expect(await pumpAll(db.sql)).toBe(1);
    expect(await capturesWaiting(db.sql)).toBe(false);
    // A deploy adds the rows table of inserts: the pump has not listed it yet,
    // so it must claim (and list the rows tables again) before trusting a look.
    await deployNow(db.sql, ['insert', 'update']);
    expect(await capturesWaiting(db.sql)).toBe(true);
    expect(await pumpAll(db.sql)).toBe(0);
    expect(await capturesWaiting(db.sql)).toBe(false);
    await db.sql`insert into "my-app"."Order Items" ("Qty ""x""") values (50)`;
    expect((await captured(db.sql)).map((c) => c.store)).not.toContain('event_log');
    expect(await capturesWaiting(db.sql)).toBe(true);
    expect(await pumpAll(db.sql)).toBe(1);
    expect(await capturesWaiting(db.sql)).toBe(false);
  });
});
