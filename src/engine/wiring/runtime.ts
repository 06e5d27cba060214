// One engine process: the loops of the data path, started and stopped
// together. `nudge start` runs one (with the HTTP server); `nudge worker`
// adds more, sharing the work through Postgres: the pump's claims and timers
// use SKIP LOCKED, partitions use advisory locks, actions are graphile-worker
// jobs. The pump is the capture transport's (capture/transports/port.ts,
// Transport.engine.pump); its loop is this file's, like every other.
//
// Each loop runs, and when it found nothing waits until woken (new inbox rows
// are announced with NOTIFY nudge_inbox on the engine store) or until its poll
// interval passes. Errors (a database restarting, a lost connection) are
// logged and retried with backoff; postgres.js reconnects by itself.
import { randomUUID } from 'node:crypto';
import type { Task, TaskList } from 'graphile-worker';
import type postgres from 'postgres';
import { attemptLimit } from '../../actions/attempt-limit.js';
import { firstAttemptsHere } from '../../actions/first-attempt.js';
import type { RunRef } from '../../actions/queue.js';
import type { NewActionRun } from '../../actions/types.js';
import { enginePumps } from '../../capture/transports/index.js';
import type { FeaturesAt } from '../../capture/transports/port.js';
import { parseDuration } from '../../config/duration.js';
import type { LoadedConfig } from '../../config/load.js';
import { indexContacts } from '../../contacts/search-index.js';
import type { Db } from '../../contacts/store.js';
import type { Log } from '../../log.js';
import { plural } from '../../words.js';
import { INBOX_CHANNEL, type Router, readNews, steadyPaceMs } from '../intake/inbox.js';
import { runSchedules } from '../intake/schedule.js';
import { sweepConversions } from '../journeys/experiment-store.js';
import { processTimers, waitsToFit } from '../journeys/timers.js';
import { type Bell, Bells } from '../lanes/bells.js';
import type { ProcessContext } from '../lanes/context.js';
import { processLanes, reclaimLanes } from '../lanes/process.js';
import type { FeatureSet } from '../match/features.js';
import { laneWaiting } from '../sql/lane-waiting.js';
import { timersDue } from '../sql/timers-due.js';
import {
  CAPTURE_FAILURES_MS,
  type CaptureFailureWatch,
  watchCaptureFailures,
} from './capture-failures.js';
import type { Clock } from './clock.js';
import {
  ACTION_CONCURRENCY,
  DEFAULT_DEAD_WORKER_MS,
  retryDelayMs,
  startJobRunner,
} from './job-runner.js';

export interface EngineOptions {
  project: LoadedConfig;
  engine: postgres.Sql;
  engineUrl: string;
  /** The user's database; undefined when only webhooks/API feed the engine. */
  source?: postgres.Sql;
  features: FeatureSet;
  /** The deployment `features` were read at, and reading them again (follow-deploys.ts). */
  deploys?: FeaturesAt;
  clock: Clock;
  route: Router;
  log: Log;
  enqueueActions: (tx: postgres.TransactionSql, runs: NewActionRun[]) => Promise<unknown>;
  onContactsCreated?: ProcessContext['onContactsCreated'];
  liveSync?: ProcessContext['liveSync'];
  actionTasks: TaskList;
  /**
   * One recorded attempt of each run (task.ts runActions). When given, the
   * first attempt of the actions this process decides is made here, right
   * after the commit, rather than by a job (actions/first-attempt.ts).
   */
  attemptActions?: (refs: RunRef[]) => Promise<unknown>;
  /** Extra periodic work (recovering stranded action runs, webhook reconciliation). */
  housekeeping?: [name: string, task: () => Promise<unknown>][];
  /** Poll intervals (ms); tests shorten them. */
  idleMs?: number;
  /** How often one process looks for rows a capture trigger could not capture (capture-failures.ts; default 30 s). */
  captureFailuresMs?: number;
  concurrency?: number;
  /** A process silent this long is dead and its action jobs are freed (default 30 s; see job-runner.ts). */
  deadWorkerMs?: number;
}

/**
 * How long the pump waits before its next claim (a full claim goes again at
 * once). Capture does not NOTIFY (docs/architecture.md), so the pump polls:
 * at the steady pace (inbox.ts steadyPaceMs: 10 to 20 ms, by the rows its
 * last claim moved) for a second after rows came, every 50 ms when quiet,
 * never longer than `idleMs`.
 */
