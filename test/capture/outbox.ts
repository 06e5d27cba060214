// What capture has written and the pump not yet moved, in capture order:
// nudge.event_log's JSON chunks and the typed rows tables, one entry per
// outbox row or typed row.
import type postgres from 'postgres';
import { listRowsTables } from '../../src/capture/state.js';
import { ident } from '../../src/db/quote.js';

export interface Captured {
  id: number;
  table_name: string;
  operation: string;
  new_rows: Record<string, unknown>[] | null;
  old_rows: Record<string, unknown>[] | null;
  enrichment: unknown;
  /** Where it is: `event_log` or the rows table's name. */
  store: string;
}

export async function captured(sql: postgres.Sql): Promise<Captured[]> {
  const log = await sql<Captured[]>`
    select id::float8 as id, table_name, operation, new_rows, old_rows, enrichment, 'event_log' as store
      from nudge.event_log`;
  const typed = await Promise.all(
    (await listRowsTables(sql)).map(async (t) => {
      const rows = await sql.unsafe<{ id: number; row: Record<string, unknown> }[]>(
        `select "nudge:id"::float8 as id,
                (select row_to_json(x.*) from (select ${t.columns.map((c) => `r.${ident(c)}`).join(', ')}) x) as row
           from nudge.${ident(t.name)} r`,
      );
      return rows.map((r) => ({
        id: r.id,
        table_name: t.table,
        operation: t.operation,
        new_rows: t.operation === 'insert' ? [r.row] : null,
        old_rows: t.operation === 'insert' ? null : [r.row],
        enrichment: null,
        store: t.name,
      }));
    }),
  );
  return [...log, ...typed.flat()].sort((a, b) => a.id - b.id);
}
