// A lane's unprocessed events moved into another lane, in the transaction
// that holds the old lane's lock (reclaimLanes, lanes/process.ts). Returns
// how many moved.
import type postgres from 'postgres';

export async function moveLane(
  tx: postgres.TransactionSql,
  from: number,
  to: number,
): Promise<number> {
  const result = await tx`
        update nudge_engine.inbox set partition = ${to}
         where processed_at is null and partition = ${from}`;
  return result.count;
}
