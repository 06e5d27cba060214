// The contact sync run by the server (POST /v1/sync): the CLI's run
// (request.ts) in this process, in the background, one request at a time per
// sync. A start is refused while a sync it asks for runs anywhere — its lock
// held by another process (`nudge sync`, another server), or started here
// and not ended. The session is opened and the mappings are checked before
// the start is answered, so a bad mapping is the answer and nothing is
// started; and the answer waits until the first sync holds its lock: a
// `nudge sync` that takes it after the check (while the session opens) gets
// it, and the start is refused as the check refuses it, nothing run. A later
// sync whose lock another process takes while the ones before it run here is
// left to that process (its row is that run's) and the rest still run.
// Progress and the end go to sync_state as the CLI's do, and a failure's
// message with them. The server stops its runs as it stops (stop()), as
// Ctrl-C stops `nudge sync`: after the batches being written, each end saved
// (`interrupted`) and its session closed before the server goes on
// stopping; the next run continues from the checkpoint.
import pc from 'picocolors';
import type postgres from 'postgres';
import type { Io } from '../../cli/io.js';
import type { LoadedConfig } from '../../config/load.js';
import { heldNamedLocks } from '../../db/locks.js';
import { makeSyncLog, type SyncLog, type SyncReporter } from './report.js';
import {
  isLockRefusal,
  prepareSyncs,
  requestedSyncs,
  runSyncs,
  type SyncRequest,
  syncLogSettings,
} from './request.js';
import { openSyncSession, projectSecrets, type SyncSession } from './session.js';

/**
 * Where a sync started here is: `queued`, waiting for the one before it;
 * `locked`, its turn (it holds its lock), its run's start not saved yet, so
 * its sync_state row is still the run's before it (one done, or one
 * interrupted that this run may continue — or start over, with a mode);
 * `running`, its run's start saved, and the row this run's.
 */
export type StartedState = 'queued' | 'locked' | 'running';

export interface BackgroundStart extends SyncRequest {
  full?: boolean;
  since?: Date;
}

/** A start refused, or cut short before its run began: the server is stopping (stop()). */
export class SyncsStoppedError extends Error {
  override name = 'SyncsStoppedError';
  constructor() {
    super('the server is stopping: it starts no sync now');
  }
}

/** A start refused: these syncs run already (here or in another process). */
export class SyncRunningError extends Error {
  override name = 'SyncRunningError';
  constructor(readonly syncs: string[]) {
    super(`${syncs.join(', ')} ${syncs.length === 1 ? 'is' : 'are'} running`);
  }
}

export interface BackgroundSyncs {
  /**
   * Checks and starts the syncs `request` means; resolves with their names
   * once they are started — the first holding its lock and running (or its
   * run already ended), the others queued behind it. Throws
   * SyncRunningError (also when another process took the first sync's lock
   * after the check), SyncsStoppedError once stop() is called, or what
   * opening the session and checking the mappings threw (NudgeError,
   * ConfigErrors).
   */
  start(request: BackgroundStart): Promise<string[]>;
  /** The syncs started here and not ended, with where each is. */
  started(): ReadonlyMap<string, StartedState>;
  /**
   * Stops every run started here as Ctrl-C stops `nudge sync` (the same
   * signal: after the batches being written, each end saved in its row),
   * refuses starts from now on, and resolves once the starts being checked
   * and the runs have ended and their sessions are closed.
   */
  stop(): Promise<void>;
}

