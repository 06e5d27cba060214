// The lanes at or above `partitions` that still hold unprocessed events: the
// lanes of a larger configuration, whose events reclaimLanes moves (lanes/
// process.ts). Read before the lanes start and every few seconds.
import type postgres from 'postgres';

export async function strandedLanes(engine: postgres.Sql, partitions: number): Promise<number[]> {
  const stranded = await engine<{ partition: number }[]>`
    select distinct partition from nudge_engine.inbox
     where processed_at is null and partition >= ${partitions}`;
  return stranded.map((row) => row.partition);
}
