// npm run bench:backfill — `nudge backfill` of BENCH_USERS (default
// 1,000,000) existing users into a one-stage feature, on its own embedded
// server. Prints:
//   1. the backfill itself (the built CLI command, in this process, --rate
//      unlimited): rows/s from the first row read to the checkpoint saying
//      done, and this process's peak memory (RSS);
//   2. the engine entering them: `nudge start` (the built bin) as a child,
//      for BENCH_ENTER_SECONDS (default 60) or until all have entered —
//      entries/s (journeys written) and the engine's peak memory (VmHWM).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { migrateEngine } from '../src/db/migrate.js';
import { benchDatabase } from './database.js';

const USERS = Number(process.env.BENCH_USERS ?? 1_000_000);
const ENTER_SECONDS = Number(process.env.BENCH_ENTER_SECONDS ?? 60);
const REPO = path.resolve(import.meta.dirname, '..');
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const FEATURE = `name: onboarding
trigger: { table: public.profiles, on: insert }
contact: { id: new.id, email: new.email }
stages:
  - name: welcomed
    do: [{ track: { event: onboarding_started } }]
`;

/** The peak resident memory of a process, from /proc (MiB); undefined where there is none. */
async function peakMiB(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status ?? '')?.[1]);
  return Number.isFinite(kb) ? kb / 1024 : undefined;
}

const bench = await benchDatabase('backfill');
let engine: ChildProcess | undefined;
try {
  const sql = postgres(bench.url, { onnotice: () => {}, max: 4 });
  await migrateEngine(sql, bench.url);
  await sql`create table public.profiles (
    id uuid primary key, email text not null, plan text not null, created_at timestamptz not null default now())`;
  console.log(
    `Nudge backfill benchmark — ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}, Node ${process.version}`,
  );
  const seeded = performance.now();
  for (let from = 1; from <= USERS; from += 100_000) {
    await sql`
      insert into public.profiles (id, email, plan)
      select gen_random_uuid(), 'user' || g || '@example.com', case when g % 3 = 0 then 'pro' else 'free' end
        from generate_series(${from}::int, ${Math.min(USERS, from + 99_999)}::int) g`;
  }
  await sql`vacuum analyze public.profiles`;
  console.log(
    `${USERS.toLocaleString('en-US')} users written in ${((performance.now() - seeded) / 1000).toFixed(1)} s`,
  );

  const dir = path.join(bench.dir, 'project');
  await mkdir(path.join(dir, 'nudge/features'), { recursive: true });
  await writeFile(path.join(dir, 'nudge.yaml'), 'server: { port: 0 }\n');
  await writeFile(path.join(dir, 'nudge/features/onboarding.yaml'), FEATURE);

  // 1. The backfill, as `nudge backfill onboarding --yes --rate unlimited` runs it (built code).
  const { backfill } = (await import(
    path.join(REPO, 'dist/cli/backfill.js')
  )) as typeof import('../src/cli/backfill.js');
  const { memoryIo } = (await import(
    path.join(REPO, 'dist/cli/io.js')
  )) as typeof import('../src/cli/io.js');
  const out = memoryIo({ cwd: dir, env: { DATABASE_URL: bench.url } });
  const rssBefore = process.memoryUsage().rss / 2 ** 20;
  const started = performance.now();
  const code = await backfill(['onboarding'], { yes: true, rate: 'unlimited' }, out.io);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`backfill exited ${code}: ${out.stdout()}\n${out.stderr()}`);
  const [queued] = await sql<{ n: number }[]>`
    select count(*)::int as n from nudge_engine.inbox where source = 'backfill'`;
  console.log(
    `\nbackfill: ${queued!.n.toLocaleString('en-US')} rows entered the inbox in ${seconds.toFixed(1)} s: ${(queued!.n / seconds).toFixed(0)} rows/s; peak memory (RSS) ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (${rssBefore.toFixed(0)} MiB before)`,
  );
  console.log(`  ${out.stdout().split('\n').at(-1)}`);

  // 2. The engine entering them.
  engine = spawn(
    process.execPath,
    [path.join(REPO, 'dist/cli/main.js'), '-c', path.join(dir, 'nudge.yaml'), 'start'],
    {
      cwd: REPO,
      env: { ...process.env, DATABASE_URL: bench.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk).slice(-20_000);
  };
  engine.stdout?.on('data', collect);
  engine.stderr?.on('data', collect);
  const deadline = Date.now() + 60_000;
  while (!output.includes('Nudge is running')) {
    if (Date.now() > deadline) throw new Error(`nudge start did not start:\n${output}`);
    await wait(50);
  }
  const entered = async () =>
    (
      await sql<{ n: number }[]>`
        select count(*)::int as n from nudge_engine.journeys where feature = 'onboarding'`
    )[0]!.n;
  const enterStart = performance.now();
  const first = await entered();
  let now = first;
  while (now < queued!.n && performance.now() - enterStart < ENTER_SECONDS * 1000) {
    await wait(1000);
    now = await entered();
  }
  const enterSeconds = (performance.now() - enterStart) / 1000;
  const rate = (now - first) / enterSeconds;
  const enginePeak = engine.pid === undefined ? undefined : await peakMiB(engine.pid);
  console.log(
    `engine: ${now.toLocaleString('en-US')} of ${queued!.n.toLocaleString('en-US')} entered after ${enterSeconds.toFixed(0)} s: ${rate.toFixed(0)} entries/s${
      now < queued!.n
        ? ` (all of them: about ${((queued!.n - now) / rate / 60).toFixed(0)} more minutes at this rate)`
        : ''
    }; engine peak memory ${enginePeak === undefined ? 'unknown' : `${enginePeak.toFixed(0)} MiB`}`,
  );
  const stopped = new Promise((resolve) => engine?.once('exit', resolve));
  engine.kill('SIGINT');
  await Promise.race([stopped, wait(10_000)]);
  await sql.end();
} finally {
  engine?.kill('SIGKILL');
  await bench.stop();
}
