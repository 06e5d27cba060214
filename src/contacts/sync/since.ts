// Where the next incremental sync starts reading, and why it misses no
// change committed on the source (docs/connector.md, "No late commit is
// missed").
//
// An incremental run reads rows whose updated_at (a table's changed-at
// column) is at or after `since`, in pages, each page a statement of its
// own. A row a transaction wrote is missed only when that transaction had
// not committed when the run read past the row's time. Such a transaction
// was open when the run began, or began after: so the next run starts at
// the start of the oldest transaction open on the source when this run
// began (pg_stat_activity.xact_start), or at this run's start when none is
// older. A transaction's rows carry an updated_at at or after its start
// when the database sets it (now(), a trigger, a default), however long the
// transaction stays open. The overlap (INCREMENTAL_OVERLAP_MS) is still
// taken off, for times an application's clock wrote: Supabase Auth sets
// updated_at itself, a little before its transaction begins.
//
// PostgreSQL clears a transaction's xact_start only after the transaction
// is visible to new snapshots, so a writer missing from the list has
// committed before any page is read. What this cannot see: sessions of
// other roles when the sync's role lacks pg_read_all_stats (their start is
// hidden; the run says so and falls back to the overlap alone), a source
// with track_activities off (the same, said too), prepared
// transactions (PREPARE TRANSACTION), and an updated_at written earlier than
// its transaction began by more than the overlap. The HTTP sources (Auth
// admin API, PostgREST) have no pg_stat_activity: the overlap alone.
import type postgres from 'postgres';
import type { SavedCursor } from './checkpoint.js';
import type { SyncLog } from './report.js';
import type { SyncSource } from './users.js';

/** Taken off the next run's start, for updated_at written by an application's clock. */
export const INCREMENTAL_OVERLAP_MS = 60_000;

/** The source database's clock, and the oldest transaction open on it, at a run's start. */
interface SourceClock {
  now: Date;
  /** The oldest transaction open on the source (ours aside), when one began before `now`. */
  oldestOpen: { since: Date; pid: number; application: string } | null;
  /** Sessions of other roles whose transactions this role cannot see (pg_read_all_stats). */
  hidden: number;
  /** The sync's role on the source, for the grant that shows them. */
  role: string;
  /** track_activities: off, no session's xact_start is known. */
  tracked: boolean;
}

/**
 * now() and the open transactions, in one statement (one view of
 * pg_stat_activity). Vacuum and WAL senders write no rows: left out.
 */
async function readSourceClock(sql: postgres.Sql): Promise<SourceClock> {
  const [row] = await sql<
    {
      now: Date;
      since: Date | null;
      pid: number | null;
      application: string | null;
      hidden: number;
      role: string;
      tracked: boolean;
    }[]
  >`
    with others as (
      select pid, xact_start, application_name, query
        from pg_stat_activity
       where datname = current_database() and pid <> pg_backend_pid()
         and backend_type is distinct from 'autovacuum worker'
         and backend_type is distinct from 'walsender'),
    oldest as (
      select xact_start, pid, application_name from others
       where xact_start < now() order by xact_start limit 1)
    select now() as now, oldest.xact_start as since, oldest.pid, oldest.application_name as application,
           (select count(*)::int from others where query = '<insufficient privilege>') as hidden,
           current_user as role, current_setting('track_activities')::boolean as tracked
      from (select 1) one left join oldest on true`;
  const { now, since, pid, application, hidden, role, tracked } = row!;
  return {
    now,
    oldestOpen: since ? { since, pid: pid!, application: application ?? '' } : null,
    hidden,
    role,
    tracked,
  };
}

/** The warnings runStart has given in this process, by label and kind. */
const warned = new Set<string>();

/**
 * A run's start on the source's clock, and where the oldest transaction
 * open then began (null when none began earlier, or the source is an HTTP
 * API: the engine store's clock then). Says in the log when a transaction
 * holds the next run's start back past the overlap, and, when the run
 * leads to incremental ones (`incremental`), that transactions this role
 * cannot see are not waited for.
 */
export async function runStart(
  source: SyncSource,
  engine: postgres.Sql,
  what: { label: string; incremental: boolean; overlapMs: number; log: SyncLog },
): Promise<{ now: Date; openSince: Date | null }> {
  if (source.kind !== 'database') {
    const [row] = await engine<{ now: Date }[]>`select now() as now`;
    return { now: row!.now, openSince: null };
  }
  const clock = await readSourceClock(source.sql);
  const { label, log } = what;
  const open = clock.oldestOpen;
  if (what.incremental && open && open.since.getTime() < clock.now.getTime() - what.overlapMs) {
    log.verbose(
      `${label}: a transaction open since ${open.since.toISOString()} (pid ${open.pid}${open.application ? `, ${open.application}` : ''}) holds back where the next run starts, so its changes are read once it commits`,
    );
  }
  // Said once per process and source setting: background syncs run every few minutes.
  const warn = (key: string, text: string) => {
    if (warned.has(key)) return;
    warned.add(key);
    log.warn(text);
  };
  if (what.incremental && !clock.tracked) {
    warn(
      `${label}\u0000untracked`,
      `${label}: track_activities is off on the source, so no transaction's start is known and a change committed more than ${what.overlapMs / 1000} s after its transaction began can be missed by incremental runs; turn track_activities on (the default)`,
    );
  } else if (what.incremental && clock.hidden > 0) {
    warn(
      `${label}\u0000hidden\u0000${clock.role}`,
      `${label}: ${clock.hidden} sessions' transactions are hidden from role ${clock.role} (pg_stat_activity), so a change one of them commits more than ${what.overlapMs / 1000} s after it began can be missed by incremental runs; grant pg_read_all_stats to ${clock.role} (or run a --full sync now and then)`,
    );
  }
  return { now: clock.now, openSince: open?.since ?? null };
}

/**
 * Where the run after this one starts: the start of the oldest transaction
 * open when this run began (SavedCursor.open_since, always earlier: runStart
 * reads only those begun before its now()), or this run's start when none
 * was, less the overlap.
 */
export function nextSince(cursor: SavedCursor, overlapMs: number): string {
  const from = cursor.open_since ?? cursor.run_started_at;
  return new Date(Date.parse(from) - overlapMs).toISOString();
}
