// capture: replication against a real server: the plan and deploy of its
// publications, replica identities (FULL, and DEFAULT again) and slot,
// drift, teardown, and the
// consumer's basic promises — committed rows once each in commit order,
// rolled-back ones never, odd identifiers, only the copied columns.
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, teardown } from '../../src/capture/deploy.js';
import { itemStatements, makePlan, type Plan } from '../../src/capture/plan.js';
import { readCaptureState } from '../../src/capture/state.js';
import type { DesiredCaptures } from '../../src/capture/transports/port.js';
import { type Consumer, startConsumer } from '../../src/capture/transports/replication/consumer.js';
import { replicationObjects } from '../../src/capture/transports/replication/desired.js';
import { REPLICATION_FIRST } from '../../src/capture/transports/replication/objects.js';
import { replicationItems } from '../../src/capture/transports/replication/plan.js';
import { buildCaptureObjects, type CaptureNeed } from '../../src/capture/triggers.js';
import { literal } from '../../src/db/quote.js';
import { useDatabase } from '../harness/db.js';
import { onlyRollback } from '../harness/rollback.js';
import { waitFor } from '../harness/wait.js';
import {
  deployReplication,
  dropSlotAfterAll,
  migrated,
  replicated,
  serverVersion,
  slotFor,
} from '../replication/helpers.js';

const db = useDatabase();
dropSlotAfterAll(db);
const orders = { schema: 'public', table: 'orders' };
const items = { schema: 'my-app', table: 'Order "Items"' };
const prefs = { schema: 'public', table: 'prefs' };
const columnsOf = (names: string[]) => names.map((name) => ({ name, type: 'text' }));

const needs = (): CaptureNeed[] => [
  {
    table: orders,
    operation: 'insert',
    by: 'order-placed',
    columns: columnsOf(['id', 'status', 'total', 'secret_note']),
    primaryKey: ['id'],
    reads: { columns: ['status'] },
    filter: (row) => `${row.new('status')} <> ${literal('draft')}`,
  },
  { table: orders, operation: 'update', by: 'order-paid' },
  { table: items, operation: 'insert', by: 'items' },
  { table: items, operation: 'delete', by: 'items' },
];

const log = { info: () => {}, warn: () => {} };
let consumer: Consumer | undefined;
const consume = () =>
  startConsumer({
    url: db.url,
    slot: slotFor(db),
    captures: replicationObjects(needs(), { slot: slotFor(db), serverVersion: 170000 }).replication!
      .captures,
    engine: db.sql,
    route: () => 0,
    log,
    leaderPollMs: 100,
  });

beforeAll(async () => {
  await db.sql`create table public.orders (
    id bigserial primary key, status text not null default 'new', total numeric(10,2), secret_note text)`;
  await db.sql.unsafe(`create schema "my-app";
    create table "my-app"."Order ""Items""" ("Item Id" int, "Mixed Case" text);
    create table public.prefs (id int primary key, theme text);
    alter table public.prefs replica identity full`);
  await migrated(db);
});

afterAll(async () => {
  await consumer?.stop();
});

