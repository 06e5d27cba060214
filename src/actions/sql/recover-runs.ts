// Runs that should have a job and do not, given one, in one statement:
// pending or retrying, untouched for `staleAfterMs`, not locked (no attempt
// under way) and named by no waiting job (keyed or in a batch's runs). They
// are touched and given keyed jobs; returns how many. Run by housekeeping
// every few seconds, from any number of processes (SKIP LOCKED).
import type { Db } from '../../contacts/store.js';
import { WORKER_SCHEMA } from '../../db/migrate.js';
import { ACTION_TASK } from './action-task.js';
import { keyedJobs } from './keyed-jobs.js';

export async function recoverRuns(sql: Db, staleAfterMs: number): Promise<number> {
  const [row] = await sql<{ count: number }[]>`
    with waiting as materialized (
      -- The runs a job waits to run: one (runId, keyed or not) or a batch (runs).
      select coalesce((p.payload ->> 'runId')::bigint, (run ->> 'id')::bigint) as id
        from ${sql(WORKER_SCHEMA)}.jobs j
        join ${sql(WORKER_SCHEMA)}._private_jobs p using (id)
        left join lateral json_array_elements(p.payload -> 'runs') run on true
       where j.task_identifier = ${ACTION_TASK} and j.locked_at is null
         and j.attempts < j.max_attempts
    ), stuck as (
      select r.id from nudge_engine.action_runs r
       where r.status in ('pending', 'retrying')
         and r.updated_at < now() - ${staleAfterMs} * interval '1 millisecond'
         and not exists (select from waiting w where w.id = r.id)
       for update of r skip locked
    ), touched as (
      update nudge_engine.action_runs r set updated_at = now()
        from stuck where r.id = stuck.id
      returning r.id, r.key, r.attempts, null::timestamptz as run_at
    ), ${keyedJobs(sql, sql`select * from touched`)}`;
  return row?.count ?? 0;
}