export function pumpWaitMs(lastMoved: number, msSincePumped: number, idleMs: number): number {
  const wait = msSincePumped < 1000 ? steadyPaceMs(lastMoved) : 50;
  return Math.min(idleMs, wait);
}

/** What a loop's step did: how much it handled, and whether to run again at once (by default when it handled any). */
function outcome(done: number | { count: number; more: boolean }): {
  count: number;
  more: boolean;
} {
  return typeof done === 'number' ? { count: done, more: done > 0 } : done;
}

/** How long a stopping engine waits for the action attempts under way. */
const DRAIN_MS = 15_000;

/**
 * How long a stopping engine waits on a part in silence: past this it says
 * what it waits for (a loop's step in hand, attempts or jobs in flight).
 */
export const STOP_QUIET_MS = 1000;

export interface Engine {
  /**
   * The name this process announces the inbox rows it writes under (inbox.ts
   * announcement): its own announcements do not ring its lanes again.
   */
  id: string;
  /** Wake the lanes (new inbox rows): `lanes` only, or all of them. */
  wake(lanes?: Iterable<number>): void;
  /**
   * This process wrote rows into the inbox for `lanes` (a claim of the pump,
   * a write of the replication consumer): when more are waiting each lane is
   * rung; otherwise the first free lane takes the others along, one batch
   * for the lot (bells.ts wakeTogether).
   */
  stored(lanes: Iterable<number>, more: boolean): void;
  stop(): Promise<void>;
  stats: {
    pumped: number;
    processed: number;
    timers: number;
    scheduled: number;
    indexed: number;
    errors: number;
  };
}

