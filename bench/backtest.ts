// npm run bench:backtest — `nudge backtest` over BENCH_EVENTS (default
// 1,000,000) past events kept in the inbox, on its own embedded server: a
// three-stage feature with a trigger condition, two waits (3 d, 7 d), an `if`
// and a cooldown, over 30 days of order inserts by BENCH_USERS (50,000)
// contacts. Prints:
//   1. what keeping processed events costs: the inbox's size (table, TOAST
//      and indexes) per million events, right after they were written;
//   2. backtest events/s (history read, matcher, journey machine, report) and
//      the process's peak memory;
//   3. in the same run, the live engine's end-to-end events/s, measured by
//      bench/e2e.ts itself (run as a child with short phases: its harness,
//      not a copy), and the ratio backtest ÷ end to end (target ≥ 20).
// BENCH_E2E=0 skips step 3; BENCH_E2E_ROWS sets its size (default 20,000).
// BENCH_UPDATES=<share> (0 to 1, default 0) puts the past values path in:
// the kept inserts lack total (kept for features that did not read it), the
// orders table holds every row as it is now, and that share of the orders
// has a kept update an hour after its insert whose old row holds total.
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { loadConfig } from '../src/config/load.js';
import { migrateEngine } from '../src/db/migrate.js';
import { loadFeatures } from '../src/features/load.js';
import { readCatalog } from '../src/source/catalog.js';
import { benchDatabase } from './database.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const USERS = Number(process.env.BENCH_USERS ?? 50_000);
const E2E_ROWS = Number(process.env.BENCH_E2E_ROWS ?? 20_000);
const UPDATES = Number(process.env.BENCH_UPDATES ?? 0);
/** Every how many orders one has a kept update; 0 for none. */
const UPDATE_EVERY = UPDATES > 0 ? Math.max(1, Math.round(1 / UPDATES)) : 0;
const DAYS = 30;
const REPO = path.resolve(import.meta.dirname, '..');

const FEATURE = `name: order-followup
trigger: { table: public.orders, on: insert, when: { new.status: eq.paid } }
contact: { id: new.user_id }
cooldown: 1d
stages:
  - name: thanked
    do: [{ email: { template: thanks } }]
  - name: asked
    after: 3d
    if: { new.total: gt.100 }
    do: [{ email: { template: review } }]
  - name: rewarded
    after: 7d
    do: [{ webhook: { url: "http://hooks.example/reward" } }]
`;