describe('plan and deploy', () => {
  it('plans three publications, FULL identity where old rows are captured, and the slot', async () => {
    const desired = replicationObjects(needs(), {
      slot: slotFor(db),
      serverVersion: await serverVersion(db.sql),
    });
    const plan = makePlan(desired, await readCaptureState(db.sql));
    expect(plan.items.map((i) => `${i.action} ${i.kind} ${i.subject}`)).toEqual([
      'create schema nudge',
      'replace replica identity "my-app"."Order ""Items"""',
      'replace replica identity public.orders',
      `create publication ${slotFor(db)}_insert`,
      `create publication ${slotFor(db)}_update`,
      `create publication ${slotFor(db)}_delete`,
      `create slot ${slotFor(db)}`,
    ]);
    expect(plan.items[1]!.detail).toContain('DEFAULT again when none is captured');
    // orders is captured on update: published whole (FULL identity), filtered on insert only;
    // the plan says so, and what the engine keeps of it.
    const insert = plan.items[3]!;
    expect(insert.detail).toBe(
      `publish insert · "my-app"."Order ""Items""" (whole rows: REPLICA IDENTITY FULL needs every column; the engine keeps every column but credentials and excluded ones), public.orders (whole rows: REPLICA IDENTITY FULL needs every column; the engine keeps id, status) filtered`,
    );
    expect(plan.items.some((i) => i.kind === 'capture')).toBe(false);
  });

  it('deploys them, and a second deploy changes nothing', async () => {
    const { result } = await deployReplication(db, needs());
    expect(result.deploymentId).toBeGreaterThan(0);
    const [slot] =
      await db.sql`select plugin, database from pg_replication_slots where slot_name = ${slotFor(db)}`;
    expect(slot).toEqual({ plugin: 'pgoutput', database: db.name });
    const again = await deployReplication(db, needs());
    expect(again.result.plan.hasChanges).toBe(false);
    const [identity] = await db.sql`
      select relreplident from pg_class where oid = 'public.orders'::regclass`;
    expect(identity!.relreplident).toBe('f');
    // Back to triggers: the deployment made none, so none was "dropped by hand".
    const triggers = makePlan(buildCaptureObjects(needs()), await readCaptureState(db.sql));
    const captures = triggers.items.filter((i) => i.kind === 'capture');
    expect(captures.length).toBeGreaterThan(0);
    for (const item of captures) {
      expect(item.action).toBe('create');
      expect(item.drift).toBeUndefined();
    }
  });

  it('publishes only the copied columns of a table captured on insert alone', async () => {
    const { filter: _, ...insertOnly } = needs()[0]!;
    const desired = replicationObjects([insertOnly], { slot: 'x', serverVersion: 170000 });
    expect(desired.replication!.publications[0]!.tables).toEqual([
      { table: orders, columns: ['id', 'status'] },
    ]);
    expect(desired.replication!.fullIdentity).toEqual([]);
  });

  it('says where a server before PostgreSQL 15 publishes whole rows, and what the engine keeps', () => {
    const { filter: _, ...insertOnly } = needs()[0]!;
    const desired = replicationObjects([insertOnly], { slot: 'x', serverVersion: 140000 });
    expect(desired.replication!.publications[0]!.tables).toEqual([{ table: orders }]);
    const items = replicationItems(desired.replication, {
      serverVersion: 140000,
      publications: [],
      slots: [],
      identities: [],
      madeFull: [],
      partitions: [],
      database: db.name,
    });
    expect(items.find((i) => i.subject === 'x_insert')!.detail).toBe(
      'publish insert · public.orders (whole rows: no column lists before PostgreSQL 15; the engine keeps id, status)',
    );
  });
});

describe('enrich', () => {
  it('is refused by the plan, naming the features that enrich', () => {
    const enriching: CaptureNeed = {
      table: orders,
      operation: 'insert',
      by: 'vip-order',
      enrichments: [
        {
          name: 'customer',
          target: { schema: 'auth', table: 'users' },
          targetColumn: 'id',
          targetType: 'uuid',
          sourceField: 'user_id',
        },
      ],
    };
    expect(() =>
      replicationObjects([...needs(), enriching], { slot: 'x', serverVersion: 170000 }),
    ).toThrow('capture: replication cannot enrich at capture time, and vip-order uses enrich');
  });
});

describe('drift', () => {
  it('finds a publication changed by hand and a slot dropped by hand, and repairs both', async () => {
    const name = `${slotFor(db)}_insert`;
    await db.sql.unsafe(`alter publication ${name} drop table public.orders`);
    const desired = replicationObjects(needs(), {
      slot: slotFor(db),
      serverVersion: await serverVersion(db.sql),
    });
    let plan = makePlan(desired, await readCaptureState(db.sql));
    const publication = plan.items.find((i) => i.subject === name)!;
    expect(publication.action).toBe('replace');
    expect(publication.drift).toEqual(['publication was changed by hand']);
    await db.sql`select pg_drop_replication_slot(${slotFor(db)})`;
    plan = makePlan(desired, await readCaptureState(db.sql));
    const slot = plan.items.find((i) => i.kind === 'slot')!;
    expect(slot.action).toBe('create');
    expect(slot.drift).toEqual([
      'slot was dropped by hand: changes written since were not captured',
    ]);
    await deploy(db.sql, desired);
    plan = makePlan(desired, await readCaptureState(db.sql));
    expect(plan.hasChanges).toBe(false);
  });
});