export async function startEngine(options: EngineOptions): Promise<Engine> {
  const { project, engine, log } = options;
  const partitions = project.config.engine.partitions;
  const idle = options.idleMs ?? 200;
  const stats = { pumped: 0, processed: 0, timers: 0, scheduled: 0, indexed: 0, errors: 0 };
  const abort = new AbortController();
  // One bell per lane (bells.ts).
  const bells = new Bells(partitions);
  const stored = (lanes: Iterable<number>, more: boolean) =>
    more ? bells.wake(lanes) : bells.wakeTogether(lanes);
  const pause = (ms: number, bell?: Bell) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        if (bell?.waiter === done) bell.waiter = undefined;
        abort.signal.removeEventListener('abort', done);
        resolve();
      }
      if (bell) bell.waiter = done;
      abort.signal.addEventListener('abort', done, { once: true });
    });
  // Announcements of new inbox rows carry the sender; this process skips its own.
  const self = randomUUID();

  const cap = project.config.actions.frequency_cap;
  const concurrency = options.concurrency ?? ACTION_CONCURRENCY;
  // Every attempt — first ones made here, job tasks alike — goes through one
  // limit of `concurrency` at once, so together they hold at most that many connections.
  const limited = attemptLimit(concurrency);
  const attemptActions = options.attemptActions;
  /** What a stop waits for (said when it takes a while): runs being attempted first here, jobs running. */
  const inFlight = { runs: 0, jobs: 0 };
  const firstAttempts = attemptActions
    ? firstAttemptsHere({
        attempt: async (refs) => {
          inFlight.runs += refs.length;
          try {
            return await limited(() => attemptActions(refs));
          } finally {
            inFlight.runs -= refs.length;
          }
        },
        limit: concurrency,
        onError: (error, refs) =>
          log.warn(
            { error: (error as Error).message, runIds: refs.map((r) => r.id) },
            'an action attempt could not be recorded; its runs get a job when recovered',
          ),
      })
    : undefined;
  const processContext = {
    engine,
    features: options.features,
    clock: options.clock,
    enqueueActions: options.enqueueActions,
    ...(firstAttempts ? { firstAttempts } : {}),
    ...(options.onContactsCreated ? { onContactsCreated: options.onContactsCreated } : {}),
    ...(options.liveSync ? { liveSync: options.liveSync } : {}),
    ...(options.deploys ? { deploys: options.deploys } : {}),
    onBatchFallback: (error: unknown) =>
      log.warn(
        { error: (error as Error).message },
        'a batch could not be processed together; processing its events one by one',
      ),
    ...(cap ? { frequencyCap: { max: cap.max, perMs: parseDuration(cap.per)! } } : {}),
  };

  /** The loops in the middle of a step, which a stop waits for (its transaction commits or rolls back). */
  const stepping = new Set<string>();
  /**
   * Runs `step` until stopped: again at once while there is more to do (it
   * says so, or by default it found work), else after `waitMs` — or sooner
   * when its `bell` rings (the lanes, which new inbox rows concern; the other
   * loops keep their own pace under load). After a step that found nothing,
   * a wake-up by time first asks `peek` whether there is anything now: one
   * query outside a transaction, where the step would take a transaction and
   * three round trips to find nothing again (an idle engine polls).
   */
  const loop = async (
    name: string,
    step: () => Promise<number | { count: number; more: boolean }>,
    waitMs: number | (() => number),
    count: keyof typeof stats,
    options: { bell?: Bell; peek?: () => Promise<boolean> } = {},
  ) => {
    const { bell, peek } = options;
    let failures = 0;
    let quiet = false;
    while (!abort.signal.aborted) {
      try {
        const rung = bell?.rung === true;
        if (bell) bell.rung = false;
        const skip = quiet && !rung && peek !== undefined && !(await peek());
        let done: number | { count: number; more: boolean } = 0;
        if (!skip) {
          stepping.add(name);
          try {
            done = await step();
          } finally {
            stepping.delete(name);
          }
        }
        const { count: n, more } = outcome(done);
        failures = 0;
        stats[count] += n;
        quiet = n === 0;
        if (!more && !bell?.rung) await pause(typeof waitMs === 'number' ? waitMs : waitMs(), bell);
      } catch (error) {
        if (abort.signal.aborted) break;
        stats.errors++;
        failures++;
        const backoff = retryDelayMs(failures);
        log.warn({ error: (error as Error).message }, `${name} failed, retrying in ${backoff} ms`);
        await pause(backoff);
      }
    }
  };

  const listener = await engine
    .listen(INBOX_CHANNEL, (payload) => {
      const news = readNews(payload);
      if (news.from !== self) bells.wake(news.lanes);
    })
    .catch((error) => {
      log.warn({ error: (error as Error).message }, `LISTEN ${INBOX_CHANNEL} failed; polling only`);
      return undefined;
    });

  const deadWorkerMs = options.deadWorkerMs ?? DEFAULT_DEAD_WORKER_MS;
  const runner = await startJobRunner({
    engine,
    engineUrl: options.engineUrl,
    tasks: Object.fromEntries(
      Object.entries(options.actionTasks).map(([name, task]): [string, Task] => [
        name,
        async (payload, helpers) => {
          inFlight.jobs++;
          try {
            return await limited(async () => task!(payload, helpers));
          } finally {
            inFlight.jobs--;
          }
        },
      ]),
    ),
    concurrency,
    log,
    deadAfterMs: deadWorkerMs,
  });

  /** Pending events of lanes beyond engine.partitions go to the lanes that run (process.ts). */
  const reclaim = async () => {
    const moved = await reclaimLanes(engine, partitions);
    if (moved > 0) {
      log.info(
        { events: moved, partitions },
        'moved pending events from lanes beyond engine.partitions into the lanes that run',
      );
      bells.wake();
    }
  };
  /** A housekeeping task that logs its failure instead of stopping the others. */
  const tryTask = ([name, task]: [string, () => Promise<unknown>]) =>
    task().catch((error) => {
      stats.errors++;
      log.warn({ error: (error as Error).message }, `${name} failed; tried again in 5 s`);
    });
  const reclaimTask: [string, () => Promise<unknown>] = ['moving events of dropped lanes', reclaim];
  // Before any lane runs, so a contact's older events go before its new ones.
  await tryTask(reclaimTask);

  const loops: Promise<void>[] = [];
  /** Rows a capture trigger could not capture, said in the log (capture-failures.ts). */
  let failures: CaptureFailureWatch | undefined;
  if (options.source) {
    const source = options.source;
    // The capture transports' pumps (the outbox's), whichever transport the
    // project uses: why they run here and not through Transport.engine.start
    // is in capture/transports/port.ts.
    const pumps = enginePumps({
      project,
      source,
      engine,
      route: options.route,
      announceAs: self,
      ...(options.deploys ? { features: options.deploys } : {}),
    });
    for (const pump of pumps) {
      let lastPumped = 0;
      let lastMoved = 0;
      loops.push(
        loop(
          pump.name,
          async () => {
            // Other engine processes hear of the rows from the pump's NOTIFY;
            // this one rings its lanes' bells itself.
            const { moved, lanes, more } = await pump.step();
            lastMoved = moved;
            if (moved > 0) {
              lastPumped = Date.now();
              stored(lanes, more);
            }
            return { count: moved, more };
          },
          () => pumpWaitMs(lastMoved, Date.now() - lastPumped, idle),
          'pumped',
          { peek: pump.waiting },
        ),
      );
    }
    loops.push(
      loop(
        'schedules',
        () =>
          runSchedules(
            {
              source,
              engine,
              catalog: options.features.catalog,
              clock: options.clock,
              route: options.route,
              exclude: project.config.capture.exclude_columns,
            },
            options.features.scheduled(),
          ),
        Math.max(idle, 1000),
        'scheduled',
      ),
    );
    const watch = watchCaptureFailures({ source, engineUrl: options.engineUrl, log });
    failures = watch;
    loops.push(
      loop(
        'looking for rows not captured',
        async () => {
          await watch.look();
          return 0;
        },
        options.captureFailuresMs ?? CAPTURE_FAILURES_MS,
        'errors',
      ),
    );
  }
  for (let partition = 0; partition < partitions; partition++) {
    loops.push(
      loop(
        `partition ${partition}`,
        async () => {
          // A deploy's files being read (follow-deploys.ts): this process's
          // lanes take its next events with the features read, not before.
          const reading = options.deploys?.reading();
          if (reading) await reading;
          const taken = bells.begin(partition);
          // Lent to another lane's step, which wakes it when it ends.
          if (taken.length === 0) return { count: 0, more: false };
          let done: { count: number; more: boolean } | undefined;
          try {
            // A read short of full took every event the lanes had.
            done = await processLanes(processContext, taken);
            return done;
          } finally {
            bells.end(taken, !done || done.more);
          }
        },
        idle,
        'processed',
        { bell: bells.bell(partition), peek: () => laneWaiting(engine, partition) },
      ),
    );
  }
  loops.push(
    loop('timers', () => processTimers(processContext), Math.max(idle, 250), 'timers', {
      // A feature compiled since the last pass (a live deploy) has its
      // journeys' wake-ups fitted at once, not when a timer next comes due.
      peek: async () => waitsToFit(options.features) || timersDue(engine, options.clock.now()),
    }),
  );
  // Contacts' search documents, off their writers' path (contacts/search-index.ts).
  loops.push(loop('search indexer', () => indexContacts(engine), 1000, 'indexed'));
  loops.push(
    loop(
      'heartbeat',
      async () => {
        await runner.heartbeat();
        await runner.unlockDead();
        return 0;
      },
      Math.min(5000, Math.floor(deadWorkerMs / 3)),
      'errors',
    ),
  );
  // Each task on its own: one failing (the source away, a slow purge) must not
  // hold up the others, least of all recovering actions, which comes first.
  const housekeeping: [string, () => Promise<unknown>][] = [
    ...(options.housekeeping ?? []),
    reclaimTask,
    ['retention', () => applyRetention(engine, project, options.source)],
    // Goals on the contact alone met with no event (docs/experiments.md).
    [
      'goals',
      () =>
        sweepConversions(
          engine,
          options.features,
          project.config.contacts.attributes,
          options.clock.now(),
        ),
    ],
  ];
  loops.push(
    loop(
      'housekeeping',
      async () => {
        for (const task of housekeeping) await tryTask(task);
        return 0;
      },
      5000,
      'errors',
    ),
  );

  log.info({ partitions, source: !!options.source }, 'engine started');
  return {
    id: self,
    wake: (lanes) => bells.wake(lanes),
    stored,
    stats,
    async stop() {
      // Every wait below ends with what it waits for, not with a poll
      // interval: the loops' pauses end on the abort. A wait longer than
      // STOP_QUIET_MS is said, in a line starting `stopping: ` (nudge dev
      // shows those of its info lines).
      abort.abort();
      bells.wake();
      await saidIfSlow(Promise.all(loops), () => {
        if (stepping.size)
          log.info(
            `stopping: waiting for the step in hand of ${[...stepping].join(', ')} to end (its transaction commits or rolls back)…`,
          );
      });
      await failures?.stop();
      // The attempts under way finish and are recorded (the drain); runs not
      // started yet are left to recovery, which gives them jobs.
      const left = await saidIfSlow(firstAttempts?.settle(DRAIN_MS), () => {
        if (inFlight.runs > 0)
          log.info(
            `stopping: waiting for ${plural(inFlight.runs, 'action attempt')} in flight to be answered and recorded (at most ${DRAIN_MS / 1000} s; runs not started are left to recovery)…`,
          );
      });
      if (left) log.info({ runs: left }, 'actions not attempted yet are left to recovery');
      await saidIfSlow(runner.stop(), () => {
        if (inFlight.jobs > 0)
          log.info(
            `stopping: waiting for ${plural(inFlight.jobs, 'action job')} in flight (at most 15 s)…`,
          );
      });
      await listener?.unlisten().catch(() => {});
      log.info(stats, 'engine stopped');
    },
  };
}

