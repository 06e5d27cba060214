// npx tsx bench/e2e.ts — the whole runtime, from a committed row to the
// webhook its feature sends, on its own embedded server (PostgreSQL defaults,
// fsync on). `nudge start` (the built bin) runs as a child process with 20 active features on
// a Supabase-shaped `orders` table; each row matches one of them, whose one
// stage sends one webhook to a local sink that answers 200 at once.
// Measured in one run, side by side:
//   1. graphile-worker's own rate for no-op jobs (one batch of N, a runner with
//      the engine's concurrency, warmed by BENCH_WARMUP_ROWS jobs first) —
//      before and after the engine phases;
//   2. end-to-end events/s for 50k inserted rows (first insert → last webhook),
//      after BENCH_WARMUP_ROWS rows of other users, not counted;
//   3. commit → webhook latency (p50, p99) at a steady 500 inserts/s, after
//      BENCH_WARMUP_SECONDS (3) at that rate, not counted but printed; and at
//      BENCH_LOW_RATE (100/s) for comparison.
// Prints the ratio end-to-end ÷ no-op. All of it runs once with the outbox
// (triggers) and once with capture: replication, then a table of both.
// BENCH_ROWS, BENCH_STEADY_SECONDS,
// BENCH_NOOP_JOBS, BENCH_USERS change the sizes; BENCH_WARMUP_ROWS (5000; 0
// for none) the rows and no-op jobs done, not counted, before each count;
// BENCH_RATE the steady rate;
// BENCH_IDLE_SECONDS how long the idle CPU (engine and database, nothing
// to do) is measured after the steady phases; BENCH_FRESH_WAL=1 skips
// readying WAL segments for reuse (see recycleWal in database.ts).
// BENCH_WORKERS adds that many `nudge worker` processes beside `nudge start`
// (their CPU counted as the engine's); BENCH_STEADY_SECONDS=0 skips the
// steady and idle phases (bench/scale.ts runs both ways). BENCH_ENGINE=floor
// or floor-recorded, with BENCH_TRANSPORT=replication, runs bench/floor.ts in
// place of the engine: the least any engine delivering these webhooks must do.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { runMigrations, run as runWorker } from 'graphile-worker';
import postgres from 'postgres';
import { describe } from '../src/actions/retry.js';
import { deploy } from '../src/capture/deploy.js';
import { pendingCaptures } from '../src/capture/transports/outbox/pump.js';
import { replicationObjects } from '../src/capture/transports/replication/desired.js';
import { buildCaptureObjects } from '../src/capture/triggers.js';
import { loadConfig } from '../src/config/load.js';
import { quietLogger } from '../src/db/migrate.js';
import { ACTION_CONCURRENCY, jobRunnerSettings } from '../src/engine/wiring/job-runner.js';
import { checkFeatures } from '../src/features/check.js';
import { loadFeatures } from '../src/features/load.js';
import { readCatalog } from '../src/source/catalog.js';
import { cpuMs, postmasterPid, walsenderMs } from './cpu.js';
import { benchDatabase, recycleWal, walSegments } from './database.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 50_000);
const FEATURES = 20;
const RATE = Number(process.env.BENCH_RATE ?? 500);
const LOW_RATE = Number(process.env.BENCH_LOW_RATE ?? 100);
const STEADY_SECONDS = Number(process.env.BENCH_STEADY_SECONDS ?? 20);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
// Rows (of other users) the engine handles before the counted throughput
// phase, and no-op jobs graphile-worker's runner does before its counted batch:
// both measured warm (docs/benchmarks.md, "Twentieth session").
const WARMUP_ROWS = Number(process.env.BENCH_WARMUP_ROWS ?? 5_000);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 5);
const NOOP_JOBS = Number(process.env.BENCH_NOOP_JOBS ?? 20_000);
const USERS = Number(process.env.BENCH_USERS ?? 5_000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 0);
// Both capture transports by default, one after the other in one run (each on
// its own server, see bothTransports); BENCH_TRANSPORT=outbox or replication
// runs one (docs/replication.md).
const TRANSPORT = process.env.BENCH_TRANSPORT ?? 'both';
if (!['both', 'outbox', 'replication'].includes(TRANSPORT))
  throw new Error(`BENCH_TRANSPORT: ${TRANSPORT}? outbox, replication or both`);
const REPLICATION = TRANSPORT === 'replication';
// BENCH_ENGINE=floor or floor-recorded (with BENCH_TRANSPORT=replication):
// bench/floor.ts in place of the engine, the least any engine must do here.
const FLOOR = process.env.BENCH_ENGINE;
if (FLOOR && (!REPLICATION || !['floor', 'floor-recorded'].includes(FLOOR)))
  throw new Error(
    `BENCH_ENGINE: ${FLOOR}? floor or floor-recorded, with BENCH_TRANSPORT=replication`,
  );
