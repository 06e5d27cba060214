// The action job runner of one engine process: graphile-worker's runner, kept
// running (one that stops by itself is replaced), the heartbeats of its worker
// pools, and the freeing of jobs that a dead process left locked.
//
// Why this exists. graphile-worker locks a job with its worker *pool's* id
// (locked_by) and only ever frees a lock when that pool finishes the job. A
// process killed with -9 leaves its jobs locked for good; so does a pool that
// shut itself down because it could not record an outcome (the database went
// away mid-job). Every process therefore writes a heartbeat per live pool to
// nudge_engine.workers, and a job locked for longer than `deadAfterMs` by a
// pool without a fresh heartbeat is unlocked, its interrupted attempt not
// counted, so a live pool runs it again. Freeing the job of a pool that is in
// fact alive (a process that stalled past the window) is safe: an action run's
// row lock and attempt number make the second execution wait for the first
// and then do nothing (src/actions/task.ts). The default window is 30 s.
// Likewise an action job whose task failed without recording its attempt
// (the database was away) gets the attempt back instead of waiting for
// recoverActions' window (RECOVER_AFTER_MS).
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { type Runner, run as runWorker, type TaskList, type WorkerEvents } from 'graphile-worker';
import pg from 'pg';
import type postgres from 'postgres';
import { ACTION_TASK } from '../../actions/queue.js';
import { quietLogger, WORKER_SCHEMA } from '../../db/migrate.js';
import { pgConnection } from '../../db/tls-pg.js';
import type { Log } from '../../log.js';

export const DEFAULT_DEAD_WORKER_MS = 30_000;
/** Actions executed at once by one process's job runner. */
export const ACTION_CONCURRENCY = 8;

/**
 * How the engine runs graphile-worker (bench/e2e.ts runs its no-op baseline
 * the same way). Completions and failures go through graphile-worker's
 * batching (delay 0: no waiting), because only that path retries them when
 * the database is briefly away; unbatched, a lost connection while recording
 * a job's outcome is an unhandled rejection and the job stays locked.
 * Measured: a local queue (jobs fetched in batches) made the no-op baseline
 * 2–3× faster but end-to-end throughput no faster — an action's own queries
 * dominate — so jobs are fetched one at a time.
 */
export function jobRunnerSettings(concurrency: number) {
  return {
    concurrency,
    pollInterval: 1000,
    preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
  };
}

/**
 * The connection pool graphile-worker runs on, with error handlers that stay
 * for the pool's whole life. graphile-worker installs its own on a pool it
 * creates, but removes them before ending it: a connection the server closed
 * in that moment (a restart, a dropped database) then raised an unhandled
 * 'error' and ended the process. The caller ends the pool after the runner.
 * A user's URL comes as pgConnection's options (TLS as postgres.js's).
 */
export function workerPool(
  connection: string | pg.PoolConfig,
  max: number,
  onError: (error: Error) => void,
): pg.Pool {
  const options = typeof connection === 'string' ? { connectionString: connection } : connection;
  const pool = new pg.Pool({ ...options, max });
  pool.on('error', onError);
  pool.on('connect', (client) => client.on('error', onError));
  return pool;
}

/** How long a loop waits after its `failures`-th failure in a row: 0.5 s doubling to 30 s. */
export function retryDelayMs(failures: number): number {
  return Math.min(30_000, 250 * 2 ** Math.min(failures, 7));
}

export interface JobRunnerOptions {
  engine: postgres.Sql;
  engineUrl: string;
  tasks: TaskList;
  concurrency: number;
  log: Log;
  /** A pool silent for this long is dead and its jobs are freed. */
  deadAfterMs: number;
}

export interface JobRunner {
  /** Records that this process's pools are alive. */
  heartbeat(): Promise<void>;
  /**
   * Frees the jobs of dead pools (any process's) and gives another attempt to
   * action jobs that failed without recording an outcome; returns how many.
   */
  unlockDead(): Promise<number>;
  stop(): Promise<void>;
}

