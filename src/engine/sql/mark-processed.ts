// Inbox events marked processed, by id (a statement not sent yet: it goes
// with the lane's other writes).
import type postgres from 'postgres';

export function markProcessed(
  tx: postgres.TransactionSql,
  ids: number[],
  at: Date,
): postgres.PendingQuery<postgres.Row[]> {
  return tx`
    update nudge_engine.inbox set processed_at = ${at} where id = any(${ids}::bigint[])`;
}
