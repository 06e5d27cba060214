// capture: replication as the registry (../index.ts) sees it: publications
// and a slot instead of triggers (desired.ts, and objects.ts for plan,
// deploy and teardown), one consumer in each of `nudge
// start` and `nudge worker` (one of them leads: consumer.ts) with what the
// deployed plan captures, its doctor lines (doctor.ts), the slot's health
// on the dashboard's overview (overview.ts) and what it has not stored yet
// (unstored.ts).
import type postgres from 'postgres';
import type { LoadedConfig } from '../../../config/load.js';
import type { Router } from '../../../engine/intake/inbox.js';
import type { DesiredCaptures, FeaturesAt, Transport } from '../port.js';
import { type Consumer, type ConsumerOptions, startConsumer } from './consumer.js';
import { refuseEnrich, refuseKeylessPartitionFeatures, replicationCaptures } from './desired.js';
import { ownershipCheck, replicationChecks } from './doctor.js';
import { replicationObjects } from './objects.js';
import { slotGauges, slotOverview } from './overview.js';
import { slotUnstored } from './unstored.js';

export { type Consumer, startConsumer } from './consumer.js';
export { type SlotHealth, slotHealth } from './slot.js';

function startReplication(
  project: LoadedConfig,
  sourceUrl: string,
  desired: DesiredCaptures,
  feed: {
    engine: postgres.Sql;
    route: Router;
    log: ConsumerOptions['log'];
    onStored?: (lanes: Set<number>, more: boolean) => void;
    announceAs?: string;
    features?: FeaturesAt;
  },
): (Consumer & { follow(desired: DesiredCaptures): void }) | undefined {
  if (project.config.capture.transport !== 'replication' || !desired.replication) return undefined;
  const { slot, warn_retained_mb } = project.config.capture.replication;
  const consumer = startConsumer({
    url: sourceUrl,
    slot,
    captures: desired.replication.captures,
    exclude: project.config.capture.exclude_columns,
    warnRetainedMb: warn_retained_mb,
    ...feed,
  });
  return {
    ...consumer,
    // A deploy since the start: what each (table, operation) keeps is the new one's.
    follow: (next) => consumer.capture(next.replication?.captures ?? []),
  };
}

export const replicationTransport: Transport = {
  triggers: false,
  capturedBy: 'replication',
  objects: replicationObjects,
  capturesWith: 'its own publications and slot',
  async desired({ project, sql, features, needs }) {
    refuseEnrich(features, needs);
    refuseKeylessPartitionFeatures(features, needs);
    return replicationCaptures(project, sql, needs);
  },
  engine: {
    start: ({ project, sourceUrl, desired, engine, route, log, announceAs, onStored, features }) =>
      startReplication(project, sourceUrl, desired, {
        engine,
        route,
        log,
        announceAs,
        onStored,
        ...(features ? { features } : {}),
      }),
  },
  doctor: {
    // No trigger: publications and replica identities, which need the tables' owner.
    tables: ownershipCheck,
    section: ['Replication', ({ sql, project, say }) => replicationChecks(sql, project, say)],
  },
  overview: slotOverview,
  gauges: slotGauges,
  unstored: slotUnstored,
};
