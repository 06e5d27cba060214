// capture: replication's part of GET /v1/overview (the dashboard's first
// page) and of GET /metrics: the slot's WAL retention and lag.
import type postgres from 'postgres';
import type { Overview, Unreadable } from '../../../client/dashboard.js';
import type { LoadedConfig } from '../../../config/load.js';
import type { TransportGauge } from '../port.js';
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

/**
 * The slot's gauges on GET /metrics: what an alert watches before the WAL
 * the slot holds back fills the disk (nothing, when the project does not
 * use capture: replication).
 */
export async function slotGauges(context: {
  source: postgres.Sql;
  project: LoadedConfig;
}): Promise<TransportGauge[]> {
  const health = await replicationFacts(context.source, context.project);
  if (!health) return [];
  const labels = { slot: health.slot };
  const gauge = (name: string, help: string, value: number | boolean) => ({
    name: `replication_slot_${name}`,
    help,
    value: Number(value),
    labels,
  });
  return [
    gauge(
      'exists',
      'Whether the replication slot exists (0: deploy has not made it, or it was dropped)',
      health.exists,
    ),
    gauge('active', 'Whether an engine process is streaming the slot now', health.active),
    gauge(
      'retained_bytes',
      'WAL the server keeps for the slot, in bytes: it grows while nobody consumes it',
      health.retainedBytes,
    ),
    gauge(
      'lag_bytes',
      "WAL written since the consumer's last acknowledged position, in bytes",
      health.lagBytes,
    ),
    gauge(
      'over_limit',
      'Whether the retained WAL is over capture.replication.warn_retained_mb',
      health.overLimit,
    ),
  ];
}