describe('consumer', () => {
  it('stores committed rows once each, in commit order, cut to the captured columns; rolled-back ones never', async () => {
    consumer = consume();
    await db.sql`insert into public.orders (status, total, secret_note) values ('new', 1, 's1'), ('draft', 2, 's2')`;
    await db.sql
      .begin(async (tx) => {
        await tx`insert into public.orders (status, total) values ('rolled back', 3)`;
        throw new Error('roll back');
      })
      .catch(onlyRollback('roll back'));
    await db.sql.unsafe(`insert into "my-app"."Order ""Items""" values (7, 'Seven')`);
    await db.sql`update public.orders set status = 'paid' where total = 1`;
    await db.sql.unsafe(`delete from "my-app"."Order ""Items"""`);
    const rows = await waitFor(async () => {
      const rows = await replicated(db.sql);
      return rows.length >= 4 ? rows : undefined;
    }, 'four replicated rows');
    expect(rows.map((r) => [r.table_name, r.operation, r.new_row, r.old_row])).toEqual([
      ['orders', 'insert', { id: 1, status: 'new' }, null],
      ['Order "Items"', 'insert', { 'Item Id': 7, 'Mixed Case': 'Seven' }, null],
      [
        'orders',
        'update',
        { id: 1, status: 'paid', total: 1, secret_note: 's1' },
        { id: 1, status: 'new', total: 1, secret_note: 's1' },
      ],
      ['Order "Items"', 'delete', null, { 'Item Id': 7, 'Mixed Case': 'Seven' }],
    ]);
    expect(new Set(rows.map((r) => r.source_key)).size).toBe(4);
  });

  it('acknowledges what it stored: a restarted consumer stores nothing twice', async () => {
    await consumer!.stop();
    const [slot] = await db.sql<{ confirmed: string; current: string }[]>`
      select confirmed_flush_lsn::text as confirmed, pg_current_wal_lsn()::text as current
        from pg_replication_slots where slot_name = ${slotFor(db)}`;
    expect(slot!.confirmed).not.toBe('0/0');
    await db.sql`insert into public.orders (status) values ('after')`;
    consumer = consume();
    const rows = await waitFor(async () => {
      const rows = await replicated(db.sql);
      return rows.length >= 5 ? rows : undefined;
    }, 'the fifth row');
    expect(rows.at(-1)!.new_row).toEqual({ id: 4, status: 'after' });
    expect(rows.length).toBe(5);
  });
});

describe('teardown', () => {
  it('drops the publications and the slot, even while a consumer streams it, then sets DEFAULT again where Nudge set FULL', async () => {
    expect(consumer!.leading()).toBe(true);
    const statements = recording(db.sql);
    const removed = await teardown(statements.sql);
    expect(removed.slots).toEqual([slotFor(db)]);
    expect(removed.publications).toHaveLength(3);
    const left = await db.sql`select 1 from pg_replication_slots where slot_name = ${slotFor(db)}`;
    expect(left).toHaveLength(0);
    expect(await identities()).toEqual({ orders: 'd', items: 'd', prefs: 'f' });
    // The tables leave the publications before their identity goes back: items has no
    // primary key, so DEFAULT while still published for delete would refuse its deletes.
    const lastDrop = statements.run.findLastIndex((s) => s.startsWith('DROP PUBLICATION'));
    const firstReset = statements.run.findIndex((s) => s.endsWith('REPLICA IDENTITY DEFAULT'));
    expect(lastDrop).toBeGreaterThanOrEqual(0);
    expect(firstReset).toBeGreaterThan(lastDrop);
    await db.sql.unsafe(`delete from "my-app"."Order ""Items"""`);
  });
});

