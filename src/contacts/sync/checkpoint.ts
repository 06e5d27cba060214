// Sync checkpoints in nudge_engine.sync_state: one row per sync (`users`,
// `table:public.orders`) holding where the current run is, so a run that was
// interrupted continues where it stopped, and where the next incremental run
// starts once it is done. An advisory lock keeps two runs of one sync apart.
import type postgres from 'postgres';
import type { SyncCounts } from '../../client/sync.js';
import { holdSessionLock } from '../../db/session-lock.js';
import { NudgeError } from '../../errors.js';

export type SyncMode = 'full' | 'incremental';
export type SourceKind = 'database' | 'api';

/** What sync_state.cursor holds. */
export interface SavedCursor {
  mode: SyncMode;
  source: SourceKind;
  /** Incremental runs: rows changed at or after this time. */
  since: string | null;
  /** The position after the last row whose batch is committed; null before the first. */
  after: unknown;
  run_started_at: string;
  /**
   * The start of the oldest transaction open on the source when this run
   * began, when earlier than run_started_at: the next run starts there
   * (since.ts nextSince), so a change it commits late is not missed.
   */
  open_since?: string;
  /** Where the next incremental run starts, once this one is done. */
  next_since: string | null;
  /**
   * Rows an incremental run reads whatever their time: those the previous
   * run could not write whole (users written without an address another
   * contact held, or refused by the store).
   */
  reread?: string[];
  /** This run's rows for the next run to read again (see reread); each batch adds its own. */
  conflicts?: string[];
}

/** A run's counts, as stored in sync_state.stats and answered by GET /v1/sync (one shape: the client's). */
export type SyncStats = SyncCounts;

/** JSON travels as text cast to jsonb: a JS null becomes JSON null, not SQL NULL. */
const json = (value: unknown) => JSON.stringify(value ?? null);

export function emptyStats(): SyncStats {
  return { read: 0, synced: 0, created: 0, updated: 0, skipped: 0, deleted: 0, reasons: {} };
}

export function addStats(into: SyncStats, more: Partial<SyncStats>): void {
  for (const key of ['read', 'synced', 'created', 'updated', 'skipped', 'deleted'] as const) {
    into[key] += more[key] ?? 0;
  }
  for (const [reason, n] of Object.entries(more.reasons ?? {})) {
    into.reasons[reason] = (into.reasons[reason] ?? 0) + n;
  }
  for (const [reason, n] of Object.entries(more.warnings ?? {})) {
    into.warnings ??= {};
    into.warnings[reason] = (into.warnings[reason] ?? 0) + n;
  }
}

export interface SyncState {
  status: 'idle' | 'running' | 'interrupted' | 'failed' | 'done';
  cursor: SavedCursor | null;
  stats: SyncStats | null;
  updatedAt: Date;
}

export async function readState(engine: postgres.Sql, name: string): Promise<SyncState | null> {
  const [row] = await engine<
    {
      status: SyncState['status'];
      cursor: SavedCursor | null;
      stats: SyncStats;
      updated_at: Date;
    }[]
  >`select status, cursor, stats, updated_at from nudge_engine.sync_state where name = ${name}`;
  if (!row) return null;
  const stats = row.stats && 'synced' in row.stats ? row.stats : null;
  return { status: row.status, cursor: row.cursor, stats, updatedAt: row.updated_at };
}

export interface RunPlan {
  cursor: SavedCursor;
  /** Continuing a run that stopped before its end. */
  resumed: boolean;
  /** Stats of the run so far (a resumed run adds to them). */
  stats: SyncStats;
  /** Why this mode, for the log: "first sync", "--full", "since the last sync", ... */
  why: string;
}

/**
 * Decides what this run does: `--full` and `--since` start a new run; else a
 * run that stopped early continues from its checkpoint; else, after a finished
 * run, an incremental one from where it left off (when the source can); else
 * a full one.
 */
