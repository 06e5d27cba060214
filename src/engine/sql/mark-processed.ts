// Inbox events marked processed, by id within the lanes they were read from
// (a statement not sent yet: it goes with the lane's other writes). Naming
// the lanes keeps it on their partitions of an inbox partitioned by lane
// (docs/scale.md).
import type postgres from 'postgres';

export function markProcessed(
  tx: postgres.TransactionSql,
  events: readonly { id: number; partition: number }[],
  at: Date,
): postgres.PendingQuery<postgres.Row[]> {
  const lanes = [...new Set(events.map((event) => event.partition))];
  return tx`
    update nudge_engine.inbox set processed_at = ${at}
     where partition = any(${lanes}::smallint[]) and id = any(${events.map((event) => event.id)}::bigint[])`;
}
