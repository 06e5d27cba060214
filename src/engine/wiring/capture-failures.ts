// The running engine says when a capture trigger could not capture rows. The
// user's write committed and the rows wait in nudge.failed_events (stage
// 'capture', capture/transports/fallback.ts), where no feature sees them;
// `nudge doctor` and the dashboard report them, and this puts them in the log
// that prints every decision: how many came, on which table and operation,
// the latest error, and the way out (`nudge capture retry`, once repaired).
//
// Once per rows. A look counts the rows waiting (one statement on the source,
// every 30 s by default; the table holds only what waits to be retried, so
// the count is small). When the count changed, the rows are read as doctor
// reads them (capture/failures/summary.ts readFailures), by table and
// operation, and the groups that grew since the last reading are the new
// rows: said once, in one warning. Counting, not "ids above the last seen":
// a failure is written inside the user's transaction, and one that commits
// after a later one would fall below such a mark. (What counting cannot tell
// apart: a retry that delivers some rows of a capture while as many new ones
// of it fail, between two looks.) The first look says once what is already
// waiting. No table (not deployed): nothing is said.
//
// One process looks. With several engine processes (`nudge worker`), the one
// holding a session advisory lock on the engine store does, on a connection
// of its own; the others try for it at each look, so one of them takes over
// when the holder stops (and says once what is waiting then).
import type postgres from 'postgres';
import {
  captureName,
  type FailureGroup,
  failedAtText,
  latestErrorText,
  latestGroup,
  readFailures,
} from '../../capture/failures/summary.js';
import { isInsufficientPrivilege, isUndefinedTable } from '../../db/errors.js';
import { lockKey } from '../../db/locks.js';
import { postgresFor } from '../../db/tls.js';
import type { Log } from '../../log.js';
import { formatTableName } from '../../source/names.js';
import { plural } from '../../words.js';

/** How often the engine looks by default (ms). */
export const CAPTURE_FAILURES_MS = 30_000;

/** The lock that picks the one process that looks (db/locks.ts). */
const LOOKER_LOCK = lockKey('captureFailures');

/** What the way out is, in the words `nudge doctor` uses. */
const WAY_OUT =
  'nudge doctor names them; nudge capture retry delivers them once the cause is repaired';

export interface CaptureFailureWatch {
  /** One look: says what came since the last one, when this process is the one that looks. */
  look(): Promise<void>;
  stop(): Promise<void>;
}

export interface CaptureFailureWatchOptions {
  /** The user's database, where nudge.failed_events is. */
  source: postgres.Sql;
  /** The engine store every engine process shares: where the lock is taken. */
  engineUrl: string;
  log: Log;
}