export function planRun(
  state: SyncState | null,
  request: {
    full?: boolean;
    since?: Date;
    source: SourceKind;
    incremental: boolean;
    now: Date;
    /** The oldest transaction open on the source at `now` began then (SourceClock). */
    openSince?: Date | null;
  },
): RunPlan {
  // What the last run could not write whole is read again by an incremental
  // run (a full one reads everything anyway); a run that did not finish
  // passes on what it was to read again too.
  const last = state?.cursor;
  const reread = [
    ...new Set([
      ...(last?.conflicts ?? []),
      ...(state?.status !== 'done' ? (last?.reread ?? []) : []),
    ]),
  ];
  const fresh = (mode: SyncMode, since: string | null, why: string): RunPlan => ({
    cursor: {
      mode,
      source: request.source,
      since,
      after: null,
      run_started_at: request.now.toISOString(),
      ...(request.openSince ? { open_since: request.openSince.toISOString() } : {}),
      next_since: null,
      ...(mode === 'incremental' && reread.length > 0 ? { reread } : {}),
    },
    resumed: false,
    stats: emptyStats(),
    why,
  });
  if (request.full) return fresh('full', null, '--full');
  if (request.since) return fresh('incremental', request.since.toISOString(), '--since');
  const cursor = state?.cursor;
  if (
    cursor &&
    state.status !== 'done' &&
    state.status !== 'idle' &&
    cursor.source === request.source &&
    cursor.after !== null
  ) {
    return {
      cursor,
      resumed: true,
      stats: state.stats ?? emptyStats(),
      why: `continuing the ${cursor.mode} sync that stopped (${state.status})`,
    };
  }
  if (state?.status === 'done' && cursor?.next_since && request.incremental) {
    return fresh('incremental', cursor.next_since, 'changes since the last sync');
  }
  return fresh('full', null, state?.status === 'done' ? 'a full sync' : 'first sync');
}

export async function saveStart(engine: postgres.Sql, name: string, plan: RunPlan) {
  await engine`
    insert into nudge_engine.sync_state (name, cursor, status, stats, updated_at)
    values (${name}, ${json(plan.cursor)}::text::jsonb, 'running', ${json(plan.stats)}::text::jsonb, now())
    on conflict (name) do update set cursor = excluded.cursor, status = 'running',
      stats = excluded.stats, error = null, updated_at = now()`;
}

/** Moves the checkpoint forward; called inside the transaction of the batch that got there. */
export async function saveProgress(
  tx: postgres.TransactionSql | postgres.Sql,
  name: string,
  after: unknown,
  stats: SyncStats,
) {
  await tx`
    update nudge_engine.sync_state
       set cursor = jsonb_set(cursor, '{after}', ${json(after)}::text::jsonb),
           stats = ${json(stats)}::text::jsonb, updated_at = now()
     where name = ${name}`;
}

/**
 * Notes rows for the next run to read again (SavedCursor.conflicts), in the
 * transaction of the batch that wrote them. At most MAX_CONFLICTS are kept;
 * returns false when the list is full (a full run reads the rest).
 */
export async function noteConflicts(
  tx: postgres.TransactionSql,
  name: string,
  ids: string[],
): Promise<boolean> {
  if (ids.length === 0) return true;
  // The list is read from the row being updated (not from a snapshot taken
  // before): two batches noting at once each keep the other's ids.
  const [row] = await tx<{ kept: boolean }[]>`
    update nudge_engine.sync_state
       set cursor = jsonb_set(cursor, '{conflicts}', (
             select coalesce(jsonb_agg(id order by id), '[]') from (
               select id from (
                 select jsonb_array_elements_text(coalesce(cursor->'conflicts', '[]')) as id
                 union select unnest(${ids}::text[])) noted
                order by id limit ${MAX_CONFLICTS}) kept))
     where name = ${name}
    returning jsonb_array_length(cursor->'conflicts') < ${MAX_CONFLICTS} as kept`;
  return row?.kept ?? true;
}

/** Rows a sync keeps to read again; past this many, a full run is the way. */
export const MAX_CONFLICTS = 10_000;

/** The run's end: its position, status and counts. Its error, if it failed, is saved after (status.ts saveFailure). */
export async function saveEnd(
  engine: postgres.Sql,
  name: string,
  end: {
    status: 'done' | 'interrupted' | 'failed';
    after: unknown;
    stats: SyncStats;
    nextSince?: string | null;
  },
) {
  await engine`
    update nudge_engine.sync_state
       set cursor = jsonb_set(jsonb_set(cursor, '{after}', ${json(end.after)}::text::jsonb),
                              '{next_since}', ${json(end.nextSince ?? null)}::text::jsonb),
           status = ${end.status}, stats = ${json(end.stats)}::text::jsonb, error = null,
           updated_at = now()
     where name = ${name}`;
}

/**
 * Runs `fn` holding the sync's advisory lock: a session lock on a connection
 * of its own to the engine store (`engineUrl`), so it survives the run's
 * transactions (db/session-lock.ts says why not one of the run's pool). A
 * dropped lock connection loses the lock; the run goes on.
 */
export async function withSyncLock<T>(
  engineUrl: string,
  name: string,
  fn: () => Promise<T>,
): Promise<T> {
  const lock = await holdSessionLock(engineUrl, 'sync', {
    second: name,
    applicationName: `nudge sync lock ${name}`,
  });
  if (!lock) {
    throw new NudgeError(
      `another sync of ${name} is running`,
      'wait for it to finish (or stop it); a stopped sync continues where it left off',
    );
  }
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
