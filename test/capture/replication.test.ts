// capture: replication against a real server: the plan and deploy of its
// publications, replica identities and slot, drift, teardown, and the
// consumer's basic promises — committed rows once each in commit order,
// rolled-back ones never, odd identifiers, only the copied columns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, teardown } from '../../src/capture/deploy.js';
import { makePlan } from '../../src/capture/plan.js';
import { readCaptureState } from '../../src/capture/state.js';
import { type Consumer, startConsumer } from '../../src/capture/transports/replication/consumer.js';
import { replicationObjects } from '../../src/capture/transports/replication/desired.js';
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
    create table "my-app"."Order ""Items""" ("Item Id" int, "Mixed Case" text)`);
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
      `create publication ${slotFor(db)}_insert`,
      `create publication ${slotFor(db)}_update`,
      `create publication ${slotFor(db)}_delete`,
      'replace replica identity "my-app"."Order ""Items"""',
      'replace replica identity public.orders',
      `create slot ${slotFor(db)}`,
    ]);
    // orders is captured on update: published whole (FULL identity), filtered on insert only.
    const insert = plan.items[1]!;
    expect(insert.detail).toBe(
      `publish insert · "my-app"."Order ""Items""", public.orders filtered`,
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
  });

  it('publishes only the copied columns of a table captured on insert alone', async () => {
    const { filter: _, ...insertOnly } = needs()[0]!;
    const desired = replicationObjects([insertOnly], { slot: 'x', serverVersion: 170000 });
    expect(desired.replication!.publications[0]!.tables).toEqual([
      { table: orders, columns: ['id', 'status'] },
    ]);
    expect(desired.replication!.fullIdentity).toEqual([]);
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
  it('drops the publications and the slot, even while a consumer streams it', async () => {
    expect(consumer!.leading()).toBe(true);
    const removed = await teardown(db.sql);
    expect(removed.slots).toEqual([slotFor(db)]);
    expect(removed.publications).toHaveLength(3);
    const left = await db.sql`select 1 from pg_replication_slots where slot_name = ${slotFor(db)}`;
    expect(left).toHaveLength(0);
    expect(buildCaptureObjects([])).toEqual([]);
  });
});