export async function startJobRunner(options: JobRunnerOptions): Promise<JobRunner> {
  const { engine, log } = options;
  const live = new Set<string>();
  const created: string[] = [];
  const events = new EventEmitter() as WorkerEvents;
  events.on('pool:create', ({ workerPool }) => {
    live.add(workerPool.id);
    created.push(workerPool.id);
  });
  events.on('pool:release', ({ workerPool }) => live.delete(workerPool.id));
  const stopping = new AbortController();
  const connection = await pgConnection(options.engineUrl);
  const pool = workerPool(connection, options.concurrency + 2, (error) =>
    log.warn({ error: error.message }, 'a job runner connection failed; it reconnects'),
  );
  const start = () =>
    runWorker({
      pgPool: pool,
      schema: WORKER_SCHEMA,
      taskList: options.tasks,
      ...jobRunnerSettings(options.concurrency),
      noHandleSignals: true,
      events,
      logger: quietLogger((level, message) => log.warn(`job runner ${level}: ${message}`)),
    });

  // A pool shuts itself down when one of its workers dies (e.g. a lost
  // connection while fetching a job) or it cannot record outcomes. It may
  // take minutes to finish (it keeps retrying what it has to record), so a
  // new runner starts at once, and the old pool stops heartbeating: its
  // locked jobs are freed after the window like a dead process's.
  const runners = new Set<Runner>();
  let currentPool: string | undefined;
  let replacing: Promise<void> | undefined;
  const adopt = (runner: Runner) => {
    runners.add(runner);
    currentPool = created.at(-1);
    const pool = currentPool;
    runner.promise
      .catch((error: unknown) =>
        log.warn({ error: (error as Error).message }, 'the job runner failed'),
      )
      .finally(() => {
        runners.delete(runner);
        if (pool === currentPool) replace('stopped');
      });
  };
  const replace = (why: string) => {
    if (replacing || stopping.signal.aborted) return;
    log.warn(`the job runner ${why}; starting a new one`);
    replacing = (async () => {
      for (let failures = 1; !stopping.signal.aborted; failures++) {
        try {
          const runner = await start();
          adopt(runner);
          if (stopping.signal.aborted) await runner.stop().catch(() => {});
          return;
        } catch (error) {
          const backoff = retryDelayMs(failures);
          log.warn(
            { error: (error as Error).message },
            `starting the job runner failed, retrying in ${backoff} ms`,
          );
          await pause(backoff, stopping.signal);
        }
      }
    })().finally(() => {
      replacing = undefined;
    });
  };
  events.on('pool:gracefulShutdown', ({ workerPool, message }) => {
    live.delete(workerPool.id);
    if (workerPool.id === currentPool) replace(`is shutting down (${message})`);
  });
  adopt(await start());

  return {
    async heartbeat() {
      if (live.size === 0) return;
      await engine`
        insert into nudge_engine.workers (id, host, pid, heartbeat_at)
        select id, ${os.hostname()}, ${process.pid}, now() from unnest(${[...live]}::text[]) as id
        on conflict (id) do update set heartbeat_at = now()`;
    },
    async unlockDead() {
      const freed = await unlockDeadPools(engine, options.deadAfterMs, log);
      return freed + (await retryInterrupted(engine, options.deadAfterMs, log));
    },
    async stop() {
      stopping.abort();
      await replacing;
      // Running jobs get a chance to finish; a pool still retrying what it
      // could not record is not waited for (its jobs are freed later).
      await Promise.all(
        [...runners].map(async (runner) => {
          const gaveUp = new AbortController();
          const timer = setTimeout(() => gaveUp.abort(), 15_000);
          await Promise.race([runner.stop().catch(() => {}), pause(15_000, gaveUp.signal)]);
          clearTimeout(timer);
          gaveUp.abort();
        }),
      );
      await engine`delete from nudge_engine.workers where id = any(${created}::text[])`.catch(
        () => {},
      );
      await pool.end().catch(() => {});
    },
  };
}

/**
 * Engine processes (nudge start, dev, worker) running against this engine
 * store: those with a heartbeat (written above) fresher than the default
 * dead-worker window; a running process heartbeats at least every 5 s
 * (src/engine/wiring/runtime.ts). 0 when the store has no workers table yet.
 */