const REPO = path.resolve(import.meta.dirname, '..');

const now = () => performance.timeOrigin + performance.now();
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await wait(5);
  }
}

/**
 * `--noop <url> <n> <warm-up>`: graphile-worker's own job rate on this
 * machine. Adds the warm-up's jobs in one batch (schema bench_worker), runs
 * a worker with the engine's runner settings until they are done (printing
 * warmup=<jobs/s>, not counted), then adds n more in one batch and counts
 * from their commit to the last done: prints rate=<jobs/s>, exits (or
 * failed=<why> and exit code 1 when graphile-worker gives up). With no
 * warm-up, the n jobs are added first and the runner's start is counted.
 */
async function noopChild(url: string, jobs: number, warmup: number): Promise<never> {
  const options = {
    connectionString: url,
    schema: 'bench_worker',
    taskList: { noop: async () => {} },
    ...jobRunnerSettings(ACTION_CONCURRENCY),
    noHandleSignals: true,
    logger: quietLogger(),
  };
  await runMigrations(options);
  const sql = postgres(url, { onnotice: () => {}, max: 1 });
  // The jobs of a run that failed (below) would be counted in this one's.
  await sql`delete from bench_worker._private_jobs`;
  const add = (n: number) => sql`select bench_worker.add_jobs(array(
    select row('noop', '{}'::json, null, null, 1, null, null, null)::bench_worker.job_spec
      from generate_series(1, ${n})))`;
  await add(warmup > 0 ? warmup : jobs);
  let start = now();
  const runner = await runWorker(options);
  let done = 0;
  runner.events.on('job:success', () => done++);
  // graphile-worker 0.17 shuts a pool down when one batched completion fails
  // (graphile/worker#636), and nothing runs the remaining jobs: say so now
  // instead of waiting for them (the first reason heard settles it). The
  // parent runs the measurement again.
  const gaveUp = new Promise<never>((_, reject) => {
    runner.events.on('pool:fatalError', ({ error, action }) =>
      reject(`gave up: ${action} failed (${describe(error)})`),
    );
    runner.promise.then(
      () => reject('stopped'),
      (error) => reject(`failed (${describe(error)})`),
    );
  });
  let counting = warmup > 0 ? 'warm-up' : 'counted';
  try {
    if (warmup > 0) {
      // The warm-up's jobs, not counted; then the counted batch, to a runner
      // already running, timed from its commit (the insert is not the runner's work).
      await Promise.race([gaveUp, until('the warm-up jobs', () => done >= warmup, 600_000)]);
      console.log(`warmup=${warmup / ((now() - start) / 1000)}`);
      counting = 'counted';
      done = 0;
      await add(jobs);
      start = now();
    }
    await Promise.race([gaveUp, until('the no-op jobs', () => done >= jobs, 600_000)]);
  } catch (reason) {
    const of = counting === 'warm-up' ? warmup : jobs;
    console.log(
      `failed=graphile-worker's runner ${describe(reason)} after ${done} of ${of} ${counting} jobs`,
    );
    process.exit(1);
  }
  console.log(`rate=${jobs / ((now() - start) / 1000)}`);
  process.exit(0);
}
if (process.argv[2] === '--noop')
  await noopChild(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5] ?? 0));

/** What one transport's run measured (its last line, `result=<json>`). */
interface Result {
  transport: string;
  eventsPerSecond: number;
  perNoop: number;
  p50?: number;
  p99?: number;
  /** The warm-up's p99 at the same rate (not counted), and the p99 of warm-up and count together. */
  warmupP99?: number;
  p99WithWarmup?: number;
  cpu?: string;
}

/**
 * The default: the whole benchmark once per transport, each in a child
 * process on a server of its own (the same script with BENCH_TRANSPORT set),
 * its output passed through; then one table side by side.
 */
