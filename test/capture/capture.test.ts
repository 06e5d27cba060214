// Capture against a real Supabase-shaped database: deploy, idempotence, drift,
// orphans, teardown, and the invariants — a Nudge failure never fails the
// user's write, rollbacks emit nothing, odd identifiers work, and the API roles
// cannot reach schema nudge.
import type postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { deploy, nudgeTriggers, teardown } from '../../src/capture/deploy.js';
import { makePlan } from '../../src/capture/plan.js';
import { readCaptureState } from '../../src/capture/state.js';
import { buildCaptureObjects, type CaptureNeed } from '../../src/capture/triggers.js';
import { ident, literal } from '../../src/db/quote.js';
import { useDatabase } from '../harness/db.js';
import { onlyRollback } from '../harness/rollback.js';

const db = useDatabase();
const orders = { schema: 'public', table: 'orders' };
const items = { schema: 'my-app', table: 'Order Items' };

const objects = buildCaptureObjects;

const paidOnly: CaptureNeed['filter'] = (row) =>
  `${row.new('status')} = ${literal('paid')} AND ${row.old('status')} IS DISTINCT FROM ${row.new('status')}`;

const baseNeeds: CaptureNeed[] = [
  { table: orders, operation: 'insert', by: 'order-placed' },
  { table: orders, operation: 'insert', by: 'heartbeat' },
  { table: orders, operation: 'update', by: 'order-paid', filter: paidOnly },
  { table: orders, operation: 'delete', by: 'order-deleted' },
];

async function plan(sql: postgres.Sql, needs: CaptureNeed[]) {
  return makePlan(objects(needs), await readCaptureState(sql));
}

type Row = Record<string, unknown>;

/** The outbox expanded to one event per captured row, in order. */
async function events(sql: postgres.Sql, where = sql`true`) {
  return sql<
    { operation: string; new_row: Row | null; old_row: Row | null; enrichment: unknown }[]
  >`
    select e.operation, e.new_rows -> (r.i)::int as new_row, e.old_rows -> (r.i)::int as old_row,
           e.enrichment -> (r.i)::int as enrichment
      from nudge.event_log e, generate_series(0, e.row_count - 1) as r(i)
     where ${where}
     order by e.id, r.i`;
}

beforeAll(async () => {
  await db.sql`create table public.orders (
    id bigserial primary key, user_id uuid references auth.users (id), total numeric(10,2),
    status text not null default 'new', created_at timestamptz not null default now())`;
});

