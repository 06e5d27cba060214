// Runs put back to pending for a replay, with a job each that runs now, in
// one statement: the runs picked (and locked, so one being attempted is
// waited for and then re-checked), reset with their attempts counted in
// replays and attempts_before_replay, given keyed jobs. Returns how many.
// `key` picks that run whatever its status; otherwise dead runs, narrowed by
// feature and creation time.
import type { Db } from '../../contacts/store.js';
import { keyedJobs } from './keyed-jobs.js';

export async function replayRuns(
  sql: Db,
  filter: { key: string | null; feature: string | null; since: Date | null; until: Date | null },
): Promise<number> {
  const { key, feature, since, until } = filter;
  const [row] = await sql<{ count: number }[]>`
    with picked as (
      select id from nudge_engine.action_runs
       where (case when ${key}::text is null then status = 'dead' else key = ${key}::text end)
         and (${feature}::text is null or feature = ${feature}::text)
         and (${since}::timestamptz is null or created_at >= ${since}::timestamptz)
         and (${until}::timestamptz is null or created_at < ${until}::timestamptz)
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