async function bothTransports(): Promise<never> {
  const results: Result[] = [];
  for (const transport of ['outbox', 'replication']) {
    console.log(`\n=== capture: ${transport} ===`);
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'bench/e2e.ts')], {
      cwd: REPO,
      env: { ...process.env, BENCH_TRANSPORT: transport },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout?.on('data', (chunk) => {
      out += chunk;
      process.stdout.write(String(chunk).replace(/^result=.*\n?/m, ''));
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const result = /^result=(.*)$/m.exec(out)?.[1];
    if (code !== 0 || !result) {
      console.error(`the ${transport} run failed (exit ${code})`);
      process.exit(1);
    }
    results.push(JSON.parse(result) as Result);
  }
  console.log(
    `\nboth transports, this run (targets with replication: ≥ 1.0 × no-op, p99 ≤ 100 ms at ${RATE}/s)`,
  );
  console.log(
    `${'capture'.padEnd(12)} ${'events/s'.padStart(9)} ${'÷ no-op'.padStart(8)} ${`p50 / p99 at ${RATE}/s`.padStart(22)} ${'p99 with warm-up'.padStart(17)}  CPU per event at ${RATE}/s`,
  );
  for (const r of results)
    console.log(
      `${r.transport.padEnd(12)} ${r.eventsPerSecond.toFixed(0).padStart(9)} ${r.perNoop.toFixed(2).padStart(8)} ${(r.p99 === undefined ? '—' : `${r.p50!.toFixed(1)} / ${r.p99.toFixed(1)} ms`).padStart(22)} ${(r.p99WithWarmup === undefined ? '—' : `${r.p99WithWarmup.toFixed(1)} ms`).padStart(17)}  ${r.cpu ?? '—'}`,
    );
  process.exit(0);
}
if (TRANSPORT === 'both') await bothTransports();

const TRACE = Boolean(process.env.BENCH_TRACE);
// BENCH_TRACE=1 also lists the statements that took the database's time,
// nested ones included (a trigger's statements; their time is also in the
// statement that fired them).
const bench = await benchDatabase('e2e', {
  ...(TRACE
    ? {
        shared_preload_libraries: 'pg_stat_statements',
        'pg_stat_statements.track': 'all',
        'pg_stat_statements.track_planning': 'on',
      }
    : {}),
  // e.g. BENCH_PG_SETTINGS='{"shared_preload_libraries":"auto_explain","auto_explain.log_min_duration":"50",
  // "auto_explain.log_analyze":"on","logging_collector":"on","log_directory":"/tmp/e2e-log"}'
  ...(process.env.BENCH_PG_SETTINGS ? JSON.parse(process.env.BENCH_PG_SETTINGS) : {}),
});
const { dir, url } = bench;
let engine: ChildProcess | undefined;
const workers: ChildProcess[] = [];
try {
  const sql = postgres(url, { onnotice: () => {}, max: 8 });
  // BENCH_ENGINE_DATABASE=1: the engine store in a database of its own on the
  // same server (engine.database_url), instead of the source's database.
  // Under replication the walsender then skips the engine's own writes at
  // once instead of decoding each one and leaving it out of the publication.
  const engineUrl = process.env.BENCH_ENGINE_DATABASE
    ? url.replace(/\/([^/?]+)(\?|$)/, '/nudge_store$2')
    : url;
  if (engineUrl !== url) await sql.unsafe('create database nudge_store');
  const store = engineUrl === url ? sql : postgres(engineUrl, { onnotice: () => {}, max: 4 });
  await sql`create table public.orders (
    id bigint generated by default as identity primary key,
    user_id uuid not null,
    bucket int not null,
    total numeric(10, 2) not null,
    status text not null default 'pending',
    sent_at double precision not null,
    created_at timestamptz not null default now())`;
  const users = Array.from({ length: USERS }, () => crypto.randomUUID());

  // The sink: webhook-id → received time, and the order each webhook names.
  const received = new Map<string, { at: number; order: number; sentAt: number }>();
  const sink = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const at = now();
      const json = JSON.parse(body) as { order: number; sent_at: number };
      const id = String(req.headers['webhook-id']);
      if (!received.has(id)) received.set(id, { at, order: json.order, sentAt: json.sent_at });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as { port: number }).port}`;

  // The project: 20 features on orders, feature i matching bucket i.
  await mkdir(path.join(dir, 'project/nudge/features'), { recursive: true });
  const secret = `whsec_${Buffer.from('bench-secret-0123456789abcdefghij').toString('base64')}`;
  await writeFile(
    path.join(dir, 'project/nudge.yaml'),
    // BENCH_CONFIG adds lines to nudge.yaml, e.g. "engine: { partitions: 2 }".
    `server: { port: 0 }\nwebhooks: { secret: "${secret}" }\n${REPLICATION ? 'capture: replication\n' : ''}${engineUrl === url ? '' : `engine: { database_url: "${engineUrl}" }\n`}${process.env.BENCH_CONFIG ?? ''}\n`,
  );
  for (let i = 0; i < FEATURES; i++) {
    await writeFile(
      path.join(dir, `project/nudge/features/order-${i}.yaml`),
      `name: order-${i}
trigger: { table: public.orders, on: insert, when: { new.bucket: eq.${i} } }
contact: { id: new.user_id }
stages:
  - name: notified
    do:
      - webhook:
          url: "${sinkUrl}/orders/${i}"
          body: { order: "{{ new.id }}", sent_at: "{{ new.sent_at }}", total: "{{ new.total }}" }
