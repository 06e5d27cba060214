// What each sync is doing, as a reader outside the run sees it: its
// sync_state row, whether a process holds its advisory lock (checkpoint.ts
// takes it for the whole run), and the message of the error its last run
// ended on. A row that says `running` while nobody holds the lock is a run
// whose process stopped before it could save its end (killed, a lost
// connection): it is interrupted, and the next run continues from its
// checkpoint.
import type postgres from 'postgres';
import { heldNamedLocks } from '../../db/locks.js';
import { messageWithHint, NudgeError } from '../../errors.js';
import type { SavedCursor, SyncState, SyncStats } from './checkpoint.js';

export interface SyncRow {
  name: string;
  /** As stored; see `alive` for a stored `running`. */
  status: SyncState['status'];
  cursor: SavedCursor | null;
  /** Why its last run failed (migration 025); null once a run starts. */
  error: string | null;
  stats: SyncStats | null;
  updatedAt: Date;
  /** Stored `running`: whether a process holds the sync's lock (false: it stopped without saving its end). Else null. */
  alive: boolean | null;
}

/**
 * Every sync_state row, a stored `running` with whether its process is
 * alive. The locks are read after the rows; a run that ended or began in
 * between would be misread, so a `running` row whose lock is free is read
 * again: if it has not changed, its process is gone.
 */
export async function readSyncRows(engine: postgres.Sql): Promise<SyncRow[]> {
  const read = () =>
    engine<
      {
        name: string;
        status: SyncState['status'];
        cursor: SyncRow['cursor'];
        stats: Record<string, unknown> | null;
        error: string | null;
        updated_at: Date;
      }[]
    >`select name, status, cursor, stats, error, updated_at from nudge_engine.sync_state order by name`;
  const first = await read();
  const running = first.filter((row) => row.status === 'running').map((row) => row.name);
  const held = await heldNamedLocks(engine, 'sync', running);
  const unheld = running.filter((name) => !held.has(name));
  const again = unheld.length
    ? new Map((await read()).map((row) => [row.name, row]))
    : new Map<string, (typeof first)[number]>();
  return first.map((row) => {
    let current = row;
    let alive: boolean | null = null;
    if (row.status === 'running') {
      const later = again.get(row.name);
      if (held.has(row.name)) alive = true;
      else if (later && later.updated_at.getTime() !== row.updated_at.getTime()) {
        // It moved while we looked: a run is on it (or just ended).
        current = later;
        alive = later.status === 'running' ? true : null;
      } else alive = false;
    }
    const stats =
      typeof current.stats === 'object' && current.stats !== null && 'synced' in current.stats
        ? (current.stats as unknown as SyncStats)
        : null;
    const cursor =
      typeof current.cursor === 'object' && !Array.isArray(current.cursor) ? current.cursor : null;
    return {
      name: current.name,
      status: current.status,
      cursor,
      stats,
      error: current.error,
      updatedAt: current.updated_at,
      alive,
    };
  });
}

/** One line for a failed run: the message and its hint, with every secret of the run removed. */
export function failureText(error: unknown, redact: (text: string) => string): string {
  const message =
    error instanceof NudgeError
      ? messageWithHint(error)
      : error instanceof Error
        ? error.message
        : String(error);
  return redact(message);
}

/**
 * Keeps why a run failed (sync_state.error); a later run's start clears it.
 * `ran`: the run saved its end as failed itself (runner.ts), and a row
 * another run has taken since is left alone. Otherwise the error came before
 * the run's first step (the source's clock, reading the checkpoint): a sync
 * never run is recorded failed; one that ran before keeps its status and
 * checkpoint (where the next run starts) and gains the error, which readers
 * show as failed.
 */
export async function saveFailure(
  engine: postgres.Sql,
  name: string,
  message: string,
  { ran }: { ran: boolean },
) {
  if (ran) {
    await engine`
      update nudge_engine.sync_state set error = ${message}
       where name = ${name} and status = 'failed'`;
    return;
  }
  await engine`
    insert into nudge_engine.sync_state (name, status, error, updated_at)
    values (${name}, 'failed', ${message}, now())
    on conflict (name) do update set error = excluded.error, updated_at = now()`;
}
