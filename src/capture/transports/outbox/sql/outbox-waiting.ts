// Whether the pump has anything to claim: a row in nudge.event_log or in a
// rows table it knows of, or a deployment newer than the one it knows (a
// claim refreshes its rows tables). The look an idle pump takes, outside any
// transaction; prepared, as its text changes only with the rows tables.
import type postgres from 'postgres';
import { ident } from '../../../../db/quote.js';
import type { RowsTable } from '../../../state.js';

export async function outboxWaiting(
  source: postgres.Sql,
  deployment: number,
  tables: readonly RowsTable[],
): Promise<boolean> {
  const [row] = await source.unsafe<{ waiting: boolean }[]>(
    `select (select coalesce(max(id), 0) from nudge.deployments)::float8 <> $1
            or exists (select 1 from nudge.event_log)${tables
              .map((t) => `\n            or exists (select 1 from nudge.${ident(t.name)})`)
              .join('')} as waiting`,
    [deployment],
    { prepare: true },
  );
  return row?.waiting === true;
}