`,
    );
  }
  const project = await loadConfig({ cwd: path.join(dir, 'project'), env: { DATABASE_URL: url } });
  const features = await loadFeatures(project.featuresDir, project.env, project.cwd);
  if (TRACE) await sql`create extension pg_stat_statements`;
  // Like a server that has run for a while (see recycleWal): otherwise each
  // new 16 MB of WAL stalls every commit while PostgreSQL creates a segment.
  // Before deploy: a replication slot made first would keep every segment of
  // the readying for itself (its restart_lsn moves only past a running-xacts
  // record it has decoded), so the checkpoint could recycle none of them and
  // the engine's WAL would go to new segments after all.
  // BENCH_FRESH_WAL=1 leaves the new server's WAL as it is.
  const readied = process.env.BENCH_FRESH_WAL ? undefined : await recycleWal(sql, dir);
  const needs = checkFeatures(features, await readCatalog(sql));
  await deploy(
    sql,
    REPLICATION
      ? replicationObjects(needs, { slot: 'nudge', serverVersion: 170000 })
      : buildCaptureObjects(needs),
  );

  /** graphile-worker alone, in a child process like the engine (see noopChild above); up to 3 tries. */
  async function noopRate(): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await noopRun();
      } catch (error) {
        if (attempt === 3) throw error;
        console.error(`${describe(error)} — measuring again`);
      }
    }
  }
  async function noopRun(): Promise<number> {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(REPO, 'bench/e2e.ts'),
        '--noop',
        url,
        String(NOOP_JOBS),
        String(WARMUP_ROWS),
      ],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout?.on('data', (chunk) => {
      out += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const rate = Number(/rate=([\d.]+)/.exec(out)?.[1]);
    if (code !== 0 || !Number.isFinite(rate))
      throw new Error(
        `the no-op run failed (exit ${code}): ${/failed=(.*)/.exec(out)?.[1] ?? out}`,
      );
    const warm = /warmup=([\d.]+)/.exec(out)?.[1];
    if (warm)
      console.log(
        `warm-up, not counted: ${WARMUP_ROWS} no-op jobs, ${Number(warm).toFixed(0)} jobs/s`,
      );
    return rate;
  }

  console.log(
    `Nudge end-to-end benchmark — ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}`,
  );
  console.log(
    `PostgreSQL: ${(await sql`select version()`)[0]!.version.split(' on ')[0]}, Node ${process.version}\n`,
  );
  if (readied !== undefined) console.log(`WAL: ${readied} segments ready for reuse`);
  console.log(`capture: ${REPLICATION ? 'replication (a slot, no trigger)' : 'outbox (triggers)'}`);
  const noop = [await noopRate()];
  console.log(
    `graphile-worker no-op jobs (${NOOP_JOBS}, concurrency ${ACTION_CONCURRENCY}): ${noop[0]!.toFixed(0)} jobs/s`,
  );

  engine = spawn(
    process.execPath,
    [
      // e.g. BENCH_ENGINE_FLAGS=--cpu-prof (the profile is written when the engine stops)
      ...(process.env.BENCH_ENGINE_FLAGS?.split(' ').filter(Boolean) ?? []),
      ...(FLOOR
        ? // The path's floor in place of the engine (bench/floor.ts).
          ['--import', 'tsx', path.join(REPO, 'bench/floor.ts'), url, sinkUrl, secret, FLOOR]
        : // The built `nudge` bin, as users run it (npm run bench:e2e builds first).
          [
            path.join(REPO, 'dist/cli/main.js'),
            '-c',
            path.join(dir, 'project/nudge.yaml'),
            'start',
          ]),
    ],
    { cwd: REPO, env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  engine.stdout?.on('data', (chunk) => {
    output = (output + chunk).slice(-20_000);
  });
  engine.stderr?.on('data', (chunk) => {
    output = (output + chunk).slice(-20_000);
    if (process.env.BENCH_ECHO) process.stderr.write(chunk);
  });
  await until(
    FLOOR ? 'the floor' : 'nudge start',
    () => output.includes(FLOOR ? 'floor is running' : 'Nudge is running'),
    60_000,
  );
  for (let i = 0; i < WORKERS; i++) {
    const worker = spawn(
      process.execPath,
      [path.join(REPO, 'dist/cli/main.js'), '-c', path.join(dir, 'project/nudge.yaml'), 'worker'],
      {
        cwd: REPO,
        env: { ...process.env, DATABASE_URL: url },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    workers.push(worker);
    let said = '';
    worker.stdout?.on('data', (chunk) => {
      said = (said + chunk).slice(-2_000);
    });
    await until('nudge worker', () => said.includes('Nudge worker is running'), 60_000);
  }

  // CPU per event, engine and database apart: the steadier signal when
  // comparing changes (latency at a fixed rate follows how busy the cores are).
  const postmaster = await postmasterPid(dir);
  const enginesMs = async () => {
    const each = await Promise.all(
      [engine, ...workers].map((child) =>
        child?.pid === undefined ? undefined : cpuMs(child.pid),
      ),
    );
    let sum = 0;
    for (const ms of each) {
      if (ms === undefined) return undefined;
      sum += ms;
    }
    return sum;
  };
  const cpu = async () => {
    const [engineMs, databaseMs, walsender] = await Promise.all([
      enginesMs(),
      postmaster ? cpuMs(postmaster) : undefined,
      postmaster && REPLICATION ? walsenderMs(postmaster) : 0,
    ]);
    return engineMs === undefined || databaseMs === undefined
      ? undefined
      : { engine: engineMs, database: databaseMs, walsender };
  };
  type Cpu = Awaited<ReturnType<typeof cpu>>;
  const used = (before: Cpu, after: Cpu, count: number, per = 'event') =>
    before && after
      ? `; CPU per ${per}: engine ${((after.engine - before.engine) / count).toFixed(2)} ms, database ${((after.database - before.database) / count).toFixed(2)} ms${REPLICATION ? ` (of which the walsender ${((after.walsender - before.walsender) / count).toFixed(2)} ms)` : ''}`
      : '';

  // 2. Throughput: ROWS rows from 4 clients in multi-row inserts of 250.
  const row = (i: number) => ({
    user_id: users[i % USERS]!,
    bucket: i % FEATURES,
    total: (i % 1000) + 0.5,
    sent_at: now(),
  });
  /** `count` rows from 4 clients in multi-row inserts of 250. */
  const insertRows = async (count: number, rowOf: (i: number) => ReturnType<typeof row>) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < count) {
          const from = next;
          next = Math.min(count, next + 250);
          const rows = Array.from({ length: next - from }, (_, k) => rowOf(from + k));
          await sql`insert into public.orders ${sql(rows, 'user_id', 'bucket', 'total', 'sent_at')}`;
        }
      }),
    );
  };
  // The engine warm, as graphile-worker's runner is in its count (noopChild):
  // the same work for other users, so the counted phase still creates every
  // contact it names.
  if (WARMUP_ROWS > 0) {
    const others = Array.from({ length: USERS }, () => crypto.randomUUID());
    const begun = now();
    await insertRows(WARMUP_ROWS, (i) => ({ ...row(i), user_id: others[i % USERS]! }));
    await until('the warm-up webhooks', () => received.size >= WARMUP_ROWS, 900_000);
    console.log(
      `warm-up, not counted: ${WARMUP_ROWS} rows of other users, ${(WARMUP_ROWS / ((now() - begun) / 1000)).toFixed(0)} events/s`,
    );
    received.clear();
    if (TRACE) await sql`select pg_stat_statements_reset()`;
  }
  const cpuBefore = await cpu();
  const start = now();
  await insertRows(ROWS, row);
  const inserted = now();
  // BENCH_TRACE=1: each second, where the rows are on the data path.
  const trace = TRACE
    ? setInterval(async () => {
        const outbox = await pendingCaptures(sql);
        const [s] = await store`
          select ${outbox}::int as outbox,
                 (select count(*)::int from nudge_engine.inbox where processed_at is null) as inbox,
                 (select count(*)::int from nudge_engine.action_runs where status <> 'succeeded') as actions,
                 (select count(*)::int from nudge_worker._private_jobs) as jobs`;
        console.log(
          `  ${((now() - start) / 1000).toFixed(0)} s: ${JSON.stringify(s)}, received ${received.size}`,
        );
      }, 1000)
    : undefined;
  await until('every webhook', () => received.size >= ROWS, 900_000);
  clearInterval(trace);
  if (TRACE) {
    const top = await sql`
      select round(total_exec_time)::int as ms, calls, toplevel, left(regexp_replace(query, '\\s+', ' ', 'g'), 140) as query
        from pg_stat_statements order by total_exec_time desc limit 25`;
    for (const t of top)
      console.log(
        `  ${String(t.ms).padStart(7)} ms ${String(t.calls).padStart(7)} × ${t.toplevel ? '' : '(nested) '}${t.query}`,
      );
    // What the engine stored per event, by table and column (pg_column_size:
    // as stored, after compression), the bytes its writes carry.
    // The tables hold the warm-up's rows too.
    const events = ROWS + WARMUP_ROWS;
    const [stored] = await store`
      select (select sum(pg_column_size(i.*)) from nudge_engine.inbox i) / ${events}::float as inbox,
             (select sum(pg_column_size(d.*)) from nudge_engine.decisions d) / ${events}::float as decisions,
             (select count(*) from nudge_engine.decisions) / ${events}::float as decision_rows,
             (select sum(pg_column_size(r.*)) from nudge_engine.action_runs r) / ${events}::float as runs,
             (select sum(pg_column_size(r.context)) from nudge_engine.action_runs r) / ${events}::float as context,
             (select sum(pg_column_size(j.*)) from nudge_engine.journeys j) / ${events}::float as journeys`;
    const b = (n: unknown) => `${Math.round(Number(n ?? 0))} B`;
    console.log(
      `  stored per event: inbox ${b(stored?.inbox)}, decisions ${b(stored?.decisions)} (${Number(stored?.decision_rows).toFixed(1)} rows), action runs ${b(stored?.runs)} (context ${b(stored?.context)}), journeys ${b(stored?.journeys)} (all journeys ÷ events)`,
    );
  }
  const cpuUsed = used(cpuBefore, await cpu(), ROWS);
  const last = Math.max(...[...received.values()].map((r) => r.at));
  const e2e = ROWS / ((last - start) / 1000);
  console.log(
    `end to end: ${ROWS} rows inserted in ${((inserted - start) / 1000).toFixed(1)} s, last webhook after ${((last - start) / 1000).toFixed(1)} s: ${e2e.toFixed(0)} events/s${cpuUsed}`,
  );

  // 3. Latency at steady rates: single-row inserts paced by schedule; latency
  // = webhook received − the insert's commit (its promise resolving).
  async function steady(rate: number, seconds: number, warmup = false) {
    received.clear();
    if (TRACE) await sql`select pg_stat_statements_reset(), pg_stat_reset_shared('io')`;
    const committed = new Map<number, number>();
    const total = Math.round(rate * seconds);
    const cpuBefore = await cpu();
    const segments = await walSegments(dir);
    // BENCH_TRACE=1: what the engine's connections are doing, sampled every 10 ms.
    const waits = new Map<string, number>();
    let sampling = TRACE;
    const sampler = (async () => {
      if (!sampling) return;
      const probe = postgres(url, { onnotice: () => {}, max: 1 });
      while (sampling) {
        const rows = await probe<{ what: string }[]>`
          select coalesce(wait_event_type || ':' || wait_event, 'on CPU') || ' (' || state || ')' as what
            from pg_stat_activity where application_name = 'nudge' and state <> 'idle'`;
        for (const { what } of rows) waits.set(what, (waits.get(what) ?? 0) + 1);
        await wait(10);
      }
      await probe.end();
    })();
    const begin = now();
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = begin + (i * 1000) / rate;
      if (due > now()) await wait(due - now());
      const r = row(i);
      inflight.push(
        sql<{ id: string }[]>`insert into public.orders (user_id, bucket, total, sent_at)
          values (${r.user_id}, ${r.bucket}, ${r.total}, ${r.sent_at}) returning id`.then(
          (created) => {
            committed.set(Number(created[0]!.id), now());
          },
        ),
      );
    }
    await Promise.all(inflight);
    const achieved = total / ((now() - begin) / 1000);
    await until(`the webhooks at ${rate}/s`, () => received.size >= total, 900_000);
    const cpuUsed = used(cpuBefore, await cpu(), total);
    const created = [...(await walSegments(dir))].filter((inode) => !segments.has(inode)).length;
    sampling = false;
    await sampler;
    const latencies = [...received.values()]
      .map((r) => r.at - committed.get(r.order)!)
      .sort((a, b) => a - b);
    const pct = (p: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;
    const fromInsert = [...received.values()].map((r) => r.at - r.sentAt).sort((a, b) => a - b);
    console.log(
      `${warmup ? 'warm-up, not counted: ' : ''}latency at ${rate}/s (${total} rows, achieved ${achieved.toFixed(0)}/s): commit → webhook p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms (insert → webhook p50 ${fromInsert[Math.floor(fromInsert.length / 2)]!.toFixed(1)} ms)${cpuUsed}; WAL segments created: ${created}`,
    );
    if (TRACE) {
      // Latency second by second: do the slow ones come together?
      const bySecond = new Map<number, number[]>();
      for (const r of received.values()) {
        const at = committed.get(r.order)!;
        const second = Math.floor((at - begin) / 1000);
        bySecond.set(second, [...(bySecond.get(second) ?? []), r.at - at]);
      }
      const line = [...bySecond]
        .sort((a, b) => a[0] - b[0])
        .map(([second, l]) => `${second}:${Math.max(...l).toFixed(0)}`)
        .join(' ');
      console.log(`  max latency per second (s:ms): ${line}`);
      // Stalls of the database as a whole: inserts paced every 1000/rate ms
      // whose commits came far apart (a new WAL segment did this, every 16 MB).
      const commits = [...committed.values()].sort((a, b) => a - b);
      const gaps = commits
        .slice(1)
        .map((at, i) => at - commits[i]!)
        .filter((gap) => gap >= 20);
      console.log(
        `  commits stalled (≥ 20 ms between two): ${gaps.length}${gaps.length ? `, longest ${Math.max(...gaps).toFixed(0)} ms` : ''}`,
      );
      // Where the time went, per stage, from the stores' own timestamps (ms).
      const ids = [...committed.keys()];
      const [stages] = await store`
        select percentile_cont(array[0.5, 0.99]) within group (order by extract(epoch from i.received_at - i.occurred_at) * 1000) as pump,
               percentile_cont(array[0.5, 0.99]) within group (order by extract(epoch from i.processed_at - i.received_at) * 1000) as inbox,
               percentile_cont(array[0.5, 0.99]) within group (order by extract(epoch from r.completed_at - i.processed_at) * 1000) as action
          from nudge_engine.inbox i
          join nudge_engine.action_runs r on (r.context -> 'new' ->> 'id')::bigint = (i.new_row ->> 'id')::bigint
         where i.table_name = 'orders' and (i.new_row ->> 'id')::bigint = any(${ids}::bigint[])`;
      const statements = await sql<
        { calls: number; ms: number; plans: number; planMs: number; query: string }[]
      >`
        select calls::float8 as calls, total_exec_time as ms, plans::float8 as plans,
               total_plan_time as "planMs",
               left(regexp_replace(query, '\\s+', ' ', 'g'), 100) as query
          from pg_stat_statements`;
      const perEvent = (title: string, by: 'calls' | 'ms', top: number) => {
        console.log(
          `  statements per event at ${rate}/s (${title}; database ms per event, executing + planning):`,
        );
        for (const c of [...statements].sort((a, b) => b[by] - a[by]).slice(0, top))
          console.log(
            `  ${(c.calls / total).toFixed(2).padStart(6)} × ${(c.ms / total).toFixed(3).padStart(6)} + ${(c.planMs / total).toFixed(3)} ms (${(c.plans / total).toFixed(2)} plans) ${c.query}`,
          );
      };
      perEvent('most called', 'calls', 12);
      const sum = (by: 'calls' | 'ms' | 'planMs') => statements.reduce((n, c) => n + c[by], 0);
      console.log(
        `  all statements: ${(sum('calls') / total).toFixed(2)} per event, ${(sum('ms') / total).toFixed(3)} ms of execution and ${(sum('planMs') / total).toFixed(3)} ms of planning per event`,
      );
      const samples = [...waits].sort((a, b) => b[1] - a[1]);
      const sampled = samples.reduce((sum, [, n]) => sum + n, 0);
      console.log(
        `  the engine's busy connections, sampled: ${samples
          .slice(0, 8)
          .map(([what, n]) => `${what} ${((100 * n) / sampled).toFixed(0)}%`)
          .join(', ')}`,
      );
      perEvent('most database time', 'ms', 8);
      // Who wrote data pages, and why (pg_stat_io): a client backend that
      // writes one must first flush the WAL up to its change, in the middle
      // of a statement.
      const io = await sql<
        { who: string; writes: number; extends: number; evictions: number; fsyncs: number }[]
      >`
        select backend_type || ' ' || context as who, sum(writes)::float8 as writes,
               sum(extends)::float8 as extends, sum(evictions)::float8 as evictions,
               sum(coalesce(fsyncs, 0))::float8 as fsyncs
          from pg_stat_io where object = 'relation'
         group by 1 having sum(writes) + sum(extends) + sum(evictions) > 0 order by 2 desc`;
      console.log(
        `  data pages per 1000 events (pg_stat_io): ${io
          .map(
            (r) =>
              `${r.who}: ${((1000 * r.writes) / total).toFixed(1)} written, ${((1000 * r.extends) / total).toFixed(1)} extended, ${((1000 * r.evictions) / total).toFixed(1)} evicted`,
          )
          .join('; ')}`,
      );
      const fmt = (v: number[]) => v.map((x) => x.toFixed(0)).join('/');
      console.log(
        `  stages p50/p99 ms: captured → pumped ${fmt(stages!.pump)}, pumped → lane ${fmt(stages!.inbox)}, lane → action done ${fmt(stages!.action)}`,
      );
      // The slowest events, stage by stage, in ms: the commit as this process
      // saw its insert return and the webhook's arrival by its clock, the
      // stages by the server's (one machine, one clock; "to stored" is a
      // little short by the commit's reply, the last column can go below 0).
      const slowest = [...received.values()]
        .map((r) => ({ order: r.order, at: r.at, latency: r.at - committed.get(r.order)! }))
        .sort((a, b) => b.latency - a.latency)
        .slice(0, 8);
      const times = await store<{ order: string; stored: number; lane: number; done: number }[]>`
        select (i.new_row ->> 'id') as order,
               (extract(epoch from i.received_at) * 1000)::float8 as stored,
               (extract(epoch from i.processed_at) * 1000)::float8 as lane,
               (extract(epoch from r.completed_at) * 1000)::float8 as done
          from nudge_engine.inbox i
          join nudge_engine.action_runs r on (r.context -> 'new' ->> 'id')::bigint = (i.new_row ->> 'id')::bigint
         where i.table_name = 'orders' and (i.new_row ->> 'id')::bigint = any(${slowest.map((e) => e.order)}::bigint[])`;
      const byOrder = new Map(times.map((t) => [Number(t.order), t]));
      console.log(
        `  slowest (at s: total = to stored + to lane + to done + to received, ms): ${slowest
          .map((e) => {
            const t = byOrder.get(e.order);
            const since = ((committed.get(e.order)! - begin) / 1000).toFixed(2);
            if (!t) return `${since}: ${e.latency.toFixed(0)}`;
            const c = committed.get(e.order)!;
            return `${since}: ${e.latency.toFixed(0)} = ${(t.stored - c).toFixed(0)} + ${(t.lane - t.stored).toFixed(0)} + ${(t.done - t.lane).toFixed(0)} + ${(e.at - t.done).toFixed(0)}`;
          })
          .join('; ')}`,
      );
    }
    return {
      p50: pct(50),
      p99: pct(99),
      cpu: cpuUsed.replace(/^; CPU per event: /, ''),
      latencies,
    };
  }
  // The counted phase follows WARMUP_SECONDS at the same rate: the engine's
  // first seconds at a new rate cost it more (after the 200-event batches of
  // the full-speed phase, or after idling; docs/benchmarks.md, "Twentieth
  // session"), and p99 is about the rate held, not the change to it. The
  // warm-up's own latencies are printed too.
  const warmup =
    STEADY_SECONDS > 0 && WARMUP_SECONDS > 0 ? await steady(RATE, WARMUP_SECONDS, true) : undefined;
  const atRate = STEADY_SECONDS > 0 ? await steady(RATE, STEADY_SECONDS) : undefined;
  const p99 = atRate?.p99;
  // The warm-up and the count as one phase: what the first seconds add.
  const together =
    warmup && atRate ? [...warmup.latencies, ...atRate.latencies].sort((a, b) => a - b) : [];
  const p99Together = together.length
    ? together[Math.min(together.length - 1, Math.floor(0.99 * together.length))]
    : undefined;
  // For comparison, a rate this machine sustains.
  if (STEADY_SECONDS > 0) await steady(LOW_RATE, STEADY_SECONDS / 2);
  // What the engine and the database use with nothing to do: the part of
  // the CPU per event above that does not depend on the events.
  if (STEADY_SECONDS > 0) {
    const idleBefore = await cpu();
    await wait(IDLE_SECONDS * 1000);
    const idleUsed = used(idleBefore, await cpu(), IDLE_SECONDS, 'second');
    if (idleUsed) console.log(`idle for ${IDLE_SECONDS} s${idleUsed}`);
  }

  // A SIGINT lets the engine stop (and write a profile when asked); SIGKILL after 10 s.
  const processes = [engine, ...workers.splice(0)];
  const stopped = Promise.all(
    processes.map((child) => new Promise((resolve) => child.once('exit', resolve))),
  );
  for (const child of processes) child.kill('SIGINT');
  await Promise.race([stopped, wait(10_000)]);
  for (const child of processes) child.kill('SIGKILL');
  engine = undefined;
  noop.push(await noopRate());
  console.log(`graphile-worker no-op jobs, again: ${noop[1]!.toFixed(0)} jobs/s`);
  const noopMean = (noop[0]! + noop[1]!) / 2;
  console.log(
    `\nend-to-end ÷ no-op job rate: ${(e2e / noopMean).toFixed(2)} (targets: ≥ 0.5 with the outbox, ≥ 1.0 with replication)${p99 === undefined ? '' : `; p99 at ${RATE}/s ${p99.toFixed(1)} ms${p99Together === undefined ? '' : ` after the ${WARMUP_SECONDS} s warm-up, ${p99Together.toFixed(1)} ms with it`} (target ≤ 100 ms)`}`,
  );
  console.log(
    `result=${JSON.stringify({ transport: TRANSPORT, eventsPerSecond: e2e, perNoop: e2e / noopMean, ...(atRate ? { p50: atRate.p50, p99: atRate.p99, cpu: atRate.cpu } : {}), ...(warmup ? { warmupP99: warmup.p99 } : {}), ...(p99Together === undefined ? {} : { p99WithWarmup: p99Together }) } satisfies Result)}`,
  );
  if (store !== sql) await store.end();
  await sql.end();
  sink.close();
} finally {
  engine?.kill('SIGKILL');
  for (const worker of workers) worker.kill('SIGKILL');
  await bench.stop();
}
