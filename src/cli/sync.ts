// `nudge sync users | tables | (all)`: copies Supabase Auth users and the
// tables in table_mapping into Nudge's contacts and events, resumably, with
// progress and a summary. Ctrl-C stops after the batches being written; the
// same command then continues from the checkpoint.
import { timeOption } from '../config/time-options.js';
import type { SyncStats } from '../contacts/sync/checkpoint.js';
import {
  makeReporter,
  makeSyncLog,
  type ReporterOptions,
  type SyncLog,
  summaryLines,
} from '../contacts/sync/report.js';
import {
  prepareSyncs,
  runSyncs,
  type SyncRequest,
  syncLogSettings,
} from '../contacts/sync/request.js';
import type { SyncResult } from '../contacts/sync/runner.js';
import { openSyncSession, projectSecrets } from '../contacts/sync/session.js';
import { NudgeError, UsageError } from '../errors.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';
import { loadProject } from './project.js';

export interface SyncOptions extends GlobalOptions {
  /** Start over from the first row, even after an interrupted run. */
  full?: boolean;
  /** Only rows changed since: an ISO time (2024-01-01T00:00:00Z) or a duration back from now (7d). */
  since?: string;
  /** `sync tables`: only these table_mapping entries. */
  table?: string[];
  /** Stops the run as Ctrl-C does (tests; the CLI wires SIGINT to it). */
  signal?: AbortSignal;
  /** Called after each committed batch (tests). */
  onBatch?: (committed: number, stats: SyncStats) => void;
  /** Batches written at once (default 2). */
  concurrency?: number;
  /** Progress line pacing (tests). */
  progress?: ReporterOptions;
}

/** Exit code of a sync stopped by Ctrl-C (or a signal): 128 + SIGINT. */
export const INTERRUPTED = 130;

/** `nudge sync users [--full | --since <time>]` */
export function syncUsersCommand(options: SyncOptions, io: Io): Promise<number> {
  return withSync(options, io, { users: true, tables: false });
}

/** `nudge sync tables [--table <name>...] [--full | --since <time>]` */
export function syncTablesCommand(options: SyncOptions, io: Io): Promise<number> {
  return withSync(options, io, {
    users: false,
    tables: true,
    ...(options.table?.length ? { only: options.table } : {}),
  });
}

/** `nudge sync`: users (when sync.users or user_mapping is set), then every table_mapping entry. */
export function syncAllCommand(options: SyncOptions, io: Io): Promise<number> {
  return withSync(options, io, { users: 'configured', tables: true });
}

/**
 * The project, its sync log, the session; the syncs the request means,
 * checked (request.ts), then run with a progress bar or lines and a summary
 * after each. Exit 0, INTERRUPTED after Ctrl-C, or the failure thrown.
 */
async function withSync(options: SyncOptions, io: Io, request: SyncRequest): Promise<number> {
  // Usage errors (exit 2) first, as commander's own are: before the project
  // loads, so that one it cannot load does not hide them.
  if (options.full && options.since) {
    throw new UsageError('--full and --since do not go together', 'use one of them');
  }
  const since =
    options.since === undefined ? undefined : timeOption('--since', options.since, new Date());
  const project = await loadProject(options, io);
  const log = makeSyncLog(io, syncLogSettings(project), projectSecrets(project));
  if (project.supabase?.log_realtime) {
    log.debug('log_realtime: applies to live sync (realtime changes); a sync command reads pages');
  }
  const stop = options.signal ? undefined : stopOnSigint(log);
  const signal = options.signal ?? stop!.signal;
  const concurrency = options.concurrency ?? 2;
  const session = await openSyncSession(project, log, { concurrency, signal });
  try {
    const prepared = await prepareSyncs(session, project, log, request);
    const results = await runSyncs(
      session,
      project,
      prepared,
      {
        signal,
        ...(options.full ? { full: true } : {}),
        ...(since ? { since } : {}),
        ...(options.concurrency ? { concurrency: options.concurrency } : {}),
        ...(options.onBatch ? { onBatch: options.onBatch } : {}),
        reporter: () => makeReporter(io, log, options.progress),
        onResult: (result) => {
          for (const line of summaryLines(result, io)) io.out(line);
        },
      },
      log,
    );
    const failed = results.find((r: SyncResult) => r.status === 'failed');
    if (failed) throw failed.error;
    return results.some((r) => r.status === 'interrupted') ? INTERRUPTED : 0;
  } finally {
    stop?.dispose();
    await session.close();
  }
}

/** The first Ctrl-C stops after the batches being written; a second one quits at once. */
function stopOnSigint(log: SyncLog) {
  const controller = new AbortController();
  const onSigint = () => {
    log.warn('stopping after the batches being written (Ctrl-C again to quit now)…');
    controller.abort(new NudgeError('interrupted'));
  };
  process.once('SIGINT', onSigint);
  return {
    signal: controller.signal,
    dispose: () => process.removeListener('SIGINT', onSigint),
  };
}
