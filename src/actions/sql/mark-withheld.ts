// The runs their admission refused (unsubscribed, suppressed), marked
// skipped for good with the reason in last_error, sent in one statement with
// `logged`, their `skipped` decisions.
import type postgres from 'postgres';
import { records } from '../../db/records.js';

export function markWithheld(
  tx: postgres.TransactionSql,
  withheld: { id: number; reason: string }[],
  completedAt: Date,
  logged: postgres.PendingQuery<postgres.Row[]>,
): postgres.PendingQuery<postgres.Row[]> {
  const marked = tx`
    update nudge_engine.action_runs r
       set status = 'skipped', last_error = w.reason, completed_at = ${completedAt},
           updated_at = clock_timestamp()
      from ${records(tx, withheld, 'id bigint, reason text', 'w')}
     where r.id = w.id`;
  return tx`with marked as (${marked}) ${logged}`;
}