/** Waits for `done`; `say` is called once if it takes longer than STOP_QUIET_MS. */
async function saidIfSlow<T>(done: Promise<T> | T, say: () => void): Promise<T> {
  const timer = setTimeout(say, STOP_QUIET_MS);
  try {
    return await done;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Replicated rows the consumer's mark does not cover yet (consumer.ts,
 * migration 026) are what keeps a change streamed again from being stored
 * twice: their keys. So whatever engine.retention.ingest_log says, a
 * processed row of source `replication` is deleted only once it was
 * received before the mark last moved (the mark covers it); with no mark
 * (a source server that will not say who it is), only once it is this old
 * (s). A slot streams again what it was not told of, and after a crash of
 * the server what it was told of since its position was last saved.
 */
export const UNMARKED_INGEST_LOG_S = 3600;

/** Rows a retention statement deletes at most at once: a first purge of a large table goes in steps. */
const PURGE_CHUNK = 10_000;

/**
 * Deletes what engine.retention no longer keeps: processed inbox rows (by
 * receipt time), decisions, and (in the source database, when `source` is
 * given and capture is deployed) archived outbox rows — all of them once
 * retention.outbox is back to 0s. It runs every few seconds, so a purge
 * with nothing to delete must cost next to nothing whatever the tables
 * hold: each statement walks an index from the oldest row to the cutoff and
 * deletes what it found by key. (Written as a filter with a limit, the
 * planner read the whole table instead, reckoning a third of it past the
 * cutoff: 60–90 ms every 5 s for 350,000 decisions, growing with the log.)
 * Decisions have no B-tree on `at` (migration 003): they are walked by id,
 * the order they were written in, and not at all while the oldest is still
 * kept — so decisions dated earlier than one written before them (the dev
 * clock moved back) wait until it expires too.
 */
export async function applyRetention(
  engine: Db,
  project: LoadedConfig,
  source?: Db,
): Promise<void> {
  const retention = project.config.engine.retention;
  const seconds = (duration: string) => parseDuration(duration)! / 1000;
  // Each statement unprepared (postgres.js sends unsafe text with values as
  // an unnamed statement), so it is planned with its values every time: a
  // prepared one run every 5 s gets one plan for any values from its sixth
  // run on (a generic plan), made while the tables were small, which read
  // them whole once they had grown (the test below runs it that way).
  const purge = async (db: Db, statement: string, values: number[]) => {
    while ((await db.unsafe(statement, values)).count >= PURGE_CHUNK) {}
  };
  await purge(
    engine,
    `delete from nudge_engine.inbox where id = any(array(
       select id from nudge_engine.inbox
        where received_at < now() - $1 * interval '1 second'
          and processed_at is not null
          and (source <> 'replication'
               or received_at < coalesce(
                    (select min(updated_at) from nudge_engine.replication_marks),
                    now() - $2 * interval '1 second'))
        order by received_at limit $3))`,
    [seconds(retention.ingest_log), UNMARKED_INGEST_LOG_S, PURGE_CHUNK],
  );
  const kept = seconds(retention.decisions);
  await purge(
    engine,
    `delete from nudge_engine.decisions where id = any(array(
       select id from (
         select id, at from nudge_engine.decisions order by id limit $2) oldest
        where at < now() - $1 * interval '1 second'
          and (select at from nudge_engine.decisions order by id limit 1)
              < now() - $1 * interval '1 second'))`,
    [kept, PURGE_CHUNK],
  );
  if (!source) return;
  const [archive] = await source<{ present: boolean }[]>`
    select to_regclass('nudge.event_archive') is not null as present`;
  if (!archive?.present) return;
  await purge(
    source,
    `delete from nudge.event_archive where ctid = any(array(
       select ctid from nudge.event_archive
        where consumed_at < now() - $1 * interval '1 second'
        order by consumed_at limit $2))`,
    [seconds(retention.outbox), PURGE_CHUNK],
  );
}
