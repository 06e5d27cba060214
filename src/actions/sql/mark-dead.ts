// A run marked dead after its last attempt (or a permanent error): no job
// follows, a replay is what brings it back.
import type postgres from 'postgres';

export function markDead(
  tx: postgres.TransactionSql,
  runId: number,
  attempts: number,
  error: string,
): postgres.PendingQuery<postgres.Row[]> {
  return tx`
      update nudge_engine.action_runs
         set status = 'dead', attempts = ${attempts}, last_error = ${error},
             updated_at = clock_timestamp()
       where id = ${runId}`;
}
