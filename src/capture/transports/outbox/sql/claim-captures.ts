// The pump's claim: the oldest captured rows of nudge.event_log and of every
// rows table, in one statement on the source database, with the pump's lock
// and the latest deployment's id (source -2; absent when another process
// holds the lock).
import type postgres from 'postgres';
import { lockKey } from '../../../../db/locks.js';
import { ident } from '../../../../db/quote.js';
import type { RowsTable } from '../../../state.js';
import type { Operation } from '../../../triggers.js';

interface OutboxRow {
  id: number;
  schema_name: string;
  table_name: string;
  operation: Operation;
  row_count: number;
  new_rows: Record<string, unknown>[] | null;
  old_rows: Record<string, unknown>[] | null;
  enrichment: unknown[] | null;
  captured_at: Date;
}

/** A claimed row: of event_log (source -1) or of rows table `source` (tid and row set). */
export interface ClaimedRow extends OutboxRow {
  source: number;
  tid: string;
  row: Record<string, unknown>;
}

/** A captured row of a rows table as JSON, columns in table order (any number, any names). */
export function capturedRowJson(table: RowsTable): string {
  return `(select row_to_json(x.*) from (select ${table.columns.map((c) => `t.${ident(c)}`).join(', ')}) as x)`;
}

export function claimCaptures(
  tx: postgres.TransactionSql,
  tables: readonly RowsTable[],
  batch: number,
  rowsBatch: number,
): Promise<ClaimedRow[]> {
  // One statement claims the oldest rows of every source, after the lock:
  // a pump without the lock must not lock (claim) rows either, or the pump
  // holding it would skip them and move later rows first. (A one-time
  // filter: no scan starts without the lock.) Order by the column, not the
  // int alias, or the whole outbox is sorted on every claim. Rows tables
  // have no index (it would cost every captured write): their claim reads
  // the table, which the pump keeps near-empty. Their metadata columns are
  // cast to the types rowsTableSql gives them: a no-op where they have them,
  // and where one was retyped by hand (text) the rows still come in id
  // order, dated as captured, until deploy gives the types back.
  return tx.unsafe<ClaimedRow[]>(
    `with pump as materialized (select pg_try_advisory_xact_lock(${lockKey('pump')}) as ok),
     log as materialized (
       select id, schema_name, table_name, operation, row_count, new_rows, old_rows, enrichment, captured_at
         from nudge.event_log
        where (select ok from pump)
        order by event_log.id limit $1::int
          for update of event_log skip locked)${tables
            .map(
              (table, i) => `,
     c${i} as materialized (
       select t.ctid as tid from nudge.${ident(table.name)} as t
        where (select ok from pump)
        order by t."nudge:id"::bigint limit $2::int
          for update of t skip locked)`,
            )
            .join('')}
     select -2 as source, (select coalesce(max(id), 0) from nudge.deployments)::float8 as id, null::text as tid,
            null::text as schema_name, null::text as table_name, null::text as operation, 0 as row_count,
            null::json as new_rows, null::json as old_rows, null::json as enrichment, null::json as row,
            null::timestamptz as captured_at
      where (select ok from pump)
     union all
     select -1, id::float8, null, schema_name, table_name, operation, row_count,
            new_rows, old_rows, enrichment, null, captured_at
       from log${tables
         .map(
           (table, i) => `
     union all
     select ${i}, t."nudge:id"::bigint::float8, t.ctid::text, null, null, null, 1, null, null, null,
            ${capturedRowJson(table)}, t."nudge:at"::timestamptz
       from nudge.${ident(table.name)} as t
      where t.ctid = any(array(select tid from c${i}))`,
         )
         .join('')}`,
    // Prepared (parameters make it so): the text changes only with the
    // rows tables, and planning it on every claim (0.2–0.3 ms) cost more
    // than running it.
    tables.length > 0 ? [batch, rowsBatch] : [batch],
    { prepare: true },
  );
}
