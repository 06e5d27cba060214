// The end of a statement that gives each row of `source` (a query with id,
// key, attempts and run_at columns) a keyed job with graphile-worker's
// add_jobs and returns how many as `count`; it follows the statement's other
// CTEs (`with ..., ${keyedJobs(...)}`). max_attempts is 1 because the task
// schedules its own retries (so it can honour Retry-After); the job key keeps
// one waiting job per run (adding it again replaces it).
import type postgres from 'postgres';
import type { Db } from '../../contacts/store.js';
import { WORKER_SCHEMA } from '../../db/migrate.js';
import { ACTION_TASK } from './action-task.js';

const jobSpecs = (sql: Db, source: postgres.PendingQuery<postgres.Row[]>) => sql`
  select array_agg(row(
           ${ACTION_TASK}, json_build_object('runId', s.id, 'attempt', s.attempts),
           null, s.run_at, 1, 'action:' || s.key, null, null
         )::${sql(WORKER_SCHEMA)}.job_spec) as specs
    from (${source}) s`;

export const keyedJobs = (
  sql: Db,
  source: postgres.PendingQuery<postgres.Row[]>,
) => sql`specs as (${jobSpecs(sql, source)})
    select count(j.*)::int as count
      from specs, ${sql(WORKER_SCHEMA)}.add_jobs(specs.specs) j
     where specs.specs is not null`;