/** The live engine's end-to-end events/s, from bench/e2e.ts's own output. */
async function endToEndRate(): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'bench/e2e.ts')], {
    cwd: REPO,
    env: {
      // The default transport (bench/e2e.ts runs both otherwise): the outbox, the faster.
      BENCH_TRANSPORT: 'outbox',
      ...process.env,
      BENCH_ROWS: String(E2E_ROWS),
      BENCH_STEADY_SECONDS: '2',
      BENCH_NOOP_JOBS: '2000',
      BENCH_IDLE_SECONDS: '0',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout?.on('data', (chunk) => {
    out += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = /^end to end: .*$/m.exec(out)?.[0];
  const rate = Number(/([\d.]+) events\/s/.exec(line ?? '')?.[1]);
  if (code !== 0 || !Number.isFinite(rate)) {
    throw new Error(`bench/e2e.ts failed (exit ${code}):\n${out.slice(-2000)}`);
  }
  console.log(`  bench/e2e.ts (${E2E_ROWS} rows): ${line}`);
  return rate;
}

const bench = await benchDatabase('backtest');
try {
  const sql = postgres(bench.url, { onnotice: () => {}, max: 4 });
  await migrateEngine(sql, bench.url);
  await sql`create table public.orders (
    id bigint primary key, user_id uuid not null, total numeric(10, 2) not null,
    status text not null, created_at timestamptz not null default now())`;
  console.log(
    `Nudge backtest benchmark — ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}, Node ${process.version}`,
  );

  // 1. History: EVENTS processed order inserts over the last 30 days, as the engine keeps them.
  const seeded = performance.now();
  const now = new Date();
  const step = (DAYS * 86_400) / EVENTS;
  for (let from = 1; from <= EVENTS; from += 100_000) {
    const to = Math.min(EVENTS, from + 99_999);
    await sql`
      insert into nudge_engine.inbox
        (source, source_key, schema_name, table_name, operation, new_row, occurred_at, received_at, processed_at, partition)
      select 'outbox', g || ':0', 'public', 'orders', 'insert',
             jsonb_build_object('id', g, 'user_id', md5((g % ${USERS})::text)::uuid,
                                'total', (g % 200) + 0.5,
                                'status', case when g % 10 = 0 then 'refunded' else 'paid' end,
                                'created_at', t.at)
               - ${UPDATE_EVERY ? 'total' : ''}::text,
             t.at, t.at, t.at, g % 2
        from generate_series(${from}::int, ${to}::int) g,
             lateral (select ${now}::timestamptz - ${DAYS} * interval '1 day'
                             + g * ${step}::float8 * interval '1 second' as at) t`;
  }
  if (UPDATE_EVERY) {
    // Today's rows: total moved on since; the kept updates' old rows hold the past one.
    await sql`
      insert into public.orders (id, user_id, total, status, created_at)
      select (new_row ->> 'id')::bigint, (new_row ->> 'user_id')::uuid,
             ((new_row ->> 'id')::bigint % 200) + 1000.5, new_row ->> 'status', occurred_at
        from nudge_engine.inbox`;
    await sql`
      insert into nudge_engine.inbox
        (source, source_key, schema_name, table_name, operation, new_row, old_row, occurred_at, received_at, processed_at, partition)
      select 'outbox', (new_row ->> 'id') || ':u', 'public', 'orders', 'update',
             new_row || jsonb_build_object('total', ((new_row ->> 'id')::bigint % 200) + 1000.5),
             new_row || jsonb_build_object('total', ((new_row ->> 'id')::bigint % 200) + 0.5),
             occurred_at + interval '1 hour', occurred_at + interval '1 hour',
             occurred_at + interval '1 hour', partition
        from nudge_engine.inbox
       where operation = 'insert' and (new_row ->> 'id')::bigint % ${UPDATE_EVERY} = 0`;
  }
  await sql`vacuum analyze nudge_engine.inbox`;
  const [size] = await sql<{ total: number; heap: number; toast: number; indexes: number }[]>`
    select pg_total_relation_size('nudge_engine.inbox')::float8 as total,
           pg_relation_size('nudge_engine.inbox')::float8 as heap,
           (pg_total_relation_size('nudge_engine.inbox') - pg_relation_size('nudge_engine.inbox')
             - pg_indexes_size('nudge_engine.inbox'))::float8 as toast,
           pg_indexes_size('nudge_engine.inbox')::float8 as indexes`;
  const perMillion = (bytes: number) => `${(((bytes / EVENTS) * 1e6) / 2 ** 20).toFixed(0)} MiB`;
  console.log(
    `\nkept history: ${EVENTS.toLocaleString('en-US')} processed events (5-column order rows${UPDATE_EVERY ? `, total left out; a kept update for 1 order in ${UPDATE_EVERY}` : ''}) written in ${((performance.now() - seeded) / 1000).toFixed(1)} s`,
  );
  console.log(
    `  storage per million events: ${perMillion(size!.total)} (table ${perMillion(size!.heap)}, TOAST and maps ${perMillion(size!.toast)}, indexes ${perMillion(size!.indexes)})`,
  );

  // 2. The backtest.
  const dir = path.join(bench.dir, 'project');
  await mkdir(path.join(dir, 'nudge/features'), { recursive: true });
  await writeFile(path.join(dir, 'nudge.yaml'), '');
  await writeFile(path.join(dir, 'nudge/features/order-followup.yaml'), FEATURE);
  const project = await loadConfig({ cwd: dir, env: { DATABASE_URL: bench.url } });
  const features = await loadFeatures(project.featuresDir, project.env, project.cwd);
  // The built code, as `nudge backtest` runs it (npm run bench:backtest builds first).
  const { runBacktest } = (await import(
    path.join(REPO, 'dist/backtest/index.js')
  )) as typeof import('../src/backtest/index.js');
  const started = performance.now();
  const report = await runBacktest({
    project,
    features,
    feature: features[0]!,
    engine: sql,
    source: sql,
    catalog: await readCatalog(sql),
    from: new Date(now.getTime() - (DAYS + 1) * 86_400_000),
    to: new Date(now.getTime() + 1000),
  });
  const seconds = (performance.now() - started) / 1000;
  const rate = report.events.read / seconds;
  const peak = process.resourceUsage().maxRSS / 1024;
  console.log(
    `\nbacktest: ${report.events.read.toLocaleString('en-US')} events in ${seconds.toFixed(1)} s: ${rate.toFixed(0)} events/s; peak memory (RSS) ${peak.toFixed(0)} MiB`,
  );
  console.log(
    `  matched ${report.events.matched}, contacts ${report.contacts.entered}, entries ${report.contacts.entries}; stages ${report.stages.map((s) => `${s.stage} ${s.reached}`).join(', ')}; skips ${JSON.stringify(report.skips)}`,
  );
  if (report.todaysValues.length) {
    console.log(`  read as it is today: ${JSON.stringify(report.todaysValues)}`);
  }
  if (report.events.read !== EVENTS)
    throw new Error(`read ${report.events.read} of ${EVENTS} events`);
  await sql.end();
  await bench.stop();

  // 3. The live engine, measured by bench/e2e.ts in the same run (on a server of its own).
  if (process.env.BENCH_E2E !== '0') {
    console.log('\nthe live engine, end to end (bench/e2e.ts, short phases):');
    const e2e = await endToEndRate();
    console.log(`\nbacktest ÷ end-to-end rate: ${(rate / e2e).toFixed(1)} (target ≥ 20)`);
  }
} catch (error) {
  await bench.stop().catch(() => {});
  throw error;
}
