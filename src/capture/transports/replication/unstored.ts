// What capture: replication has captured but not yet stored in the inbox:
// the WAL written before a moment that the slot is not acknowledged past
// (the consumer acknowledges only what the inbox holds). `nudge dev`'s story
// waits on it before a step has settled (dev/story.ts).
//
// `unstored` is a member of the Transport port declared here by declaration
// merging, until port.ts declares it beside `engine`.
import type postgres from 'postgres';
import type { LoadedConfig } from '../../../config/load.js';

declare module '../port.js' {
  interface Transport {
    /**
     * Marks what is written now; the function it returns answers how many
     * of the changes written before the mark are not stored in the inbox
     * yet (0 once they all are). None: the transport stores nothing on its
     * own (a trigger writes the outbox in the user's transaction).
     */
    unstored?(context: {
      source: postgres.Sql;
      project: LoadedConfig;
    }): Promise<() => Promise<number>>;
  }
}

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