export function watchCaptureFailures(options: CaptureFailureWatchOptions): CaptureFailureWatch {
  const { source, log } = options;
  let lock: postgres.Sql | undefined;
  /** The rows waiting at the last look, and by group at the last reading; undefined: not looked yet as the looker. */
  let seen: { rows: number; groups: Map<string, number> } | undefined;
  /** The table was there at the last look: counted directly, else asked for first. */
  let present = false;
  let refused = false;

  /** Whether this process holds the lock (taking it when free). One statement on its own connection. */
  const looking = async (): Promise<boolean> => {
    lock ??= postgresFor(options.engineUrl, {
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      onnotice: () => {},
      connection: { application_name: 'nudge capture failures' },
    });
    // The connection holds no other lock; postgres.js reconnects after a
    // loss, and the lock is then taken again only if free.
    const [row] = await lock<{ held: boolean }[]>`
      select case when exists (select from pg_locks where locktype = 'advisory'
                                  and pid = pg_backend_pid() and granted)
                  then true else pg_try_advisory_lock(${lock.unsafe(LOOKER_LOCK)}) end as held`;
    return row?.held === true;
  };

  /** Unresolved capture failures, or undefined without the table. Asks whether it exists only while it did not. */
  const count = async (): Promise<number | undefined> => {
    if (!present) {
      const [where] = await source<{ present: boolean }[]>`
        select to_regclass('nudge.failed_events') is not null as present`;
      if (!where?.present) return undefined;
      present = true;
    }
    try {
      const [row] = await source<{ rows: number }[]>`
        select count(*)::int as rows from nudge.failed_events
         where stage = 'capture' and resolved_at is null`;
      return row?.rows ?? 0;
    } catch (error) {
      // Dropped since (a teardown).
      if (!isUndefinedTable(error)) throw error;
      present = false;
      return undefined;
    }
  };

  const look = async () => {
    if (!(await looking())) {
      // Another process looks; should this one take over, it starts afresh.
      seen = undefined;
      return;
    }
    let rows: number | undefined;
    try {
      rows = await count();
    } catch (error) {
      if (!isInsufficientPrivilege(error)) throw error;
      if (!refused)
        log.warn(
          { error: (error as Error).message },
          'cannot read nudge.failed_events: the engine will not say when a capture trigger fails to capture rows (nudge doctor, run with a role that can read it, does)',
        );
      refused = true;
      return;
    }
    refused = false;
    const first = seen === undefined;
    if (rows === undefined) {
      // Not deployed (or dropped): nothing to say, and every row after a deploy is new.
      seen = { rows: 0, groups: new Map() };
      return;
    }
    if (!first && rows === seen!.rows) return;
    if (first && rows === 0) {
      seen = { rows: 0, groups: new Map() };
      return;
    }
    // Dropped meanwhile (a teardown): as if not deployed.
    const summary = await readFailures(source).catch((error: unknown) => {
      if (!isUndefinedTable(error)) throw error;
      return { table: false } as const;
    });
    if (!summary.table) {
      present = false;
      seen = { rows: 0, groups: new Map() };
      return;
    }
    const before = seen?.groups ?? new Map<string, number>();
    const grown = summary.groups
      .map((group) => ({ group, added: group.rows - (before.get(keyOf(group)) ?? 0) }))
      .filter((g) => g.added > 0);
    seen = { rows: summary.rows, groups: new Map(summary.groups.map((g) => [keyOf(g), g.rows])) };
    // Fewer rows (a retry delivered some), or a change read after it was undone.
    if (!grown.length) return;
    const said = first ? waitingWarning(summary.groups) : newWarning(grown, summary.rows);
    log.warn(said.fields, said.message);
  };

  return {
    look,
    async stop() {
      // Ending the session lets the lock go to another process.
      const ending = lock;
      lock = undefined;
      await ending?.end({ timeout: 5 }).catch(() => {});
    },
  };
}

function keyOf(group: FailureGroup): string {
  return JSON.stringify([group.schema, group.table, group.operation]);
}

function fieldsOf(group: FailureGroup, rows: number, waiting: number) {
  return {
    rows,
    waiting,
    table: formatTableName(group),
    operation: group.operation,
    sqlstate: group.latest.sqlstate,
  };
}

/**
 * Rows that came since the last look: `3 rows not captured on public.orders
 * update: 22012 division by zero — nudge doctor names them; ...`, the groups
 * that grew named with how many each when there are several.
 */
export function newWarning(
  grown: { group: FailureGroup; added: number }[],
  waiting: number,
): { message: string; fields: Record<string, unknown> } {
  const rows = grown.reduce((sum, g) => sum + g.added, 0);
  const latest = latestGroup(grown.map((g) => g.group))!;
  const earlier = waiting > rows ? ` (${waiting} waiting in all)` : '';
  const where =
    grown.length === 1
      ? `on ${captureName(latest)}${earlier}: ${latestErrorText(latest)}`
      : `on ${grown.map((g) => `${captureName(g.group)} (${g.added})`).join(', ')}${earlier}; latest error, on ${captureName(latest)}: ${latestErrorText(latest)}`;
  return {
    message: `${plural(rows, 'row')} not captured ${where} — ${WAY_OUT}`,
    fields: fieldsOf(latest, rows, waiting),
  };
}

/** What is waiting when this process begins to look: said once. */
export function waitingWarning(groups: FailureGroup[]): {
  message: string;
  fields: Record<string, unknown>;
} {
  const rows = groups.reduce((sum, g) => sum + g.rows, 0);
  const latest = latestGroup(groups)!;
  const since = failedAtText(groups[0]!.since);
  const where =
    groups.length === 1
      ? `on ${captureName(latest)}; latest error: ${latestErrorText(latest)}`
      : `on ${groups.map((g) => `${captureName(g)} (${g.rows})`).join(', ')}; latest error, on ${captureName(latest)}: ${latestErrorText(latest)}`;
  return {
    message: `nudge.failed_events holds ${plural(rows, 'row')} not captured since ${since}, ${where} — ${WAY_OUT}`,
    fields: fieldsOf(latest, rows, rows),
  };
}
