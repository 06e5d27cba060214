// Whether a lane has unprocessed events: the look an idle lane takes before
// it opens a transaction.
import type postgres from 'postgres';

/** Whether the lane has events waiting (a cheap look, outside any transaction). */
export async function laneWaiting(engine: postgres.Sql, partition: number): Promise<boolean> {
  const [row] = await engine<{ waiting: boolean }[]>`
    select exists (select 1 from nudge_engine.inbox where partition = ${partition} and processed_at is null) as waiting`;
  return row?.waiting === true;
}
