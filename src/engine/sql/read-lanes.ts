// The oldest unprocessed events of the given lanes. Each lane is read by its
// own branch, the statement one lane alone would use, ordered by the column,
// not the int alias, so the pending index serves it instead of a sort of
// every pending row. (Read with `partition = any(...)`, the planner walked
// the primary key through every processed row: 3.7 ms a read after 60,000
// events.) Not sent until awaited: the lanes send it with their lock.
import type postgres from 'postgres';
import type { InboxRow } from '../intake/inbox.js';

export type PendingRow = InboxRow & { partition: number };

export function readLanes(
  tx: postgres.TransactionSql,
  lanes: readonly number[],
  limit: number,
): postgres.PendingQuery<PendingRow[]> {
  const lane = (partition: number) => tx`(
    select id::float8 as id, partition, source, schema_name, table_name, operation, event_name, new_row, old_row, enrichment, occurred_at, deployment
      from nudge_engine.inbox
     where partition = ${partition} and processed_at is null
     order by inbox.id limit ${limit})`;
  return tx<PendingRow[]>`
    select * from (${lanes.map(lane).reduce((all, one) => tx`${all} union all ${one}`)}) pending
     order by id limit ${limit}`;
}
