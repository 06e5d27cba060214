// capture: replication of a partitioned table's updates and deletes: old rows
// carry every column, as on a plain table, whichever partition holds the row
// — a partition's replica identity is its own, so deploy sets FULL on each
// partition, a partition added since is named by the plan and made FULL by
// the next deploy, and every one of them is set back once nothing needs it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePlan, type Plan } from '../../src/capture/plan.js';
import { readCaptureState } from '../../src/capture/state.js';
import { type Consumer, startConsumer } from '../../src/capture/transports/replication/consumer.js';
import { replicationObjects } from '../../src/capture/transports/replication/desired.js';
import type { Operation } from '../../src/capture/triggers.js';
import { needsOf } from '../capture/drift.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';
import {
  deployReplication,
  dropSlotAfterAll,
  migrated,
  replicated,
  serverVersion,
  slotFor,
} from './helpers.js';

const db = useDatabase();
dropSlotAfterAll(db);
const orders = { schema: 'public', table: 'orders' };
let consumer: Consumer | undefined;
const warnings: { fields: object; message: string }[] = [];

const needs = (operations: Operation[]) =>
  needsOf(db.sql, orders, operations, 'orders', { reads: { columns: ['status'] } });

async function identities(): Promise<Record<string, string>> {
  const rows = await db.sql<{ name: string; identity: string }[]>`
    select c.relname as name, c.relreplident::text as identity
      from pg_partition_tree('public.orders') t join pg_class c on c.oid = t.relid
     order by 1`;
  return Object.fromEntries(rows.map((r) => [r.name, r.identity]));
}

let seen = 0;
/** The next `count` changes stored, as [operation, old row]. */
async function oldRows(count: number) {
  const rows = await waitFor(async () => {
    const rows = await replicated(db.sql);
    return rows.length >= seen + count ? rows : undefined;
  }, `${count} more replicated rows`);
  const next = rows.slice(seen, seen + count);
  seen += count;
  return next.map((r) => [r.operation, r.old_row]);
}

beforeAll(async () => {
  // A leaf made by PARTITION OF; one made apart with another column order and
  // attached; one partitioned again (its own partitions hold the rows).
  await db.sql.unsafe(`
    CREATE TABLE public.orders (id int, at date, status text, note text, PRIMARY KEY (id, at))
      PARTITION BY RANGE (at);
    CREATE TABLE public.orders_2023 PARTITION OF public.orders FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
    CREATE TABLE public.orders_2024 (note text, status text, at date NOT NULL, id int NOT NULL);
    ALTER TABLE public.orders ATTACH PARTITION public.orders_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    CREATE TABLE public.orders_2025 PARTITION OF public.orders FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')
      PARTITION BY RANGE (id);
    CREATE TABLE public.orders_2025_low PARTITION OF public.orders_2025 FOR VALUES FROM (0) TO (1000);
    INSERT INTO public.orders VALUES (1, '2023-05-01', 'new', 'a'), (2, '2024-05-01', 'new', 'b'),
      (3, '2025-05-01', 'new', 'c')`);
  await migrated(db);
});

afterAll(async () => {
  await consumer?.stop();
});

describe('a partitioned table captured on update and delete', () => {
  it('sends old rows with every column from each of its partitions', async () => {
    const { desired } = await deployReplication(db, await needs(['update', 'delete']));
    consumer = startConsumer({
      url: db.url,
      slot: slotFor(db),
      captures: desired.replication!.captures,
      engine: db.sql,
      route: () => 0,
      log: { info: () => {}, warn: (fields, message) => warnings.push({ fields, message }) },
      leaderPollMs: 100,
    });
    await db.sql`update public.orders set status = 'paid' where id = 1`;
    await db.sql`update public.orders_2024 set status = 'paid' where id = 2`;
    await db.sql`update public.orders_2025_low set status = 'paid' where id = 3`;
    await db.sql`delete from public.orders where id = 1`;
    expect(await oldRows(4)).toEqual([
      ['update', { id: 1, at: '2023-05-01', status: 'new' }],
      ['update', { id: 2, at: '2024-05-01', status: 'new' }],
      ['update', { id: 3, at: '2025-05-01', status: 'new' }],
      ['delete', { id: 1, at: '2023-05-01', status: 'paid' }],
    ]);
    expect(Object.values(await identities())).toEqual(['f', 'f', 'f', 'f', 'f']);
    expect(warnings).toEqual([]);
  });

  it('warns of a partition added since, names it in the plan, and the next deploy makes it FULL', async () => {
    await db.sql.unsafe(
      `CREATE TABLE public.orders_2026 PARTITION OF public.orders FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
       INSERT INTO public.orders VALUES (4, '2026-05-01', 'new', 'd')`,
    );
    // Until the next deploy its old rows carry the key only (none for an
    // update that keeps the key): stored as they come, and said in the log.
    await db.sql`update public.orders set status = 'paid' where id = 4`;
    await db.sql`update public.orders set status = 'sent' where id = 4`;
    expect(await oldRows(2)).toEqual([
      ['update', null],
      ['update', null],
    ]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.fields).toMatchObject({ table: 'public.orders', operation: 'update' });
    expect(warnings[0]!.message).toContain(
      'an update of public.orders arrived without its whole old row',
    );
    const desired = replicationObjects(await needs(['update', 'delete']), {
      slot: slotFor(db),
      serverVersion: await serverVersion(db.sql),
    });
    const changed = (plan: Plan) =>
      plan.items.filter((i) => i.kind === 'replica identity' && i.action !== 'unchanged');
    const [added, ...others] = changed(makePlan(desired, await readCaptureState(db.sql)));
    expect(others).toEqual([]);
    expect(added).toMatchObject({ action: 'replace', subject: 'public.orders_2026' });
    expect(added!.detail).toContain('partition of public.orders');
    await deployReplication(db, await needs(['update', 'delete']));
    expect(changed(makePlan(desired, await readCaptureState(db.sql)))).toEqual([]);
    await db.sql`update public.orders set status = 'done' where id = 4`;
    expect(await oldRows(1)).toEqual([['update', { id: 4, at: '2026-05-01', status: 'sent' }]]);
  });

  it('sets every partition back to DEFAULT once nothing is captured on update or delete', async () => {
    await deployReplication(db, await needs(['insert']));
    expect(await identities()).toEqual({
      orders: 'd',
      orders_2023: 'd',
      orders_2024: 'd',
      orders_2025: 'd',
      orders_2025_low: 'd',
      orders_2026: 'd',
    });
  });
});
