// `nudge sync users | tables | (all)`: copies Supabase Auth users and the
// tables in table_mapping into Nudge's contacts and events, resumably, with
// progress and a summary. Ctrl-C stops after the batches being written; the
// same command then continues from the checkpoint.
import type { LoadedConfig } from '../config/load.js';
import { SYNC_BATCH_SIZE } from '../config/schema.js';
import { timeOption } from '../config/time-options.js';
import type { TableSyncMapping, UserMapping } from '../contacts/mapping.js';
import type { SyncStats } from '../contacts/sync/checkpoint.js';
import {
  type LogSettings,
  makeReporter,
  makeSyncLog,
  type ReporterOptions,
  type SyncLog,
  summaryLines,
} from '../contacts/sync/report.js';
import type { SyncResult } from '../contacts/sync/runner.js';
import { openSyncSession, projectSecrets, type SyncSession } from '../contacts/sync/session.js';
import { syncTable } from '../contacts/sync/tables.js';
import { syncUsers } from '../contacts/sync/users.js';
import { checkTableMappings, checkUserMapping } from '../contacts/sync/validate.js';
import { ConfigError, ConfigErrors, NudgeError, throwIfAny } from '../errors.js';
import { formatTableName, parseTableName } from '../source/names.js';
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
  return withSync(options, io, async (context) => {
    const { users, userColumns } = await prepare(context, { users: true, tables: false });
    return [await runUsers(context, users!, userColumns)];
  });
}

/** `nudge sync tables [--table <name>...] [--full | --since <time>]` */
export function syncTablesCommand(options: SyncOptions, io: Io): Promise<number> {
  return withSync(options, io, async (context) => {
    const { tables } = await prepare(context, { users: false, tables: true });
    return runTables(context, tables);
  });
}

/** `nudge sync`: users (when sync.users or user_mapping is set), then every table_mapping entry. */
export function syncAllCommand(options: SyncOptions, io: Io): Promise<number> {
  return withSync(options, io, async (context) => {
    const supabase = context.project.supabase;
    const withUsers = !!(supabase?.sync.users || supabase?.user_mapping);
    if (!withUsers)
      context.log.info('users: not synced (set connectors.supabase.sync.users: true)');
    const prepared = await prepare(context, { users: withUsers, tables: true });
    const results: SyncResult[] = [];
    if (prepared.users) results.push(await runUsers(context, prepared.users, prepared.userColumns));
    if (results.every((r) => r.status === 'done')) {
      results.push(...(await runTables(context, prepared.tables)));
    }
    return results;
  });
}

interface Context {
  project: LoadedConfig;
  session: SyncSession;
  log: SyncLog;
  io: Io;
  options: SyncOptions;
  since?: Date;
  signal: AbortSignal;
}

async function withSync(
  options: SyncOptions,
  io: Io,
  run: (context: Context) => Promise<SyncResult[]>,
): Promise<number> {
  const project = await loadProject(options, io);
  const supabase = project.supabase;
  const settings: LogSettings = {
    ...(supabase?.debug ? { debug: true } : {}),
    ...(supabase?.log_level ? { log_level: supabase.log_level } : {}),
    ...(supabase?.log_queries ? { log_queries: true } : {}),
  };
  const log = makeSyncLog(io, settings, projectSecrets(project));
  if (options.full && options.since) {
    throw new NudgeError('--full and --since do not go together', 'use one of them');
  }
  const since =
    options.since === undefined ? undefined : timeOption('--since', options.since, new Date());
  if (supabase?.log_realtime) {
    log.debug('log_realtime: applies to live sync (realtime changes); a sync command reads pages');
  }
  const stop = options.signal ? undefined : stopOnSigint(log);
  const signal = options.signal ?? stop!.signal;
  const concurrency = options.concurrency ?? 2;
  const session = await openSyncSession(project, log, { concurrency, signal });
  try {
    const results = await run({
      project,
      session,
      log,
      io,
      options,
      signal,
      ...(since ? { since } : {}),
    });
    const failed = results.find((r) => r.status === 'failed');
    if (failed) throw failed.error;
    return results.some((r) => r.status === 'interrupted') ? INTERRUPTED : 0;
  } finally {
    stop?.dispose();
    await session.close();
  }
}

/**
 * Checks every mapping this command will use against the live schema before
 * anything is synced, and reports all problems at once: a bad mapping writes
 * nothing.
 */
async function prepare(
  context: Context,
  what: { users: boolean; tables: boolean },
): Promise<{ users?: UserMapping; userColumns?: string[]; tables: TableSyncMapping[] }> {
  const { session, project, log, options } = context;
  const entries = Object.keys(project.supabase?.table_mapping ?? {});
  const named = options.table?.length ? options.table : entries;
  const schema = await session.readSchema(
    what.tables ? named.map((n) => parseTableName(n)?.schema ?? 'public') : [],
  );
  const errors: ConfigError[] = [];
  const collect = <T>(check: () => T): T | undefined => {
    try {
      return check();
    } catch (error) {
      if (error instanceof ConfigErrors) errors.push(...error.errors);
      else if (error instanceof ConfigError) errors.push(error);
      else throw error;
      return undefined;
    }
  };
  const users = what.users ? collect(() => checkUserMapping(project, schema)) : undefined;
  const tables = what.tables
    ? (collect(() => checkTableMappings(project, schema, options.table)) ?? [])
    : [];
  throwIfAny(errors);
  if (what.tables && !options.table?.length) {
    for (const listed of project.supabase?.sync.tables ?? []) {
      const name = parseTableName(listed);
      const mapped = entries.some((key) => {
        const other = parseTableName(key);
        return other && name && formatTableName(other) === formatTableName(name);
      });
      if (!mapped) {
        log.info(`${listed}: in sync.tables but not in table_mapping, so there is nothing to sync`);
      }
    }
    if (tables.length === 0) log.info('no table_mapping entries: no tables to sync');
  }
  return {
    ...(users ? { users } : {}),
    ...(schema.userColumns ? { userColumns: schema.userColumns } : {}),
    tables,
  };
}

async function runUsers(
  context: Context,
  mapping: UserMapping,
  available?: string[],
): Promise<SyncResult> {
  const { log, io, options } = context;
  const result = await syncUsers({
    ...runOptions(context),
    mapping,
    ...(available ? { available } : {}),
    report: makeReporter(io, log, options.progress),
  });
  for (const line of summaryLines(result, io)) io.out(line);
  return result;
}

async function runTables(context: Context, mappings: TableSyncMapping[]): Promise<SyncResult[]> {
  const { log, io, options } = context;
  const results: SyncResult[] = [];
  for (const mapping of mappings) {
    if (context.signal.aborted) break;
    const result = await syncTable({
      ...runOptions(context),
      mapping,
      report: makeReporter(io, log, options.progress),
    });
    for (const line of summaryLines(result, io)) io.out(line);
    results.push(result);
    if (result.status !== 'done') break;
  }
  return results;
}

function runOptions(context: Context) {
  const { session, project, options } = context;
  return {
    engine: session.engine,
    engineUrl: session.engineUrl,
    source: session.source,
    batchSize: project.supabase?.batch_size ?? SYNC_BATCH_SIZE,
    signal: context.signal,
    ...(options.full ? { full: true } : {}),
    ...(context.since ? { since: context.since } : {}),
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    ...(options.onBatch ? { onBatch: options.onBatch } : {}),
  };
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
