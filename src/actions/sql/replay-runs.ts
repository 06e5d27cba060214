// Runs put back to pending for a replay, with a job each that runs now, in
// one statement: the runs picked (and locked, so one being attempted, or
// being replayed by another click, is waited for and then re-checked: a
// second replay of one run finds it pending, not dead), reset with their
// attempts counted in replays and attempts_before_replay, given keyed jobs.
// Returns how many. Dead runs, by key or narrowed by feature and creation
// time; `force` (with a key) picks that run whatever its status.
import type { Db } from '../../contacts/store.js';
import { keyedJobs } from './keyed-jobs.js';

export interface ReplayRunsFilter {
  key: string | null;
  feature: string | null;
  since: Date | null;
  until: Date | null;
  /** With `key`: that run whatever its status. */
  force?: boolean;
}

/** The filter's conditions other than status, on nudge_engine.action_runs. */
const matching = (sql: Db, filter: ReplayRunsFilter) => {
  const { key, feature, since, until } = filter;
  return sql`(${key}::text is null or key = ${key}::text)
         and (${feature}::text is null or feature = ${feature}::text)
         and (${since}::timestamptz is null or created_at >= ${since}::timestamptz)
         and (${until}::timestamptz is null or created_at < ${until}::timestamptz)`;
};

export async function replayRuns(sql: Db, filter: ReplayRunsFilter): Promise<number> {
  const force = filter.key !== null && filter.force === true;
  const [row] = await sql<{ count: number }[]>`
    with picked as (
      select id from nudge_engine.action_runs
       where (${force}::boolean or status = 'dead') and ${matching(sql, filter)}
       for update
    ), reset as (
      update nudge_engine.action_runs r
         set status = 'pending', attempts = 0, last_error = null, result = null,
             completed_at = null, updated_at = now(), replays = r.replays + 1,
             attempts_before_replay = r.attempts_before_replay + r.attempts
        from picked where r.id = picked.id
      returning r.id, r.key, r.attempts, null::timestamptz as run_at
    ), ${keyedJobs(sql, sql`select * from reset`)}`;
  return row?.count ?? 0;
}

/**
 * The status of the run with the filter's key when the rest of the filter
 * matches it: read after a replay that left it as it was, to say why (it is
 * not dead). Undefined when no run has the key or the filter leaves it out.
 */
export async function replayedKeyStatus(
  sql: Db,
  filter: ReplayRunsFilter & { key: string },
): Promise<string | undefined> {
  const [row] = await sql<{ status: string }[]>`
    select status from nudge_engine.action_runs where ${matching(sql, filter)}`;
  return row?.status;
}