describe('deploy', () => {
  it('plans the schema and one trigger per table and operation, shared by features', async () => {
    const first = await plan(db.sql, baseNeeds);
    expect(first.items.map((i) => `${i.action} ${i.kind} ${i.subject}`)).toEqual([
      'create schema nudge',
      'create capture public.orders insert',
      'create capture public.orders update',
      'create capture public.orders delete',
    ]);
    expect(first.items[1]!.detail).toContain('used by heartbeat, order-placed');
  });

  it('applies the plan, records a deployment, and a second deploy changes nothing', async () => {
    const result = await deploy(db.sql, objects(baseNeeds));
    expect(result.deploymentId).toBeGreaterThan(0);
    const triggers = await nudgeTriggers(db.sql);
    expect(triggers.map((t) => `${t.schema}.${t.table}.${t.name}`)).toEqual([
      'public.orders.nudge_capture_delete',
      'public.orders.nudge_capture_insert',
      'public.orders.nudge_capture_update',
    ]);
    const again = await deploy(db.sql, objects(baseNeeds));
    expect(again.plan.hasChanges).toBe(false);
    expect(again.deploymentId).toBeUndefined();
    const [count] = await db.sql<{ n: number }[]>`select count(*)::int as n from nudge.deployments`;
    expect(count!.n).toBe(1);
  });

  it('captures committed writes in the outbox, filtered, and nothing for rolled-back ones', async () => {
    await db.sql`delete from nudge.event_log`;
    const [order] = await db.sql`insert into orders (total) values (10), (20) returning id`;
    await db.sql`update orders set total = 11 where id = ${order!.id}`; // not paid: filtered out
    await db.sql`update orders set status = 'paid' where id = ${order!.id}`;
    await db.sql`delete from orders where id = ${order!.id}`;
    await db.sql
      .begin(async (tx) => {
        await tx`insert into orders (total) values (99)`;
        throw new Error('roll back');
      })
      .catch(onlyRollback('roll back'));
    const captured = await events(db.sql);
    expect(captured.map((e) => e.operation)).toEqual(['insert', 'insert', 'update', 'delete']);
    expect(captured[0]!.new_row).toMatchObject({ total: 10, status: 'new' });
    expect(captured[2]!.old_row).toMatchObject({ status: 'new' });
    expect(captured[2]!.new_row).toMatchObject({ status: 'paid' });
    expect(captured.some((e) => (e.new_row as { total?: number } | null)?.total === 99)).toBe(
      false,
    );
  });

  it('captures a multi-row statement as chunks holding every row in order', async () => {
    await db.sql`delete from nudge.event_log`;
    await db.sql`insert into orders (total) select g from generate_series(1, 2500) g`;
    const chunks = await db.sql<{ row_count: number }[]>`
      select row_count from nudge.event_log order by id`;
    expect(chunks.map((c) => c.row_count)).toEqual([1000, 1000, 500]);
    const totals = (await events(db.sql)).map((e) => e.new_row?.total);
    expect(totals).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
  });

  it('drops orphans when a feature goes away', async () => {
    const fewer = baseNeeds.filter((n) => n.operation !== 'delete');
    const p = await plan(db.sql, fewer);
    expect(p.items.filter((i) => i.action === 'drop').map((i) => i.subject)).toEqual([
      'public.orders delete',
    ]);
    await deploy(db.sql, objects(fewer));
    expect((await nudgeTriggers(db.sql)).map((t) => t.name)).not.toContain('nudge_capture_delete');
    await deploy(db.sql, objects(baseNeeds));
  });
});

describe('drift', () => {
  it('detects a trigger disabled by hand and repairs it', async () => {
    await db.sql`alter table orders disable trigger nudge_capture_insert`;
    const p = await plan(db.sql, baseNeeds);
    const item = p.items.find((i) => i.subject === 'public.orders insert')!;
    expect(item.action).toBe('replace');
    expect(item.drift).toEqual(['trigger was disabled by hand']);
    await deploy(db.sql, objects(baseNeeds));
    expect((await plan(db.sql, baseNeeds)).hasChanges).toBe(false);
  });

  it('detects a function edited by hand, a trigger dropped by hand, and a dropped function', async () => {
    const [fn] = await db.sql<{ name: string }[]>`
      select p.proname as name from pg_trigger t join pg_proc p on p.oid = t.tgfoid
      where t.tgname = 'nudge_capture_update' and t.tgrelid = 'public.orders'::regclass`;
    await db.sql.unsafe(`CREATE OR REPLACE FUNCTION nudge.${ident(fn!.name)}() RETURNS trigger
      LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$`);
    await db.sql`drop trigger nudge_capture_delete on orders`;
    const p = await plan(db.sql, baseNeeds);
    const drift = Object.fromEntries(p.items.map((i) => [i.subject, i.drift]));
    // CREATE OR REPLACE without SECURITY DEFINER and SET search_path drops them too.
    expect(drift['public.orders update']).toEqual([
      'function body was edited by hand',
      'function was made SECURITY INVOKER by hand (writes by roles without access to schema nudge are not captured)',
      'function settings were changed by hand',
    ]);
    expect(drift['public.orders delete']).toEqual(['trigger was dropped by hand']);
    await deploy(db.sql, objects(baseNeeds));

    const [del] = await db.sql<{ name: string }[]>`
      select p.proname as name from pg_trigger t join pg_proc p on p.oid = t.tgfoid
      where t.tgname = 'nudge_capture_delete' and t.tgrelid = 'public.orders'::regclass`;
    await db.sql.unsafe(`DROP FUNCTION nudge.${ident(del!.name)}() CASCADE`);
    const after = await plan(db.sql, baseNeeds);
    const recreated = after.items.find((i) => i.subject === 'public.orders delete')!;
    expect(recreated.action).toBe('create');
    expect(recreated.drift).toEqual(['capture function was dropped by hand']);
    await deploy(db.sql, objects(baseNeeds));
    expect((await plan(db.sql, baseNeeds)).hasChanges).toBe(false);
  });

  it('detects privileges granted by hand and outbox tables dropped by hand', async () => {
    await db.sql`grant select on nudge.event_log to anon`;
    await db.sql`drop table nudge.failed_events`;
    const p = await plan(db.sql, baseNeeds);
    expect(p.items.flatMap((i) => i.drift ?? [])).toEqual(
      expect.arrayContaining([
        'table nudge.failed_events was dropped by hand',
        'granted by hand: anon: select on nudge.event_log',
      ]),
    );
    await deploy(db.sql, objects(baseNeeds));
    expect((await plan(db.sql, baseNeeds)).hasChanges).toBe(false);
  });
});

