// capture: replication's part of GET /v1/overview (the dashboard's first
// page): the slot's WAL retention and lag, under the transport's name.
//
// `overview` is a member of the Transport port declared here by declaration
// merging, until port.ts declares it beside the doctor's lines.
import type postgres from 'postgres';
import type { Overview, Unreadable } from '../../../client/dashboard.js';
import type { LoadedConfig } from '../../../config/load.js';
import { replicationFacts } from './doctor.js';

declare module '../port.js' {
  interface Transport {
    /**
     * Its part of GET /v1/overview, which the dashboard reads under the
     * transport's name (replication: the slot's health); undefined for none.
     */
    overview?(context: {
      source: postgres.Sql;
      project: LoadedConfig;
    }): Promise<object | undefined>;
  }
}

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
