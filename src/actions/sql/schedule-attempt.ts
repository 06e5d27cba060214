// A run updated (`set`: assignments before updated_at) and given a keyed job
// `delayMs` after that update, in one statement, both on the database's
// clock, which graphile-worker compares run_at with. The job key replaces a
// waiting job. A retry's and a deferral's next attempt.
import type postgres from 'postgres';
import { WORKER_SCHEMA } from '../../db/migrate.js';
import { ACTION_TASK } from './action-task.js';

export function scheduleAttempt(
  tx: postgres.TransactionSql,
  runId: number,
  delayMs: number,
  set: postgres.PendingQuery<postgres.Row[]>,
): postgres.PendingQuery<postgres.Row[]> {
  return tx`
    with touched as (
      update nudge_engine.action_runs set ${set} updated_at = clock_timestamp()
       where id = ${runId}
      returning id, key, attempts, updated_at + ${delayMs} * interval '1 millisecond' as run_at
    )
    select ${tx(WORKER_SCHEMA)}.add_jobs(array[row(
             ${ACTION_TASK}, json_build_object('runId', id, 'attempt', attempts),
             null, run_at, 1, 'action:' || key, null, null)::${tx(WORKER_SCHEMA)}.job_spec])
      from touched`;
}
