// One way to run the contact sync, for `nudge sync` (cli/sync.ts) and for
// POST /v1/sync (background.ts): which syncs a request means, their
// mappings checked against the live schema before anything is written (a
// bad mapping writes nothing), then users and each mapped table in turn,
// stopping at the first that does not finish. Why a run failed is kept in
// its sync_state row (status.ts) for whoever looks later. A sync another
// process runs (its lock taken) is refused, and its row left to that run.
import type { LoadedConfig } from '../../config/load.js';
import { SYNC_BATCH_SIZE } from '../../config/schema.js';
import { ConfigError, ConfigErrors, NudgeError, throwIfAny } from '../../errors.js';
import { formatTableName, parseTableName } from '../../source/names.js';
import type { TableSyncMapping, UserMapping } from '../mapping.js';
import type { SyncStats } from './checkpoint.js';
import type { LogSettings, SyncLog, SyncReporter } from './report.js';
import type { SyncResult } from './runner.js';
import type { SyncSession } from './session.js';
import { failureText, saveFailure } from './status.js';
import { syncTable, tableSyncName } from './tables.js';
import { syncUsers, USERS_SYNC } from './users.js';
import { checkTableMappings, checkUserMapping } from './validate.js';

export interface SyncRequest {
  /**
   * Auth users: always (`nudge sync users`), never, or `configured` — when
   * connectors.supabase says sync.users or has a user_mapping (`nudge sync`).
   */
  users: boolean | 'configured';
  /** The table_mapping entries (`nudge sync tables`, `nudge sync`). */
  tables: boolean;
  /** Only these table_mapping entries (`--table`). */
  only?: string[];
}

/** Whether nudge.yaml asks for auth users to be synced (sync.users, or a user_mapping). */
export function usersConfigured(project: LoadedConfig): boolean {
  const supabase = project.supabase;
  return !!(supabase?.sync.users || supabase?.user_mapping);
}

/** The sync_state names of the table_mapping entries, in nudge.yaml's order (`table:public.orders`). */
export function configuredTableSyncs(project: LoadedConfig): { entry: string; name: string }[] {
  return Object.keys(project.supabase?.table_mapping ?? {}).flatMap((entry) => {
    const table = parseTableName(entry);
    return table ? [{ entry, name: tableSyncName(table) }] : [];
  });
}

/**
 * The sync_state names a request means, from nudge.yaml alone (no schema
 * read): what prepareSyncs will check and run, except entries of `only`
 * that no table_mapping has (prepareSyncs refuses those).
 */
export function requestedSyncs(project: LoadedConfig, request: SyncRequest): string[] {
  const users = request.users === 'configured' ? usersConfigured(project) : request.users;
  const only = new Set(
    (request.only ?? []).flatMap((text) => {
      const table = parseTableName(text);
      return table ? [tableSyncName(table)] : [];
    }),
  );
  const tables = request.tables
    ? configuredTableSyncs(project).filter(({ name }) => !request.only?.length || only.has(name))
    : [];
  return [...(users ? [USERS_SYNC] : []), ...tables.map((t) => t.name)];
}

/** The log settings of connectors.supabase (debug, log_level, log_queries). */
export function syncLogSettings(project: LoadedConfig): LogSettings {
  const supabase = project.supabase;
  return {
    ...(supabase?.debug ? { debug: true } : {}),
    ...(supabase?.log_level ? { log_level: supabase.log_level } : {}),
    ...(supabase?.log_queries ? { log_queries: true } : {}),
  };
}

export interface PreparedSyncs {
  users?: { mapping: UserMapping; columns?: string[] };
  tables: TableSyncMapping[];
  /** The sync_state names, in the order they run. */
  names: string[];
}

/**
 * Checks every mapping the request will use against the live schema and
 * throws all the problems at once (located ConfigErrors); says which
 * sync.tables entries have no mapping and so nothing to sync.
 */