export async function runningEngineProcesses(sql: postgres.Sql): Promise<number> {
  const [table] = await sql<{ exists: boolean }[]>`
    select to_regclass('nudge_engine.workers') is not null as exists`;
  if (!table?.exists) return 0;
  const [row] = await sql<{ processes: number }[]>`
    select count(distinct (host, pid))::int as processes from nudge_engine.workers
     where heartbeat_at > now() - ${DEFAULT_DEAD_WORKER_MS} * interval '1 millisecond'`;
  return row?.processes ?? 0;
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Unlocks the jobs held for longer than `deadAfterMs` by pools with no
 * heartbeat that recent, and gives each back the attempt it lost (a nudge
 * action job has max_attempts 1: left as is, it would never run again). One
 * transaction, through graphile-worker's own functions.
 */
export async function unlockDeadPools(
  engine: postgres.Sql,
  deadAfterMs: number,
  log: Log,
): Promise<number> {
  const freed = await engine.begin(async (tx) => {
    const jobs = await tx<{ id: string; locked_by: string; attempts: number }[]>`
      select j.id, j.locked_by, greatest(j.attempts - 1, 0) as attempts
        from ${tx(WORKER_SCHEMA)}.jobs j
       where j.locked_at < now() - ${deadAfterMs} * interval '1 millisecond'
         and not exists (
           select from nudge_engine.workers w
            where w.id = j.locked_by and w.heartbeat_at >= now() - ${deadAfterMs} * interval '1 millisecond')`;
    await tx`delete from nudge_engine.workers where heartbeat_at < now() - ${deadAfterMs} * interval '1 millisecond'`;
    if (jobs.length === 0) return 0;
    const pools = [...new Set(jobs.map((j) => j.locked_by))];
    await tx`select ${tx(WORKER_SCHEMA)}.force_unlock_workers(${pools}::text[])`;
    const byAttempts = new Map<number, string[]>();
    for (const job of jobs)
      byAttempts.set(job.attempts, [...(byAttempts.get(job.attempts) ?? []), job.id]);
    for (const [attempts, ids] of byAttempts) {
      await tx`select from ${tx(WORKER_SCHEMA)}.reschedule_jobs(${ids}::bigint[], attempts => ${attempts}::int)`;
    }
    return jobs.length;
  });
  if (freed > 0) log.warn({ jobs: freed }, 'freed the jobs of a stopped process');
  return freed;
}

/**
 * An action job whose task failed without recording the attempt (the
 * database went away mid-attempt, and the fallback write failed too) is left
 * by graphile-worker as permanently failed, key and all, while its run is
 * still pending. It gets its attempt back, `delayMs` from now; the run's row
 * lock and attempt number make a repeat harmless (src/actions/task.ts). A job
 * whose attempts were recorded names no run still at the attempt it was made
 * for, so it is never picked here.
 */
export async function retryInterrupted(
  engine: postgres.Sql,
  delayMs: number,
  log: Log,
): Promise<number> {
  const [row] = await engine<{ retried: number; dropped: number }[]>`
    with failed as materialized (
      select j.id, exists (
               select from nudge_engine.action_runs r
                 join (select (p.payload ->> 'runId')::bigint as id, (p.payload ->> 'attempt')::int as attempt
                       union all
                       select (run ->> 'id')::bigint, (run ->> 'attempt')::int
                         from json_array_elements(p.payload -> 'runs') run) w on w.id = r.id
                where r.status in ('pending', 'retrying')
                  and (w.attempt is null or r.attempts = w.attempt)) as live
        from ${engine(WORKER_SCHEMA)}.jobs j
        join ${engine(WORKER_SCHEMA)}._private_jobs p using (id)
       where j.task_identifier = ${ACTION_TASK} and j.locked_at is null
         and j.attempts >= j.max_attempts
    ), retried as (
      select count(*)::int as n from ${engine(WORKER_SCHEMA)}.reschedule_jobs(
        array(select id from failed where live),
        run_at => now() + ${delayMs} * interval '1 millisecond', attempts => 0)
    ), dropped as (
      -- Failed jobs with nothing left to run would stay in the queue for good.
      delete from ${engine(WORKER_SCHEMA)}._private_jobs p
       using failed where p.id = failed.id and not failed.live
      returning p.id
    )
    select (select n from retried) as retried, (select count(*)::int from dropped) as dropped`;
  const n = row?.retried ?? 0;
  if (n > 0) log.warn({ jobs: n }, 'gave interrupted action attempts another try');
  return n;
}
