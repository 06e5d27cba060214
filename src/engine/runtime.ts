// One engine process: the loops of the data path, started and stopped
// together. `nudge start` runs one (with the HTTP server); `nudge worker`
// adds more, sharing the work through Postgres: outbox claims and timers use
// SKIP LOCKED, partitions use advisory locks, actions are graphile-worker jobs.
//
// Each loop runs, and when it found nothing waits until woken (new inbox rows
// are announced with NOTIFY nudge_inbox on the engine store) or until its poll
// interval passes. Errors (a database restarting, a lost connection) are
// logged and retried with backoff; postgres.js reconnects by itself.
import os from 'node:os';
import { makeWorkerUtils, type Runner, run as runWorker, type TaskList } from 'graphile-worker';
import type postgres from 'postgres';
import type { NewActionRun } from '../actions/types.js';
import { parseDuration } from '../config/duration.js';
import type { LoadedConfig } from '../config/load.js';
import { quietLogger, WORKER_SCHEMA } from '../db/migrate.js';
import type { Catalog } from '../source/catalog.js';
import type { Clock } from './clock.js';
import type { FeatureSet } from './features.js';
import type { Router } from './inbox.js';
import type { Log } from './log.js';
import { type ProcessContext, processPartition } from './process.js';
import { pumpOnce } from './pump.js';
import { runSchedules } from './schedule.js';
import { processTimers } from './timers.js';

/** Actions executed at once by one process's job runner. */
export const ACTION_CONCURRENCY = 8;

export interface EngineOptions {
  project: LoadedConfig;
  engine: postgres.Sql;
  engineUrl: string;
  /** The user's database; undefined when only webhooks/API feed the engine. */
  source?: postgres.Sql;
  features: FeatureSet;
  catalog: Catalog;
  clock: Clock;
  route: Router;
  log: Log;
  enqueueActions: (tx: postgres.TransactionSql, runs: NewActionRun[]) => Promise<unknown>;
  onContactCreated?: ProcessContext['onContactCreated'];
  actionTasks: TaskList;
  /** Extra periodic work (recovering stranded action runs, webhook reconciliation). */
  housekeeping?: (() => Promise<unknown>)[];
  /** Poll intervals (ms); tests shorten them. */
  idleMs?: number;
  concurrency?: number;
}

export interface Engine {
  /** Wake the processors (new inbox rows). */
  wake(): void;
  stop(): Promise<void>;
  stats: { pumped: number; processed: number; timers: number; scheduled: number; errors: number };
}