describe('invariants', () => {
  it('never fails the write when enrichment breaks: the row commits and the failure is recorded', async () => {
    await db.sql`create table public.profiles (id uuid primary key, plan text)`;
    const enriched: CaptureNeed[] = [
      ...baseNeeds.filter((n) => n.operation !== 'insert'),
      {
        table: orders,
        operation: 'insert',
        by: 'order-placed',
        enrichments: [
          {
            name: 'profile',
            target: { schema: 'public', table: 'profiles' },
            targetColumn: 'id',
            targetType: 'uuid',
            sourceField: 'user_id',
            columns: ['plan'],
          },
        ],
      },
    ];
    await deploy(db.sql, objects(enriched));
    const [user] =
      await db.sql`insert into auth.users (id, email) values (gen_random_uuid(), 'e@x.io') returning id`;
    await db.sql`insert into profiles values (${user!.id}, 'pro')`;
    await db.sql`delete from nudge.event_log`;
    await db.sql`insert into orders (user_id, total) values (${user!.id}, 5)`;
    const [ok] = await events(db.sql);
    expect(ok!.enrichment).toEqual({ profile: { plan: 'pro' } });
    // A multi-row statement takes the chunked path; enrichment stays aligned with its rows.
    const [other] =
      await db.sql`insert into auth.users (id, email) values (gen_random_uuid(), 'f@x.io') returning id`;
    await db.sql`delete from nudge.event_log`;
    await db.sql`insert into orders (user_id, total) values (${user!.id}, 1), (${other!.id}, 2), (null, 3)`;
    const multi = await events(db.sql);
    expect(multi.map((e) => [e.new_row?.total, e.enrichment])).toEqual([
      [1, { profile: { plan: 'pro' } }],
      [2, { profile: null }],
      [3, { profile: null }],
    ]);

    // Break the enrichment query behind Nudge's back.
    await db.sql`drop table public.profiles`;
    const [order] =
      await db.sql`insert into orders (user_id, total) values (${user!.id}, 7) returning id`;
    expect(order!.id).toBeDefined();
    const [failed] = await db.sql<
      { sqlstate: string; message: string; new_row: { total: number } }[]
    >`
      select sqlstate, message, new_row from nudge.failed_events order by id desc limit 1`;
    expect(failed!.sqlstate).toBe('42P01');
    expect(failed!.message).toContain('profiles');
    expect(failed!.new_row.total).toBe(7);
    await deploy(db.sql, objects(baseNeeds));
  });

  it('works with spaces, quotes, reserved words and mixed case in names', async () => {
    await db.sql.unsafe(`CREATE SCHEMA "my-app";
      CREATE TABLE "my-app"."Order Items" (id serial PRIMARY KEY, "select" text, "Quote""d" int, "Total" numeric,
        n int, i int, r text, c text, j text)`);
    const needs: CaptureNeed[] = [
      ...baseNeeds,
      {
        table: items,
        operation: 'insert',
        by: "it's-odd",
        filter: (row) => `${row.new('select')} <> ${literal("it's")}`,
      },
      { table: items, operation: 'update', by: 'odd-update' },
    ];
    await deploy(db.sql, objects(needs));
    await db.sql.unsafe(
      `INSERT INTO "my-app"."Order Items" ("select", "Quote""d", "Total", n, i) VALUES ('a', 1, 2, 7, 8), ('it''s', 3, 4, 9, 9)`,
    );
    // Columns named like the trigger's own aliases (n, i, r, c, j) must not confuse it.
    await db.sql.unsafe(`INSERT INTO "my-app"."Order Items" ("select", n) VALUES ('single', 5)`);
    await db.sql.unsafe(`UPDATE "my-app"."Order Items" SET "Total" = 5 WHERE "select" = 'a'`);
    const captured = await events(
      db.sql,
      db.sql`schema_name = 'my-app' and table_name = 'Order Items'`,
    );
    expect(
      captured.map((e) => [e.operation, e.new_row?.select, e.new_row?.['Quote"d'], e.new_row?.n]),
    ).toEqual([
      ['insert', 'a', 1, 7],
      ['insert', 'single', null, 5],
      ['update', 'a', 1, 7],
    ]);
    const [failures] = await db.sql<
      { n: number }[]
    >`select count(*)::int as n from nudge.failed_events where schema_name = 'my-app'`;
    expect(failures!.n).toBe(0);
    expect((await plan(db.sql, needs)).hasChanges).toBe(false);
  });

  it('keeps anon and authenticated out of schema nudge, while still capturing their writes', async () => {
    for (const role of ['anon', 'authenticated']) {
      const [access] = await db.sql<{ schema: boolean; tables: boolean; functions: boolean }[]>`
        select has_schema_privilege(${role}, 'nudge', 'USAGE') as schema,
               bool_or(has_table_privilege(${role}, c.oid, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER')) as tables,
               (select bool_or(has_function_privilege(${role}, p.oid, 'EXECUTE'))
                  from pg_proc p where p.pronamespace = 'nudge'::regnamespace) as functions
          from pg_class c where c.relnamespace = 'nudge'::regnamespace and c.relkind in ('r', 'S')`;
      expect(access).toEqual({ schema: false, tables: false, functions: false });
      await expect(
        db.sql.begin(async (tx) => {
          await tx.unsafe(`SET LOCAL ROLE ${role}`);
          await tx`select * from nudge.event_log`;
        }),
      ).rejects.toThrow(/permission denied/);
    }
    // A write through the API as `authenticated` is captured (SECURITY DEFINER).
    await db.sql`alter table orders enable row level security`;
    await db.sql`create policy own_orders on orders for insert to authenticated with check (true)`;
    await db.sql`grant usage on sequence orders_id_seq to authenticated`;
    await db.sql`delete from nudge.event_log`;
    await db.sql.begin(async (tx) => {
      await tx`set local role authenticated`;
      await tx`insert into orders (total) values (42)`;
    });
    const captured = await events(db.sql);
    expect(captured.map((e) => e.new_row?.total)).toEqual([42]);
  });
});

describe('teardown', () => {
  it('removes every Nudge object and leaves the tables and their data', async () => {
    const result = await teardown(db.sql);
    expect(result.triggers).toBeGreaterThan(0);
    expect(await nudgeTriggers(db.sql)).toEqual([]);
    const [schema] =
      await db.sql`select count(*)::int as n from pg_namespace where nspname = 'nudge'`;
    expect(schema!.n).toBe(0);
    const [rows] = await db.sql`select count(*)::int as n from orders`;
    expect(rows!.n).toBeGreaterThan(0);
  });
});
