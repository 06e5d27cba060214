// The runs an attempt delivered, marked succeeded in one update (an email's
// provider message id kept for its delivery webhooks), sent in one statement
// with `logged`, the attempts' insert into the decision log.
import type postgres from 'postgres';
import { records } from '../../db/records.js';

export function markSucceeded(
  tx: postgres.TransactionSql,
  done: { id: number; result: unknown }[],
  completedAt: Date,
  logged: postgres.PendingQuery<postgres.Row[]>,
): postgres.PendingQuery<postgres.Row[]> {
  const marked = tx`
        update nudge_engine.action_runs r
           set status = 'succeeded', attempts = r.attempts + 1, last_error = null,
               result = d.result, completed_at = ${completedAt},
               provider_message_id = case when r.kind = 'email'
                                          then d.result ->> 'message_id' end,
               updated_at = clock_timestamp()
          from ${records(tx, done, 'id bigint, result jsonb', 'd')}
         where r.id = d.id`;
  return tx`with marked as (${marked}) ${logged}`;
}
