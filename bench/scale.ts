// npm run bench:scale — end-to-end events/s with 1, 2 and 4 engine processes
// on this machine, in one run. Each count is one run of bench/e2e.ts (its
// database, features, sink and throughput phase, unchanged) with
// BENCH_WORKERS = count − 1 `nudge worker` processes beside `nudge start`
// and no steady phases. Prints events/s per count, the ratio to one process,
// and where the CPU went (cores used by the engine processes and by the
// database during the throughput phase). BENCH_SCALE_ROUNDS (default 2)
// repeats the counts, alternating their order so a slow hour does not land
// on one count only; BENCH_ROWS (default 30,000) and BENCH_CONFIG are passed
// on (e.g. BENCH_CONFIG="engine: { partitions: 4 }").
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

const COUNTS = [1, 2, 4];
const ROUNDS = Number(process.env.BENCH_SCALE_ROUNDS ?? 2);
const ROWS = process.env.BENCH_ROWS ?? '30000';
const REPO = path.resolve(import.meta.dirname, '..');

interface Run {
  processes: number;
  eventsPerSecond: number;
  /** end-to-end ÷ graphile-worker's no-op rate, measured in the same run. */
  perNoop: number;
  /** CPU ms per event of all engine processes together, and of the database. */
  engineMs: number;
  databaseMs: number;
}

/** One bench/e2e.ts run with `processes` engine processes; its figures from what it prints. */
async function measure(processes: number): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'bench/e2e.ts')], {
    cwd: REPO,
    env: {
      BENCH_TRANSPORT: 'outbox',
      ...process.env,
      BENCH_WORKERS: String(processes - 1),
      BENCH_STEADY_SECONDS: '0',
      BENCH_ROWS: ROWS,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout?.on('data', (chunk) => {
    out += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const e2e =
    /end to end: .*?: (\d+) events\/s; CPU per event: engine ([\d.]+) ms, database ([\d.]+) ms/.exec(
      out,
    );
  const ratio = /end-to-end ÷ no-op job rate: ([\d.]+)/.exec(out);
  if (code !== 0 || !e2e || !ratio)
    throw new Error(`bench/e2e.ts with ${processes} process(es) failed (exit ${code}):\n${out}`);
  return {
    processes,
    eventsPerSecond: Number(e2e[1]),
    engineMs: Number(e2e[2]),
    databaseMs: Number(e2e[3]),
    perNoop: Number(ratio[1]),
  };
}

console.log(
  `Nudge scale benchmark — ${os.cpus().length} cores (${os.cpus()[0]?.model ?? ''}), shared with other work: load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} at the start`,
);
console.log(
  `Database, engine processes and the inserting clients all run on these cores. ${ROWS} rows per run, ${ROUNDS} round(s).\n`,
);
const runs: Run[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? COUNTS : [...COUNTS].reverse();
  for (const processes of order) {
    const run = await measure(processes);
    runs.push(run);
    // Cores busy during the throughput phase: CPU ms per event × events per second.
    const cores = (ms: number) => ((ms * run.eventsPerSecond) / 1000).toFixed(2);
    console.log(
      `round ${round + 1}, ${processes} process(es): ${run.eventsPerSecond} events/s (${run.perNoop} × no-op); CPU per event: engines ${run.engineMs} ms, database ${run.databaseMs} ms; cores used: engines ${cores(run.engineMs)}, database ${cores(run.databaseMs)}`,
    );
  }
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const rate = (processes: number) =>
  mean(runs.filter((r) => r.processes === processes).map((r) => r.eventsPerSecond));
const one = rate(1);
console.log(`\nmean over ${ROUNDS} round(s), on ${os.cpus().length} shared cores:`);
for (const processes of COUNTS) {
  const mine = runs.filter((r) => r.processes === processes);
  console.log(
    `  ${processes} process(es): ${rate(processes).toFixed(0)} events/s (runs: ${mine.map((r) => r.eventsPerSecond).join(', ')}), ${(rate(processes) / one).toFixed(2)} × one process; × no-op ${mine.map((r) => r.perNoop).join(', ')}`,
  );
}
