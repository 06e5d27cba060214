// What one large transaction costs the replication consumer's memory
// (docs/replication.md, "What the consumer promises"). One INSERT of ROWS
// rows, committed while the consumer streams; the consumer stores it in the
// engine store (the same database here). Two ways, alternating, REPEATS
// times each, in one run:
//   whole   the transaction held until its commit arrives, then written
//           (the consumer before it stored parts: its batch set to Infinity)
//   parts   stored in parts of the consumer's batch (2,000) as it streams
// Printed for each: the largest live JavaScript heap above the heap before
// the insert (collected and sampled every 250 ms: without the collection, a
// heap's peak is mostly garbage not yet freed) and the time from the commit
// to the last row stored, which the collections slow. Run with `npm run
// bench:replication-memory` (it passes --expose-gc).
import postgres from 'postgres';
import { deploy } from '../src/capture/deploy.js';
import { startConsumer } from '../src/capture/transports/replication/consumer.js';
import { replicationObjects } from '../src/capture/transports/replication/desired.js';
import { dropReplication } from '../src/capture/transports/replication/slot.js';
import { migrateEngine } from '../src/db/migrate.js';
import { benchDatabase } from './database.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 300_000);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 2);
const SLOT = 'nudge_bench_memory';
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (npm run bench:replication-memory)');

const bench = await benchDatabase('replication-memory');
const sql = postgres(bench.url, { onnotice: () => {}, max: 4 });
const orders = { schema: 'public', table: 'orders' };
try {
  await sql`create table public.orders (id bigserial primary key, user_id uuid, status text,
    total numeric(10,2), note text, created_at timestamptz default now())`;
  await migrateEngine(sql, bench.url);
  const [version] = await sql<{ v: number }[]>`
    select current_setting('server_version_num')::int as v`;
  const desired = replicationObjects([{ table: orders, operation: 'insert', by: 'bench' }], {
    slot: SLOT,
    serverVersion: version!.v,
  });
  await deploy(sql, desired);

  const stored = async () =>
    (await sql<{ n: number }[]>`select count(*)::int as n from nudge_engine.inbox`)[0]!.n;

  const once = async (way: 'whole' | 'parts') => {
    await sql`truncate nudge_engine.inbox`;
    const consumer = startConsumer({
      url: bench.url,
      slot: SLOT,
      captures: desired.replication!.captures,
      engine: sql,
      route: () => 0,
      log: { info: () => {}, warn: () => {} },
      leaderPollMs: 100,
      ...(way === 'whole' ? { batch: Number.POSITIVE_INFINITY } : {}),
    });
    try {
      while (!consumer.leading()) await new Promise((r) => setTimeout(r, 20));
      gc?.();
      const base = process.memoryUsage().heapUsed;
      let peak = base;
      // What is live, not what the collector has yet to free: collected first.
      const sampler = setInterval(() => {
        gc?.();
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      }, 250);
      await sql`insert into public.orders (user_id, status, total, note)
                select gen_random_uuid(), 'pending', (g % 1000)::numeric, repeat('n', 200)
                  from generate_series(1, ${ROWS}) g`;
      const start = performance.now();
      while ((await stored()) < ROWS) {
        if (performance.now() - start > 600_000) throw new Error(`stalled at ${await stored()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const seconds = (performance.now() - start) / 1000;
      clearInterval(sampler);
      return { peakMb: (peak - base) / 2 ** 20, seconds };
    } finally {
      await consumer.stop();
    }
  };

  const results: Record<'whole' | 'parts', { peakMb: number; seconds: number }[]> = {
    whole: [],
    parts: [],
  };
  console.log(`one transaction of ${ROWS} rows, stored by the replication consumer:`);
  for (let i = 0; i < REPEATS; i++) {
    const ways: ('whole' | 'parts')[] = i % 2 === 0 ? ['whole', 'parts'] : ['parts', 'whole'];
    for (const way of ways) {
      const r = await once(way);
      results[way].push(r);
      console.log(
        `  ${way.padEnd(5)} heap peak +${r.peakMb.toFixed(0)} MB, commit → last row stored ${r.seconds.toFixed(1)} s`,
      );
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ratio = (f: (r: { peakMb: number; seconds: number }) => number) =>
    (median(results.parts.map(f)) / median(results.whole.map(f))).toFixed(2);
  console.log(
    `\nparts ÷ whole (medians): heap peak ${ratio((r) => r.peakMb)}, time to store ${ratio((r) => r.seconds)}`,
  );
} finally {
  await dropReplication(sql).catch(() => {});
  await sql.end();
  await bench.stop();
}