describe('replica identity', () => {
  // prefs: FULL set by its owner before Nudge; captured on update as well.
  const withPrefs = (): CaptureNeed[] => [
    ...needs(),
    { table: prefs, operation: 'update', by: 'prefs-changed' },
  ];
  const insertsOnly = (): CaptureNeed[] => needs().filter((n) => n.operation === 'insert');
  const desiredOf = async (of: CaptureNeed[]) =>
    replicationObjects(of, { slot: slotFor(db), serverVersion: await serverVersion(db.sql) });
  const nothingToChange = async (desired: DesiredCaptures) => {
    const plan = makePlan(desired, await readCaptureState(db.sql));
    expect(plan.items.filter((i) => i.action !== 'unchanged')).toEqual([]);
  };
  const resetDetail =
    'DEFAULT again: Nudge set FULL for captured updates and deletes; none is captured now';

  beforeAll(async () => {
    await consumer?.stop();
    consumer = undefined;
  });

  it('sets FULL where updates or deletes are captured and remembers only the tables it changed', async () => {
    const { desired } = await deployReplication(db, withPrefs());
    expect(await identities()).toEqual({ orders: 'f', items: 'f', prefs: 'f' });
    expect((await readCaptureState(db.sql)).replication.madeFull).toEqual([items, orders]);
    const plan = makePlan(desired, await readCaptureState(db.sql));
    expect(plan.items.find((i) => i.subject === 'public.prefs')!.detail).toContain(
      'not set by Nudge: stays FULL after it',
    );
    await nothingToChange(desired);
  });

  it('repairs FULL set back by hand; DEFAULT on a published table without a primary key refuses its deletes', async () => {
    await db.sql.unsafe(`alter table "my-app"."Order ""Items""" replica identity default`);
    await expect(db.sql.unsafe(`delete from "my-app"."Order ""Items"""`)).rejects.toThrow(
      'does not have a replica identity and publishes deletes',
    );
    const desired = await desiredOf(withPrefs());
    const plan = makePlan(desired, await readCaptureState(db.sql));
    const item = plan.items.find((i) => i.subject === '"my-app"."Order ""Items"""')!;
    expect(item.action).toBe('replace');
    expect(item.drift).toEqual(['replica identity was set to DEFAULT by hand']);
    await deploy(db.sql, desired);
    expect(await identities()).toEqual({ orders: 'f', items: 'f', prefs: 'f' });
    await nothingToChange(desired);
  });

  it('sets DEFAULT again once no update or delete is captured, after the publications stop publishing them', async () => {
    const desired = await desiredOf(insertsOnly());
    const plan = makePlan(desired, await readCaptureState(db.sql));
    expect(identityItems(plan)).toEqual([
      ['replace', '"my-app"."Order ""Items"""', resetDetail],
      ['replace', 'public.orders', resetDetail],
    ]);
    // Deploy commits publications and identities first, in the plan's order.
    const first = itemStatements(plan, REPLICATION_FIRST);
    const unpublish = first.findIndex((s) =>
      s.startsWith(`CREATE PUBLICATION "${slotFor(db)}_delete"`),
    );
    const reset = first.findIndex((s) => s.includes('"Order ""Items""" REPLICA IDENTITY DEFAULT'));
    expect(unpublish).toBeGreaterThanOrEqual(0);
    expect(reset).toBeGreaterThan(unpublish);
    await deploy(db.sql, desired);
    expect(await identities()).toEqual({ orders: 'd', items: 'd', prefs: 'f' });
    await db.sql.unsafe(`delete from "my-app"."Order ""Items"""`);
    await nothingToChange(desired);
  });

  it('sets DEFAULT again when capture is no longer replication', async () => {
    await deployReplication(db, withPrefs());
    expect(await identities()).toEqual({ orders: 'f', items: 'f', prefs: 'f' });
    const outbox = buildCaptureObjects([]);
    await deploy(db.sql, outbox);
    expect(await identities()).toEqual({ orders: 'd', items: 'd', prefs: 'f' });
    const slot = await db.sql`select 1 from pg_replication_slots where slot_name = ${slotFor(db)}`;
    expect(slot).toHaveLength(0);
    await nothingToChange(outbox);
  });

  it('leaves a table whose identity was changed by hand, or that was dropped, and says so', async () => {
    await db.sql`create table public.gone (id int primary key)`;
    const gone = { schema: 'public', table: 'gone' };
    await deployReplication(db, [...withPrefs(), { table: gone, operation: 'delete', by: 'gone' }]);
    await db.sql`alter table public.orders replica identity using index orders_pkey`;
    await db.sql`drop table public.gone`;
    const desired = await desiredOf(insertsOnly());
    const plan = makePlan(desired, await readCaptureState(db.sql));
    expect(identityItems(plan)).toEqual([
      ['replace', '"my-app"."Order ""Items"""', resetDetail],
      [
        'unchanged',
        'public.gone',
        'table dropped or renamed since Nudge set FULL: nothing to set back',
      ],
      [
        'unchanged',
        'public.orders',
        'left USING INDEX: Nudge set FULL, and it was changed by hand since',
      ],
    ]);
    await deploy(db.sql, desired);
    expect(await identities()).toEqual({ orders: 'i', items: 'd', prefs: 'f' });
    await nothingToChange(desired);
    await teardown(db.sql);
    expect(await identities()).toEqual({ orders: 'i', items: 'd', prefs: 'f' });
  });

  it('sets FULL over USING INDEX set by hand, and forgets the table: it stays FULL after teardown', async () => {
    await db.sql`alter table public.orders replica identity default`;
    const { desired } = await deployReplication(db, withPrefs());
    await db.sql`alter table public.orders replica identity using index orders_pkey`;
    const plan = makePlan(desired, await readCaptureState(db.sql));
    const orders = plan.items.find((i) => i.subject === 'public.orders')!;
    expect(orders.detail).toContain('was USING INDEX: stays FULL after Nudge');
    expect(orders.drift).toEqual(['replica identity was set to USING INDEX by hand']);
    // Only the markers change: no publication is recreated.
    const publications = plan.items.filter((i) => i.kind === 'publication');
    expect(publications.map((i) => [i.action, i.sql.length])).toEqual([
      ['replace', 1],
      ['replace', 1],
      ['replace', 1],
    ]);
    await deploy(db.sql, desired);
    expect((await readCaptureState(db.sql)).replication.madeFull).toEqual([items]);
    await nothingToChange(desired);
    await teardown(db.sql);
    expect(await identities()).toEqual({ orders: 'f', items: 'd', prefs: 'f' });
  });
});

