// What capture: replication has captured but not yet stored in the inbox:
// the WAL written before a moment that the slot is not acknowledged past
// (the consumer acknowledges only what the inbox holds). `nudge dev`'s story
// waits on it before a step has settled (dev/story.ts).
import type postgres from 'postgres';
import type { LoadedConfig } from '../../../config/load.js';

export async function slotUnstored({
  source,
  project,
}: {
  source: postgres.Sql;
  project: LoadedConfig;
}): Promise<() => Promise<number>> {
  const { slot } = project.config.capture.replication;
  const [written] = await source<
    { lsn: string }[]
  >`select pg_current_wal_insert_lsn()::text as lsn`;
  return async () => {
    const [row] = await source<{ behind: number }[]>`
      select count(*)::int as behind from pg_replication_slots
       where slot_name = ${slot} and database = current_database()
         and confirmed_flush_lsn < ${written!.lsn}::pg_lsn`;
    return row?.behind ?? 0;
  };
}
