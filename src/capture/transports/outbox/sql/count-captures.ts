// The captured rows waiting for the pump, counted: the rows of
// nudge.event_log's chunks and of every rows table (a status figure, read
// when asked, not by the pump).
import type postgres from 'postgres';
import { ident } from '../../../../db/quote.js';
import type { RowsTable } from '../../../state.js';

export async function countCaptures(
  source: postgres.Sql,
  tables: readonly RowsTable[],
): Promise<number> {
  const [row] = await source.unsafe<{ n: number }[]>(
    `select (coalesce((select sum(row_count) from nudge.event_log), 0)${tables
      .map((t) => ` + (select count(*) from nudge.${ident(t.name)})`)
      .join('')})::float8 as n`,
  );
  return row?.n ?? 0;
}
