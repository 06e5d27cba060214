// What capture has written and the pump not yet moved, in capture order, one
// entry per captured row: nudge.pending() over event_log and the typed rows
// tables.
import type postgres from 'postgres';

export interface Captured {
  id: number;
  table_name: string;
  operation: string;
  new_rows: Record<string, unknown>[] | null;
  old_rows: Record<string, unknown>[] | null;
  enrichment: unknown[] | null;
  /** Where it is: `event_log` or the rows table's name. */
  store: string;
}

export async function captured(sql: postgres.Sql): Promise<Captured[]> {
  const rows = await sql<
    {
      id: number;
      table_name: string;
      operation: string;
      new_row: Record<string, unknown> | null;
      old_row: Record<string, unknown> | null;
      enrichment: unknown;
      stored_in: string;
    }[]
  >`select id::float8 as id, table_name, operation, new_row, old_row, enrichment, stored_in
      from nudge.pending() order by id, row_index`;
  return rows.map((r) => ({
    id: r.id,
    table_name: r.table_name,
    operation: r.operation,
    new_rows: r.new_row ? [r.new_row] : null,
    old_rows: r.old_row ? [r.old_row] : null,
    enrichment: r.enrichment ? [r.enrichment] : null,
    store: r.stored_in,
  }));
}
