// A run's next attempt: the run touched (and, after a failed attempt, marked
// retrying with its attempts and error) and given a keyed job `delayMs` after
// that update, in one statement, both on the database's clock, which
// graphile-worker compares run_at with. The job key replaces a waiting job.
// A retry's and a deferral's (which leaves status and attempts as they are);
// the job as keyed-jobs.ts writes every keyed job of a run.
import type postgres from 'postgres';
import { keyedJobs } from './keyed-jobs.js';

export function scheduleAttempt(
  tx: postgres.TransactionSql,
  runId: number,
  delayMs: number,
  retry?: { attempts: number; error: string },
): postgres.PendingQuery<postgres.Row[]> {
  const set = retry
    ? tx`status = 'retrying', attempts = ${retry.attempts}, last_error = ${retry.error},`
    : tx``;
  return tx`
    with touched as (
      update nudge_engine.action_runs set ${set} updated_at = clock_timestamp()
       where id = ${runId}
      returning id, key, attempts, updated_at + ${delayMs} * interval '1 millisecond' as run_at
    ), ${keyedJobs(tx, tx`select * from touched`)}`;
}
