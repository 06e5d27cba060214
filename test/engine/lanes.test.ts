// Lowering engine.partitions: events still pending in lanes the new
// configuration does not run are moved into lane `partition % partitions`
// (where the router now sends the same contacts) and processed there, in id
// order; a lane some process is still running is left alone until it is free.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockKey } from '../../src/db/locks.js';
import { insertInbox, partitionOf } from '../../src/engine/intake/inbox.js';
import { processLanes, reclaimLanes } from '../../src/engine/lanes/process.js';
import { useDatabase } from '../harness/db.js';
import { testEngine } from './harness.js';

const db = useDatabase();

const SEEN = `name: seen
trigger: { table: public.orders, on: insert }
contact: { email: new.email }
stages:
  - name: tracked
    do: [{ track: { event: order_seen } }]
`;

/** One order event per email in the inbox, each in the lane `lanes` lanes give its buyer. */
function ordersInLanes(emails: string[], keyPrefix: string, lanes: number) {
  return insertInbox(
    db.sql,
    emails.map((email, i) => ({
      source: 'api',
      sourceKey: `${keyPrefix}-${i}`,
      schema: 'public',
      table: 'orders',
      operation: 'insert',
      newRow: { id: i + 1, email },
      occurredAt: new Date(),
    })),
    (event) => partitionOf(String(event.newRow!.email), lanes),
  );
}

