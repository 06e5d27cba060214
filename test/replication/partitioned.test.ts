// capture: replication of a partitioned table: a row lives in one of its
// partitions, and pgoutput names the partition unless the publication
// publishes through the root. Every change of the partitioned table reaches
// the inbox under its own name, cut to the captured columns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Consumer, startConsumer } from '../../src/capture/transports/replication/consumer.js';
import { needsOf } from '../capture/drift.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';
import { deployReplication, dropSlotAfterAll, migrated, replicated, slotFor } from './helpers.js';

const db = useDatabase();
dropSlotAfterAll(db);
const events = { schema: 'public', table: 'events' };
let consumer: Consumer | undefined;

beforeAll(async () => {
  await db.sql.unsafe(`CREATE TABLE public.events (id int, at date, secret text, PRIMARY KEY (id, at))
      PARTITION BY RANGE (at);
    CREATE TABLE public.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`);
  await migrated(db);
});

afterAll(async () => {
  await consumer?.stop();
});

describe('a partitioned table', () => {
  it('has its changes stored under its own name, whichever partition holds them', async () => {
    const needs = await needsOf(db.sql, events, ['insert', 'update', 'delete'], 'events', {
      reads: { columns: ['at'] },
    });
    const { desired } = await deployReplication(db, needs);
    consumer = startConsumer({
      url: db.url,
      slot: slotFor(db),
      captures: desired.replication!.captures,
      engine: db.sql,
      route: () => 0,
      log: { info: () => {}, warn: () => {} },
      leaderPollMs: 100,
    });
    await db.sql`insert into public.events values (1, '2024-02-01', 's1')`;
    await db.sql`insert into public.events_2024 values (2, '2024-03-01', 's2')`;
    await db.sql`update public.events set at = '2024-04-01' where id = 2`;
    await db.sql`delete from public.events_2024 where id = 1`;
    const rows = await waitFor(async () => {
      const rows = await replicated(db.sql);
      return rows.length >= 4 ? rows : undefined;
    }, 'four replicated rows');
    expect(rows.map((r) => [r.table_name, r.operation, r.new_row, r.old_row])).toEqual([
      ['events', 'insert', { id: 1, at: '2024-02-01' }, null],
      ['events', 'insert', { id: 2, at: '2024-03-01' }, null],
      ['events', 'update', { id: 2, at: '2024-04-01' }, { id: 2, at: '2024-03-01' }],
      ['events', 'delete', null, { id: 1, at: '2024-02-01' }],
    ]);
  });
});

describe('a partitioned table without a primary key', () => {
  it('is refused for updates and deletes, so its writes keep working', async () => {
    const logs = { schema: 'public', table: 'logs' };
    await db.sql.unsafe(`CREATE TABLE public.logs (at date, note text) PARTITION BY RANGE (at);
      CREATE TABLE public.logs_2024 PARTITION OF public.logs FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
      INSERT INTO public.logs VALUES ('2024-01-02', 'before')`);
    const needs = await needsOf(db.sql, logs, ['insert', 'update', 'delete'], 'logs');
    await expect(deployReplication(db, needs)).rejects.toThrow(
      'capture: replication cannot capture the updates and deletes of partitioned table public.logs (logs): it has no primary key',
    );
    // Its inserts alone are captured, and every write still works.
    await deployReplication(db, needs.slice(0, 1));
    await db.sql`update public.logs set note = 'after' where at = '2024-01-02'`;
    await db.sql`update public.logs_2024 set note = 'again' where at = '2024-01-02'`;
    await db.sql`delete from public.logs_2024`;
  });
});
