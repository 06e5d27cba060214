// When the oldest captured row still waiting for the pump was captured: in
// nudge.event_log (captured_at) or any rows table ("nudge:at"). The
// overview's lag; a status figure, read when asked. Rows tables have no
// index, but the pump keeps them near-empty. "nudge:at" is cast as the
// pump reads it (claim-captures.ts): one retyped by hand still counts.
import type postgres from 'postgres';
import { ident } from '../../../../db/quote.js';
import type { RowsTable } from '../../../state.js';

export async function oldestCapture(
  source: postgres.Sql,
  tables: readonly RowsTable[],
): Promise<Date | null> {
  const [row] = await source.unsafe<{ at: Date | null }[]>(
    `select least((select min(captured_at) from nudge.event_log)${tables
      .map((t) => `, (select min("nudge:at"::timestamptz) from nudge.${ident(t.name)})`)
      .join('')}) as at`,
  );
  return row?.at ?? null;
}
