// capture: replication's part of GET /v1/overview (the dashboard's first
// page): the slot's WAL retention and lag, under the transport's name.
import type postgres from 'postgres';
import type { Overview, Unreadable } from '../../../client/dashboard.js';
import type { LoadedConfig } from '../../../config/load.js';
import { replicationFacts } from './doctor.js';

type SlotFacts = Exclude<Overview['replication'], Unreadable | undefined>;

/** The slot's health as /v1/overview answers it (client/dashboard.ts Overview.replication). */
export async function slotOverview({
  source,
  project,
}: {
  source: postgres.Sql;
  project: LoadedConfig;
}): Promise<SlotFacts | undefined> {
  const health = await replicationFacts(source, project);
  return (
    health && {
      slot: health.slot,
      exists: health.exists,
      active: health.active,
      retained_bytes: health.retainedBytes,
      lag_bytes: health.lagBytes,
      wal_status: health.walStatus,
      over_limit: health.overLimit,
    }
  );
}
