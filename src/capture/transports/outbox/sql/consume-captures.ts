// What consuming a pump's claimed rows takes, in the claiming transaction:
// for nudge.event_log and each rows table, copy them to nudge.event_archive
// (when kept) and delete them. Statements not sent yet: the pump sends them
// with the inbox insert when both stores are one database.
import type postgres from 'postgres';
import { ident, literal } from '../../../../db/quote.js';
import type { RowsTable } from '../../../state.js';
import { capturedRowJson } from './claim-captures.js';

/** The rows claimed from one rows table, by tid. */
export interface RowsClaim {
  table: RowsTable;
  rows: { tid: string }[];
}

export function consumeCaptures(
  tx: postgres.TransactionSql,
  ids: number[],
  claims: readonly RowsClaim[],
  archive: boolean | undefined,
): postgres.PendingQuery<postgres.Row[]>[] {
  const consume: postgres.PendingQuery<postgres.Row[]>[] = [];
  if (ids.length) {
    if (archive)
      consume.push(
        tx`insert into nudge.event_archive select *, now() from nudge.event_log where id = any(${ids}::bigint[])`,
      );
    consume.push(tx`delete from nudge.event_log where id = any(${ids}::bigint[])`);
  }
  for (const { table, rows } of claims) {
    if (rows.length === 0) continue;
    const tids = rows.map((r) => r.tid);
    const target = tx.unsafe(`nudge.${ident(table.name)}`);
    if (archive) {
      const column = table.operation === 'insert' ? 'new_rows' : 'old_rows';
      consume.push(tx`
          insert into nudge.event_archive (id, schema_name, table_name, operation, row_count, ${tx.unsafe(column)}, captured_at)
          select t."nudge:id"::bigint, ${tx.unsafe(`${literal(table.schema)}, ${literal(table.table)}, ${literal(table.operation)}`)}, 1,
                 json_build_array(${tx.unsafe(capturedRowJson(table))}), t."nudge:at"::timestamptz
            from ${target} as t where t.ctid = any(${tids}::tid[])`);
    }
    consume.push(tx`delete from ${target} where ctid = any(${tids}::tid[])`);
  }
  return consume;
}