export function makeBackgroundSyncs(options: {
  project: LoadedConfig;
  /** The engine store: where the locks are read. */
  sql: postgres.Sql;
  /** Batches written at once (default 2, as the CLI). */
  concurrency?: number;
}): BackgroundSyncs {
  const { project, sql } = options;
  const concurrency = options.concurrency ?? 2;
  const started = new Map<string, StartedState>();
  const log = quietSyncLog(project);
  // The signal every run started here stops on, as `nudge sync`'s on Ctrl-C
  // (cli/sync.ts). It also cuts short the Supabase API requests of a start
  // being checked (API mode), which then throws its reason.
  const stopping = new AbortController();
  // What stop() waits for: the starts being checked (each may still begin a
  // run), and the runs begun, each until its session is closed.
  const starts = new Set<Promise<string[]>>();
  const runs = new Set<Promise<unknown>>();
  let stopped: Promise<void> | undefined;

  const start = async (request: BackgroundStart): Promise<string[]> => {
    // Claimed at once, before any await, so that two requests at the same
    // moment cannot both pass the checks.
    const asked = requestedSyncs(project, request);
    const busy = asked.filter((name) => started.has(name));
    if (busy.length) throw new SyncRunningError(busy);
    for (const name of asked) started.set(name, 'queued');
    // What this start still holds in `started`: released once each, so a
    // later start that claimed a name released here keeps its claim.
    const mine = new Set(asked);
    const release = (name: string) => {
      if (!mine.delete(name)) return;
      started.delete(name);
    };
    let names = asked;
    let run: Promise<unknown> | undefined;
    let session: SyncSession | undefined;
    try {
      const held = await heldNamedLocks(sql, 'sync', asked);
      if (held.size) throw new SyncRunningError(asked.filter((name) => held.has(name)));
      session = await openSyncSession(project, log, { concurrency, signal: stopping.signal });
      const prepared = await prepareSyncs(session, project, log, request);
      // Stopped while it was checked: a run begun now would only save its
      // first sync interrupted before its first page.
      if (stopping.signal.aborted) throw new SyncsStoppedError();
      names = prepared.names;
      for (const name of asked) if (!names.includes(name)) release(name);
      const first = names[0];
      let locked = () => {};
      const firstLocked = new Promise<'locked'>((resolve) => {
        locked = () => resolve('locked');
      });
      const ending = runSyncs(
        session,
        project,
        prepared,
        {
          signal: stopping.signal,
          concurrency,
          ...(request.full ? { full: true } : {}),
          ...(request.since ? { since: request.since } : {}),
          // Prints nothing; its start() comes once the run has saved its start
          // (runner.ts): the sync's row is this run's from then on.
          reporter: (name) => ({
            ...quietReporter(log),
            start: () => {
              started.set(name, 'running');
            },
          }),
          onLocked: (name) => {
            started.set(name, 'locked');
            if (name === first) locked();
          },
          // Another process runs it: its row shows that run, not one queued here.
          onRefused: release,
          // Its end is in its row now; the syncs after it are still queued here.
          onResult: (result) => release(result.name),
        },
        log,
      )
        .then(
          () => 'ended' as const,
          // A failure is kept in the sync's row (request.ts). A refusal of
          // the lock thrown is the first sync's, before anything ran here
          // (request.ts gives a later one's to onRefused): the start's
          // answer, the other run's row left alone.
          (error: unknown) =>
            first !== undefined && isLockRefusal(error, first)
              ? ('refused' as const)
              : ('ended' as const),
        )
        .finally(async () => {
          // Those a failure or a stop left queued go back to what their rows say.
          for (const name of [...mine]) release(name);
          await session?.close();
          runs.delete(ending);
        });
      run = ending;
      runs.add(ending);
      // Answered once no other process can take the first sync: it holds its
      // lock, or its run has ended (failed, its error in its row) — or
      // another process took the lock after the check, and nothing ran.
      const answer = await Promise.race([firstLocked, ending]);
      if (answer === 'refused') throw new SyncRunningError([first!]);
      // Stopped, and the run ended without its first sync taking its lock:
      // nothing ran, and the start is refused as one stopped while checked.
      if (answer === 'ended' && stopping.signal.aborted) throw new SyncsStoppedError();
    } finally {
      if (!run) {
        for (const name of asked) release(name);
        await session?.close();
      }
    }
    return names;
  };

  return {
    started: () => started,
    start(request) {
      if (stopping.signal.aborted) return Promise.reject(new SyncsStoppedError());
      const checked = start(request);
      starts.add(checked);
      const forget = () => starts.delete(checked);
      checked.then(forget, forget);
      return checked;
    },
    stop() {
      stopped ??= (async () => {
        stopping.abort(new SyncsStoppedError());
        // A start being checked sees the stop and begins no run, or has begun
        // one by the time it settles: the runs are all known after this.
        await Promise.allSettled([...starts]);
        await Promise.allSettled([...runs]);
      })();
      return stopped;
    },
  };
}

/**
 * The server's sync log: nothing printed (the run's progress and its end
 * are in sync_state, and GET /v1/sync shows them), the run's secrets still
 * removed from the failure kept there.
 */
function quietSyncLog(project: LoadedConfig): SyncLog {
  const io: Io = {
    out: () => {},
    err: () => {},
    isTTY: false,
    colors: pc.createColors(false),
    cwd: project.cwd,
    env: project.env,
  };
  return makeSyncLog(io, syncLogSettings(project), projectSecrets(project));
}

function quietReporter(log: SyncLog): SyncReporter {
  return { log, start: () => {}, progress: () => {}, skipped: () => {}, stop: () => {} };
}
