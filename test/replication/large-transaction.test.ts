// A transaction larger than the consumer's batch is stored in parts as it
// streams, not held whole until its COMMIT arrives: the consumer's memory
// stays a few batches whatever one transaction writes. Its rows are still
// stored once each, in order, under the keys they would have whole; nothing
// is acknowledged before the last part, so a consumer stopped between two
// parts leaves the whole transaction to be streamed again, and the next one
// stores only what is missing — also once the inbox has forgotten the part
// (the consumer's mark, migration 026), and not by another server's mark.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Consumer, startConsumer } from '../../src/capture/transports/replication/consumer.js';
import { parseLsn } from '../../src/capture/transports/replication/pgoutput.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';
import { deployReplication, dropSlotAfterAll, migrated, replicated, slotFor } from './helpers.js';

const db = useDatabase();
dropSlotAfterAll(db);
const BATCH = 100;
const ROWS = 1_050;
const items = { schema: 'public', table: 'items' };
const consumers: Consumer[] = [];

const consume = (onStored?: () => void) => {
  const consumer = startConsumer({
    url: db.url,
    slot: slotFor(db),
    captures: [{ table: items, operation: 'insert' }],
    engine: db.sql,
    route: () => 0,
    log: { info: () => {}, warn: () => {} },
    leaderPollMs: 100,
    batch: BATCH,
    ...(onStored ? { onStored } : {}),
  });
  consumers.push(consumer);
  return consumer;
};

const confirmed = async () => {
  const [slot] = await db.sql<{ lsn: string }[]>`
    select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = ${slotFor(db)}`;
  return parseLsn(slot!.lsn);
};

/** The inbox's rows of one source transaction (keys `<commit lsn>:<n>`), with the engine transaction each was written in. */
const rowsOf = (lsn: string) =>
  db.sql<{ key: string; seq: number; written_in: string }[]>`
    select source_key as key, (new_row->>'seq')::int as seq, xmin::text as written_in
      from nudge_engine.inbox where source = 'replication' and source_key like ${`${lsn}:%`}
     order by id`;

const lsnOf = async () => (await replicated(db.sql)).at(-1)!.source_key.split(':')[0]!;

beforeAll(async () => {
  await db.sql`create table public.items (id bigserial primary key, seq int not null)`;
  await migrated(db);
  await deployReplication(db, [{ table: items, operation: 'insert', by: 'items' }]);
});

afterAll(async () => {
  for (const consumer of consumers) await consumer.stop();
});

describe('a transaction larger than the batch', () => {
  it('is stored in parts, every row once and in order, then acknowledged', async () => {
    const consumer = consume();
    const before = await confirmed();
    await db.sql`insert into public.items (seq) select s from generate_series(0, ${ROWS - 1}) s`;
    await waitFor(
      async () => ((await replicated(db.sql)).length >= ROWS ? true : undefined),
      `${ROWS} rows`,
    );
    const rows = await rowsOf(await lsnOf());
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: ROWS }, (_, i) => i));
    expect(rows.map((r) => r.key.split(':')[1])).toEqual(
      Array.from({ length: ROWS }, (_, i) => String(i)),
    );
    // Parts of BATCH changes, each in its own engine transaction (before:
    // the whole transaction in one, written once its COMMIT had come).
    const parts = new Set(rows.map((r) => r.written_in));
    expect(parts.size).toBe(Math.ceil(ROWS / BATCH));
    await waitFor(async () => ((await confirmed()) > before ? true : undefined), 'acknowledged');
    await consumer.stop();
  });

  it('stopped between two parts, acknowledges none of it, and the next consumer stores only the rest', async () => {
    await db.sql`truncate nudge_engine.inbox`;
    let stored = 0;
    let stopping: Promise<void> | undefined;
    const first = consume(() => {
      // After the first part: stopped before the COMMIT has been stored.
      stored++;
      stopping ??= first.stop();
    });
    await db.sql`insert into public.items (seq) select s from generate_series(0, ${ROWS - 1}) s`;
    await waitFor(async () => (stopping ? true : undefined), 'the first part stored');
    await stopping;
    const partly = await replicated(db.sql);
    // It writes nothing more once asked to stop.
    expect(stored).toBe(1);
    expect(partly.length).toBe(BATCH);
    // The slot was not told of the transaction: it streams it again from its
    // commit record (the keys' LSN), which an acknowledgement up to its start
    // still does.
    const lsn = await lsnOf();
    expect(await confirmed()).toBeLessThanOrEqual(parseLsn(lsn));

    const second = consume();
    await waitFor(
      async () => ((await replicated(db.sql)).length >= ROWS ? true : undefined),
      `${ROWS} rows`,
    );
    const rows = await rowsOf(lsn);
    expect(rows.length).toBe(ROWS);
    expect(new Set(rows.map((r) => r.key)).size).toBe(ROWS);
    // The first consumer's part first, then the rest, in the transaction's order.
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: ROWS }, (_, i) => i));
    await waitFor(
      async () => ((await confirmed()) > parseLsn(lsn) ? true : undefined),
      'acknowledged',
    );
    await second.stop();
  });

  it('stores nothing again that it stored before, however long ago the inbox forgot it', async () => {
    await db.sql`truncate nudge_engine.inbox`;
    let stopping: Promise<void> | undefined;
    const first = consume(() => {
      stopping ??= first.stop();
    });
    await db.sql`insert into public.items (seq) select s from generate_series(0, ${ROWS - 1}) s`;
    await waitFor(async () => (stopping ? true : undefined), 'the first part stored');
    await stopping;
    const lsn = await lsnOf();
    // Retention deletes processed rows; the slot streams the transaction again.
    await db.sql`truncate nudge_engine.inbox`;
    const second = consume();
    await waitFor(
      async () => ((await replicated(db.sql)).length >= ROWS - BATCH ? true : undefined),
      `${ROWS - BATCH} rows`,
    );
    await waitFor(
      async () => ((await confirmed()) > parseLsn(lsn) ? true : undefined),
      'acknowledged',
    );
    // Only the rest: the first part, stored before, is not stored a second time.
    const rows = await rowsOf(lsn);
    expect(rows.map((r) => r.seq)).toEqual(
      Array.from({ length: ROWS - BATCH }, (_, i) => BATCH + i),
    );
    // The mark moved with the second consumer's first write (then every 10 s):
    // past the first part, at most to the last change.
    const [mark] = await db.sql<{ lsn: string; n: number }[]>`
      select lsn::text, n from nudge_engine.replication_marks where slot = ${slotFor(db)}`;
    expect(mark!.lsn).toBe(lsn);
    expect(mark!.n).toBeGreaterThanOrEqual(2 * BATCH - 1);
    expect(mark!.n).toBeLessThanOrEqual(ROWS - 1);
    await second.stop();
  });

  it('uses no mark another server left (a restored or new database starts lower)', async () => {
    await db.sql`truncate nudge_engine.inbox`;
    await db.sql`update nudge_engine.replication_marks
                    set source = 'another server/1', lsn = 'FFFF/0'
                  where slot = ${slotFor(db)}`;
    consume();
    await db.sql`insert into public.items (seq) select s from generate_series(0, 9) s`;
    await waitFor(
      async () => ((await replicated(db.sql)).length >= 10 ? true : undefined),
      '10 rows',
    );
    const [mark] = await db.sql<{ source: string; n: number }[]>`
      select source, n from nudge_engine.replication_marks where slot = ${slotFor(db)}`;
    expect(mark!.source).not.toBe('another server/1');
    expect(mark!.n).toBe(9);
  });
});