export async function startEngine(options: EngineOptions): Promise<Engine> {
  const { project, engine, log } = options;
  const partitions = project.config.engine.partitions;
  const idle = options.idleMs ?? 200;
  const stats = { pumped: 0, processed: 0, timers: 0, scheduled: 0, errors: 0 };
  const abort = new AbortController();
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const resolve of waiters) resolve();
    waiters.clear();
  };
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        waiters.delete(done);
        abort.signal.removeEventListener('abort', done);
        resolve();
      }
      waiters.add(done);
      abort.signal.addEventListener('abort', done, { once: true });
    });

  const cap = project.config.actions.frequency_cap;
  const processContext = {
    engine,
    features: options.features,
    clock: options.clock,
    enqueueActions: options.enqueueActions,
    ...(options.onContactCreated ? { onContactCreated: options.onContactCreated } : {}),
    ...(cap ? { frequencyCap: { max: cap.max, perMs: parseDuration(cap.per)! } } : {}),
  };

  /** Runs `step` until stopped: again at once while it finds work, else after `waitMs` or a wake-up. */
  const loop = async (
    name: string,
    step: () => Promise<number>,
    waitMs: number,
    count: keyof typeof stats,
  ) => {
    let failures = 0;
    while (!abort.signal.aborted) {
      try {
        const n = await step();
        failures = 0;
        stats[count] += n;
        if (n === 0) await pause(waitMs);
      } catch (error) {
        if (abort.signal.aborted) break;
        stats.errors++;
        failures++;
        const backoff = Math.min(30_000, 250 * 2 ** Math.min(failures, 7));
        log.warn({ error: (error as Error).message }, `${name} failed, retrying in ${backoff} ms`);
        await pause(backoff);
      }
    }
  };

  const listener = await engine
    .listen('nudge_inbox', () => wake())
    .catch((error) => {
      log.warn({ error: (error as Error).message }, 'LISTEN nudge_inbox failed; polling only');
      return undefined;
    });
  const announce = () =>
    engine`select pg_notify('nudge_inbox', '')`.then(
      () => undefined,
      () => undefined,
    );

  const runner: Runner = await runWorker({
    connectionString: options.engineUrl,
    schema: WORKER_SCHEMA,
    taskList: options.actionTasks,
    concurrency: options.concurrency ?? ACTION_CONCURRENCY,
    pollInterval: 1000,
    noHandleSignals: true,
    logger: quietLogger((level, message) => log.warn(`job runner ${level}: ${message}`)),
  });
  const workerIds = new Set<string>();
  runner.events.on('worker:create', ({ worker }) => workerIds.add(worker.workerId));
  const heartbeat = () =>
    workerIds.size === 0
      ? Promise.resolve()
      : engine`
          insert into nudge_engine.workers (id, host, pid, heartbeat_at)
          select id, ${os.hostname()}, ${process.pid}, now() from unnest(${[...workerIds]}::text[]) as id
          on conflict (id) do update set heartbeat_at = now()`.then(() => undefined);

  const loops: Promise<void>[] = [];
  if (options.source) {
    const source = options.source;
    const archive = (parseDuration(project.config.engine.retention.outbox) ?? 0) > 0;
    loops.push(
      loop(
        'outbox pump',
        async () => {
          const n = await pumpOnce({ source, engine, route: options.route, archive });
          if (n > 0) {
            wake();
            void announce();
          }
          return n;
        },
        Math.min(idle, 50),
        'pumped',
      ),
    );
    loops.push(
      loop(
        'schedules',
        () =>
          runSchedules(
            {
              source,
              engine,
              catalog: options.catalog,
              clock: options.clock,
              route: options.route,
            },
            options.features.scheduled(),
          ),
        Math.max(idle, 1000),
        'scheduled',
      ),
    );
  }
  for (let partition = 0; partition < partitions; partition++) {
    loops.push(
      loop(
        `partition ${partition}`,
        () => processPartition(processContext, partition),
        idle,
        'processed',
      ),
    );
  }
  loops.push(loop('timers', () => processTimers(processContext), Math.max(idle, 250), 'timers'));
  loops.push(
    loop(
      'housekeeping',
      async () => {
        await heartbeat();
        await unlockDeadWorkers(options.engineUrl, engine, log);
        await applyRetention(engine, project);
        for (const task of options.housekeeping ?? []) await task();
        return 0;
      },
      5000,
      'errors',
    ),
  );

  log.info({ partitions, source: !!options.source }, 'engine started');
  return {
    wake,
    stats,
    async stop() {
      abort.abort();
      wake();
      await Promise.all(loops);
      await runner.stop();
      await listener?.unlisten().catch(() => {});
      if (workerIds.size) {
        await engine`delete from nudge_engine.workers where id = any(${[...workerIds]}::text[])`.catch(
          () => {},
        );
      }
      log.info(stats, 'engine stopped');
    },
  };
}

/**
 * A process killed with -9 leaves its running jobs locked (graphile-worker
 * would wait hours). Workers whose process stopped heartbeating for 30 s are
 * declared dead and their jobs unlocked, so another process runs them; the
 * action's idempotency key keeps the effect single.
 */
async function unlockDeadWorkers(url: string, engine: postgres.Sql, log: Log): Promise<void> {
  const dead = await engine<{ id: string }[]>`
    select id from nudge_engine.workers where heartbeat_at < now() - interval '30 seconds'`;
  if (dead.length === 0) return;
  const utils = await makeWorkerUtils({
    connectionString: url,
    schema: WORKER_SCHEMA,
    logger: quietLogger(),
  });
  try {
    await utils.forceUnlockWorkers(dead.map((d) => d.id));
  } finally {
    await utils.release();
  }
  await engine`delete from nudge_engine.workers where id = any(${dead.map((d) => d.id)}::text[])`;
  log.warn({ workers: dead.length }, 'unlocked the jobs of stopped workers');
}

/** Deletes processed inbox rows and decisions older than their retention. */
async function applyRetention(engine: postgres.Sql, project: LoadedConfig): Promise<void> {
  const retention = project.config.engine.retention;
  const ingest = parseDuration(retention.ingest_log)!;
  const decisions = parseDuration(retention.decisions)!;
  await engine`delete from nudge_engine.inbox
                where processed_at is not null and processed_at < now() - ${ingest / 1000} * interval '1 second'`;
  await engine`delete from nudge_engine.decisions where at < now() - ${decisions / 1000} * interval '1 second'`;
}