/** The replica identity (pg_class.relreplident) of the test's tables. */
/** A plan's replica identity items: action, table, detail. */
function identityItems(plan: Plan): [string, string, string | undefined][] {
  return plan.items
    .filter((i) => i.kind === 'replica identity')
    .map((i) => [i.action, i.subject, i.detail]);
}

async function identities(): Promise<Record<'orders' | 'items' | 'prefs', string>> {
  const of = async (name: string) => {
    const [row] = await db.sql<{ identity: string }[]>`
      select relreplident::text as identity from pg_class where oid = ${name}::regclass`;
    return row!.identity;
  };
  return {
    orders: await of('public.orders'),
    items: await of('"my-app"."Order ""Items"""'),
    prefs: await of('public.prefs'),
  };
}

/** `sql` whose unsafe statements are recorded in the order they run (on the real server). */
function recording(sql: postgres.Sql): { sql: postgres.Sql; run: string[] } {
  const run: string[] = [];
  const unsafe = (query: string, ...rest: unknown[]) => {
    run.push(query);
    return (sql.unsafe as (...args: unknown[]) => unknown)(query, ...rest);
  };
  const proxy = new Proxy(sql, {
    get: (target, key) => (key === 'unsafe' ? unsafe : Reflect.get(target, key)),
  });
  return { sql: proxy, run };
}