export async function prepareSyncs(
  session: SyncSession,
  project: LoadedConfig,
  log: SyncLog,
  request: SyncRequest,
): Promise<PreparedSyncs> {
  const withUsers = request.users === 'configured' ? usersConfigured(project) : request.users;
  if (request.users === 'configured' && !withUsers) {
    log.info('users: not synced (set connectors.supabase.sync.users: true)');
  }
  const entries = Object.keys(project.supabase?.table_mapping ?? {});
  const named = request.only?.length ? request.only : entries;
  const schema = await session.readSchema(
    request.tables ? named.map((n) => parseTableName(n)?.schema ?? 'public') : [],
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
  const users = withUsers ? collect(() => checkUserMapping(project, schema)) : undefined;
  const tables = request.tables
    ? (collect(() => checkTableMappings(project, schema, request.only)) ?? [])
    : [];
  throwIfAny(errors);
  if (request.tables && !request.only?.length) {
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
    ...(users
      ? {
          users: { mapping: users, ...(schema.userColumns ? { columns: schema.userColumns } : {}) },
        }
      : {}),
    tables,
    names: [
      ...(users ? [USERS_SYNC] : []),
      ...tables.map((mapping) => tableSyncName(mapping.table)),
    ],
  };
}

export interface SyncRunSettings {
  /** Start over from the first row, even after an interrupted run. */
  full?: boolean;
  /** Only rows changed since. */
  since?: Date;
  /** Stops after the batches being written. */
  signal: AbortSignal;
  /** Batches written at once (default 2). */
  concurrency?: number;
  /** After each committed batch (tests). */
  onBatch?: (committed: number, stats: SyncStats) => void;
  /**
   * Each sync's reporter (given its name): a progress bar or lines in the
   * CLI, nothing in the server. Its start() comes once the run has saved
   * its start (runner.ts), the rows it will read counted: the sync_state row
   * is this run's from then on, no longer the run's before it.
   */
  reporter: (name: string) => SyncReporter;
  /** As each sync holds its lock (its name): its run begins, and no other process can take it. */
  onLocked?: (name: string) => void;
  /**
   * A sync after the first whose lock another process holds (a `nudge sync`
   * took it while the syncs before it ran): it is passed here, left to that
   * process, and the syncs after it still run. Without this (the CLI), it is
   * thrown as the first one's refusal always is, and nothing after it runs.
   */
  onRefused?: (name: string) => void;
  /** As each sync ends (the CLI prints its summary). */
  onResult?: (result: SyncResult) => void;
}

/**
 * Runs the prepared syncs one after another — users first — and stops at
 * the first that does not finish (interrupted or failed). An error thrown
 * before a run's first page is saved as that sync's failure — unless it is
 * withSyncLock's refusal (another run holds the sync, and the row is that
 * run's) — then thrown on; a refusal of a sync after the first goes to
 * `onRefused` instead when it is given, and the run goes on.
 */
export async function runSyncs(
  session: SyncSession,
  project: LoadedConfig,
  prepared: PreparedSyncs,
  settings: SyncRunSettings,
  log: SyncLog,
): Promise<SyncResult[]> {
  const common = {
    engine: session.engine,
    engineUrl: session.engineUrl,
    source: session.source,
    batchSize: project.supabase?.batch_size ?? SYNC_BATCH_SIZE,
    signal: settings.signal,
    ...(settings.full ? { full: true } : {}),
    ...(settings.since ? { since: settings.since } : {}),
    ...(settings.concurrency ? { concurrency: settings.concurrency } : {}),
    ...(settings.onBatch ? { onBatch: settings.onBatch } : {}),
  };
  const runs: { name: string; run: () => Promise<SyncResult> }[] = [];
  if (prepared.users) {
    const { mapping, columns } = prepared.users;
    runs.push({
      name: USERS_SYNC,
      run: () =>
        syncUsers({
          ...common,
          mapping,
          ...(columns ? { available: columns } : {}),
          report: settings.reporter(USERS_SYNC),
          onLocked: () => settings.onLocked?.(USERS_SYNC),
        }),
    });
  }
  for (const mapping of prepared.tables) {
    const name = tableSyncName(mapping.table);
    runs.push({
      name,
      run: () =>
        syncTable({
          ...common,
          mapping,
          report: settings.reporter(name),
          onLocked: () => settings.onLocked?.(name),
        }),
    });
  }
  const results: SyncResult[] = [];
  for (const [i, { name, run }] of runs.entries()) {
    // A stop asked for during the users sync leaves the tables alone.
    if (name !== USERS_SYNC && settings.signal.aborted) break;
    let result: SyncResult;
    try {
      result = await run();
    } catch (error) {
      if (i > 0 && settings.onRefused && isLockRefusal(error, name)) {
        settings.onRefused(name);
        continue;
      }
      await keepFailure(session, name, error, log, false);
      throw error;
    }
    if (result.status === 'failed') await keepFailure(session, name, result.error, log, true);
    settings.onResult?.(result);
    results.push(result);
    if (result.status !== 'done') break;
  }
  return results;
}

/** withSyncLock's refusal (checkpoint.ts): another run of the sync holds its lock. */
export function isLockRefusal(error: unknown, name: string): boolean {
  return error instanceof NudgeError && error.message === `another sync of ${name} is running`;
}

/** saveFailure, never hiding the error it records: a store that fails too is only logged. */
async function keepFailure(
  session: SyncSession,
  name: string,
  error: unknown,
  log: SyncLog,
  ran: boolean,
): Promise<void> {
  try {
    if (!ran && isLockRefusal(error, name)) return;
    await saveFailure(session.engine, name, failureText(error, log.redact), { ran });
  } catch (problem) {
    log.verbose(`${name}: could not save why it failed: ${failureText(problem, log.redact)}`);
  }
}