describe('lanes beyond engine.partitions', () => {
  it('moves their pending events into the lanes that run, which process them', async () => {
    await db.sql`create table public.orders (id bigint primary key, email text)`;
    const engine = await testEngine(db, { 'seen.yaml': SEEN }, { partitions: 2 });
    // Written by a process configured with 4 lanes: each event in hash % 4.
    const emails = Array.from({ length: 12 }, (_, i) => `buyer${i}@example.com`);
    await ordersInLanes(emails, 'old', 4);
    const beyond = emails.filter((email) => partitionOf(email, 4) >= 2).length;
    expect(beyond).toBeGreaterThan(0);

    // Another process still runs lane 3: its events stay until it lets go.
    const other = postgres(db.url, { onnotice: () => {}, max: 1 });
    const lane3 = emails.filter((email) => partitionOf(email, 4) === 3).length;
    try {
      await other.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(${tx.unsafe(lockKey('lane'))}, 3)`;
        expect(await reclaimLanes(db.sql, 2)).toBe(beyond - lane3);
      });
    } finally {
      await other.end();
    }
    expect(await reclaimLanes(db.sql, 2)).toBe(lane3);
    expect(await reclaimLanes(db.sql, 2)).toBe(0);

    // Each event is now in the lane the 2-lane router gives its contact.
    const rows = await db.sql<{ email: string; partition: number }[]>`
      select new_row ->> 'email' as email, partition from nudge_engine.inbox`;
    expect(rows.map((r) => r.partition)).toEqual(rows.map((r) => partitionOf(r.email, 2)));

    await engine.settle();
    const [left] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from nudge_engine.inbox where processed_at is null`;
    expect(left!.n).toBe(0);
    expect(engine.queued).toHaveLength(emails.length);
  });

  it('takes several lanes in one transaction, leaving a lane another one holds', async () => {
    await db.sql`create table if not exists public.orders (id bigint primary key, email text)`;
    const engine = await testEngine(db, { 'seen.yaml': SEEN }, { partitions: 3 });
    const emails = Array.from({ length: 15 }, (_, i) => `taker${i}@example.com`);
    const lane = (email: string) => partitionOf(email, 3);
    await ordersInLanes(emails, 'light', 3);
    const inLane = (l: number) => emails.filter((email) => lane(email) === l).length;
    expect([0, 1, 2].map(inLane).every((n) => n > 0)).toBe(true);

    // Another process runs lane 2 at this moment: lanes 0 and 1 are taken
    // together, in one transaction; lane 2's events stay for its holder.
    const other = postgres(db.url, { onnotice: () => {}, max: 1 });
    try {
      await other.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(${tx.unsafe(lockKey('lane'))}, 2)`;
        expect(await processLanes(engine.ctx, [0, 1, 2])).toEqual({
          count: inLane(0) + inLane(1),
          more: false,
        });
      });
    } finally {
      await other.end();
    }
    const processed = await db.sql<{ partition: number; writer: string }[]>`
      select distinct partition, xmin::text as writer from nudge_engine.inbox
       where processed_at is not null and source_key like 'light-%' order by partition`;
    expect(processed.map((r) => r.partition)).toEqual([0, 1]);
    expect(new Set(processed.map((r) => r.writer)).size).toBe(1);
    const [left] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from nudge_engine.inbox where processed_at is null and partition = 2 and source_key like 'light-%'`;
    expect(left!.n).toBe(inLane(2));

    // A read that fills the batch says there may be more.
    expect(await processLanes(engine.ctx, [0, 1, 2], 2)).toEqual({ count: 2, more: true });
    expect((await processLanes(engine.ctx, [0, 1, 2])).count).toBe(inLane(2) - 2);
    expect(engine.queued).toHaveLength(emails.length);
  });
});

describe("a lane's commit", () => {
  // The test server runs with synchronous_commit off: these sessions on.
  let durable: postgres.Sql;
  beforeAll(() => {
    durable = postgres(db.url, {
      onnotice: () => {},
      max: 1,
      connection: { synchronous_commit: 'on' },
    });
  });
  afterAll(() => durable.end());
  const setting = async (tx: postgres.TransactionSql | postgres.Sql) =>
    (await tx<{ s: string }[]>`select current_setting('synchronous_commit') as s`)[0]!.s;

  it('does not wait for the WAL flush, unless the transaction created a contact', async () => {
    await db.sql`create table if not exists public.orders (id bigint primary key, email text)`;
    // What the lane transaction's commit will do, read in that transaction
    // as its actions are enqueued (after its contacts were resolved).
    const settings: string[] = [];
    const engine = await testEngine(
      db,
      { 'seen.yaml': SEEN },
      { enqueue: async (tx) => void settings.push(await setting(tx)) },
    );
    const ctx = { ...engine.ctx, engine: durable };
    const emails = ['flush-a@example.com', 'flush-b@example.com'];
    await ordersInLanes(emails, 'new-buyers', 1);
    expect((await processLanes(ctx, [0])).count).toBe(2);
    await ordersInLanes(emails, 'known-buyers', 1);
    expect((await processLanes(ctx, [0])).count).toBe(2);
    expect(settings).toEqual(['on', 'off']);
    // Only for the transaction: the session's setting is back after it.
    expect(await setting(durable)).toBe('on');
  });

  it("is the session's again after a contact's identity changes, and only then", async () => {
    await durable`insert into nudge_engine.contacts (email) values ('known@example.com')`;
    const seen = await durable.begin(async (tx) => {
      const after: string[] = [];
      await tx`set local synchronous_commit = off`;
      await tx`insert into nudge_engine.contacts (email) select 'none@example.com' where false`;
      after.push(await setting(tx));
      await tx
        .savepoint(async (sp) => {
          await sp`insert into nudge_engine.contacts (email) values ('undone@example.com')`;
          await sp`select 1/0`;
        })
        .catch(() => {});
      after.push(await setting(tx));
      await tx`update nudge_engine.contacts set attributes = '{"plan": "pro"}' where email = 'known@example.com'`;
      after.push(await setting(tx));
      await tx`update nudge_engine.contacts set phone = '+15550100' where email = 'known@example.com'`;
      after.push(await setting(tx));
      return after;
    });
    // Nothing inserted; an insert rolled back; attributes only; a phone filled in.
    expect(seen).toEqual(['off', 'off', 'off', 'on']);
  });
});
