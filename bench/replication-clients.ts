// Which client streams a logical replication slot for capture: replication
// (docs/replication.md, "The client"). Three candidates stream the same
// change — one INSERT of ROWS rows into a table, committed after streaming
// started — and the time from the commit to the last row decoded is timed,
// alternating, REPEATS times each:
//   postgres.js subscribe   postgres.js's built-in (a temporary slot of its own)
//   postgres.js + ours      START_REPLICATION on postgres.js, our pgoutput decoder
//   pg-logical-replication  on `pg`, manual acknowledgements
// pg-logical-replication is not a dependency of Nudge: install it outside the
// project and say where (PLR_PATH=/tmp/plr/node_modules/pg-logical-replication).
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import postgres from 'postgres';
import { decodePgoutput, type Relation } from '../src/capture/transports/replication/pgoutput.js';
import { openReplicationStream } from '../src/capture/transports/replication/stream.js';
import { benchDatabase } from './database.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const plrPath = process.env.PLR_PATH;

const bench = await benchDatabase('replication-clients');
const sql = postgres(bench.url, { onnotice: () => {}, max: 2 });
try {
  await sql`create table public.orders (id bigserial primary key, user_id uuid, status text,
    total numeric(10,2), items jsonb, created_at timestamptz default now())`;
  await sql`create publication bench_pub for table public.orders with (publish = 'insert')`;
  const insert = () =>
    sql`insert into public.orders (user_id, status, total, items)
        select gen_random_uuid(), 'pending', (g % 1000)::numeric, '[{"sku":"a","qty":1}]'
          from generate_series(1, ${ROWS}) g`;
  /** Resolves when `count()` reaches ROWS after the insert; the insert's commit to then, in ms. */
  const timed = async (count: () => number) => {
    await insert();
    const start = performance.now();
    while (count() < ROWS) {
      if (performance.now() - start > 60_000)
        throw new Error(`stalled at ${count()} of ${ROWS} rows`);
      await new Promise((r) => setTimeout(r, 1));
    }
    return performance.now() - start;
  };

  const ours = async (run: number) => {
    const slot = `bench_ours_${run}`;
    await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput')`;
    let rows = 0;
    const relations = new Map<number, Relation>();
    const stream = await openReplicationStream({
      url: bench.url,
      slot,
      publications: ['bench_pub'],
      onMessage: (m) => {
        if (m.kind !== 'data') return;
        const decoded = decodePgoutput(m.payload, relations);
        if (decoded.tag === 'insert') rows++;
        if (decoded.tag === 'commit') stream.acknowledge(decoded.endLsn);
      },
    });
    const ms = await timed(() => rows);
    await stream.close();
    await sql`select pg_drop_replication_slot(${slot})`;
    return ms;
  };

  const builtIn = async () => {
    let rows = 0;
    const client = postgres(bench.url, { onnotice: () => {}, publications: 'bench_pub' } as object);
    const { unsubscribe } = await client.subscribe('insert:public.orders', () => {
      rows++;
    });
    const ms = await timed(() => rows);
    unsubscribe();
    // Its temporary slot goes with its session (client.end() would wait on it).
    await (client.subscribe as unknown as { sql: postgres.Sql }).sql.end({ timeout: 1 });
    return ms;
  };

  const plr = async (run: number) => {
    const module = await import(pathToFileURL(`${plrPath}/dist/index.js`).href);
    const slot = `bench_plr_${run}`;
    await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput')`;
    let rows = 0;
    const service = new module.LogicalReplicationService(
      { connectionString: bench.url },
      { acknowledge: { auto: false, timeoutSeconds: 0 } },
    );
    service.on('data', (lsn: string, log: { tag: string; commitEndLsn?: string }) => {
      if (log.tag === 'insert') rows++;
      if (log.tag === 'commit') void service.acknowledge(log.commitEndLsn ?? lsn);
    });
    service.on('error', () => {});
    const plugin = new module.PgoutputPlugin({ protoVersion: 1, publicationNames: ['bench_pub'] });
    void service.subscribe(plugin, slot);
    await new Promise((r) => setTimeout(r, 500)); // connected and streaming
    const ms = await timed(() => rows);
    await service.stop();
    // Its walsender may outlive stop() for a moment.
    while (
      (await sql`select 1 from pg_replication_slots where slot_name = ${slot} and active`).length
    )
      await new Promise((r) => setTimeout(r, 20));
    await sql`select pg_drop_replication_slot(${slot})`;
    return ms;
  };

  const candidates: [string, (run: number) => Promise<number>][] = [
    ['postgres.js subscribe', builtIn],
    ['postgres.js + ours', ours],
    ...(plrPath
      ? [['pg-logical-replication', plr] as [string, (run: number) => Promise<number>]]
      : []),
  ];
  console.log(`Replication clients — ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}`);
  console.log(
    `${ROWS} rows in one INSERT, streamed after its commit; ${REPEATS} alternating runs\n`,
  );
  const times = new Map<string, number[]>(candidates.map(([name]) => [name, []]));
  for (let run = 0; run < REPEATS; run++) {
    for (let i = 0; i < candidates.length; i++) {
      const [name, measure] = candidates[(i + run) % candidates.length]!;
      const cpu = process.cpuUsage();
      const ms = await measure(run);
      const used = process.cpuUsage(cpu);
      times.get(name)!.push(ms);
      console.log(
        `run ${run + 1} ${name.padEnd(24)} ${ms.toFixed(0).padStart(6)} ms  ${((ROWS / ms) * 1000).toFixed(0).padStart(8)} rows/s  client CPU ${((used.user + used.system) / 1000).toFixed(0)} ms`,
      );
      await sql`truncate public.orders`;
    }
  }
  console.log('');
  for (const [name, ms] of times) {
    const sorted = [...ms].sort((a, b) => a - b);
    console.log(
      `${name.padEnd(24)} median ${((ROWS / sorted[Math.floor(sorted.length / 2)]!) * 1000).toFixed(0)} rows/s`,
    );
  }
} finally {
  await sql.end();
  await bench.stop();
}
