// The job specs of new runs, for graphile-worker's add_jobs: one job per
// RUNS_PER_JOB rows of `source` (id, key, attempts, run_at; in id order),
// max_attempts 1 and no job key: a retry, replay or recovery gives a run a
// keyed job of its own (keyed-jobs.ts).
import type postgres from 'postgres';
import type { Db } from '../../contacts/store.js';
import { WORKER_SCHEMA } from '../../db/migrate.js';
import { ACTION_TASK } from './action-task.js';

/**
 * Runs per job when a lane's transaction enqueues many: one job and one
 * transaction for them all instead of one each (the job queue's own cost is
 * what limited throughput), while a lane's 200 still spread over 8 jobs.
 */
export const RUNS_PER_JOB = 25;

export const batchJobSpecs = (sql: Db, source: postgres.PendingQuery<postgres.Row[]>) => sql`
  select array_agg(row(
           ${ACTION_TASK}, json_build_object('runs', b.runs), null, b.run_at, 1, null, null, null
         )::${sql(WORKER_SCHEMA)}.job_spec) as specs
    from (select json_agg(json_build_object('id', s.id, 'attempt', s.attempts) order by s.id) as runs,
                 max(s.run_at) as run_at
            from (select *, (row_number() over (order by id) - 1) / ${RUNS_PER_JOB} as chunk
                    from (${source}) t) s
           group by s.chunk) b`;
