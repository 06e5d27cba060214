// The outbox pump under concurrent writers whose transactions commit out of id
// order (a transaction holds its id for a while before committing, others
// overtake it), with two pumps claiming at once (one moving rows in a single
// transaction, one through a second connection): every committed row reaches
// the inbox exactly once, rolled-back rows never, and processing enqueues one
// action per row.
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { pumpOnce } from '../../src/capture/transports/outbox/pump.js';
import { makeRouter } from '../../src/engine/intake/router.js';
import { processLanes } from '../../src/engine/lanes/process.js';
import { useDatabase } from '../harness/db.js';
import { testEngine } from './harness.js';

const db = useDatabase();
const WRITERS = 16;
const PER_WRITER = 25;

const HEARTBEAT = `name: heartbeat
trigger: { table: public.orders, on: insert }
stages:
  - name: tracked
    do: [{ track: { event: order_seen } }]
`;

describe('outbox pump', () => {
  it('loses nothing and duplicates nothing when commits come out of id order', async () => {
    await db.sql`create table public.orders (id bigserial primary key, writer int, n int, total numeric)`;
    const engine = await testEngine(db, { 'heartbeat.yaml': HEARTBEAT }, { partitions: 2 });
    const route = makeRouter(engine.features, 2);
    const writers = postgres(db.url, { onnotice: () => {}, max: WRITERS });
    let writing = true;
    const pumped: number[] = [];
    const pumps = [0, 1].map(async (which) => {
      // Two pumps at once, as with two engine processes: one whose engine
      // store is this database through its own client (the inbox write joins
      // the claiming transaction), one writing the inbox through another.
      const source = postgres(db.url, { onnotice: () => {}, max: 1 });
      const engineSql = which === 0 ? source : db.sql;
      try {
        while (writing) pumped.push(await pumpOnce({ source, engine: engineSql, route, batch: 7 }));
        while ((await pumpOnce({ source, engine: engineSql, route, batch: 7 })) > 0) {}
      } finally {
        await source.end();
      }
    });
    try {
      await Promise.all(
        Array.from({ length: WRITERS }, async (_, writer) => {
          for (let n = 0; n < PER_WRITER; n++) {
            const rollback = n % 10 === 9;
            await writers
              .begin(async (tx) => {
                await tx`insert into public.orders (writer, n, total) values (${writer}, ${n}, ${n})`;
                // Hold the transaction open so later ids commit first.
                await tx`select pg_sleep(${((writer * 7 + n * 3) % 5) / 1000})`;
                if (rollback) throw new Error('roll back');
              })
              .catch((error: Error) => {
                if (error.message !== 'roll back') throw error;
              });
          }
        }),
      );
    } finally {
      writing = false;
      await Promise.all(pumps);
      await writers.end();
    }
    expect(pumped.some((n) => n > 0)).toBe(true);

    const committed = await db.sql<
      { id: string }[]
    >`select o.id::text as id from public.orders o order by o.id`;
    expect(committed).toHaveLength(WRITERS * (PER_WRITER - Math.floor(PER_WRITER / 10)));
    // Both in number order (`order by 1::bigint` would be a constant, and
    // `order by id` the text alias: the two orders agreed only by chance).
    const inbox = await db.sql<{ id: string; copies: number }[]>`
      select new_row ->> 'id' as id, count(*)::int as copies from nudge_engine.inbox
       where table_name = 'orders' group by 1 order by (new_row ->> 'id')::bigint`;
    expect(inbox.map((r) => r.id)).toEqual(committed.map((r) => r.id));
    expect(inbox.every((r) => r.copies === 1)).toBe(true);
    // The hard case happened: some row reached the inbox after a row with a
    // higher id (its transaction committed later) — a "last id seen" cursor
    // would have skipped it.
    const [inversions] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from (
        select (new_row ->> 'id')::bigint as order_id,
               max((new_row ->> 'id')::bigint) over (order by id rows between unbounded preceding and 1 preceding) as seen
          from nudge_engine.inbox where table_name = 'orders') x
       where order_id < seen`;
    expect(inversions!.n).toBeGreaterThan(0);
    const [left] = await db.sql`select count(*)::int as n from nudge.event_log`;
    expect(left!.n).toBe(0);

    for (let p = 0; p < 2; p++) while ((await processLanes(engine.ctx, [p])).count > 0) {}
    const keys = engine.queued.map((a) => a.key);
    expect(keys).toHaveLength(committed.length);
    expect(new Set(keys).size).toBe(committed.length);
  });
});
