// capture: replication from the engine's side: `nudge start` and `nudge
// worker` start one consumer each (one of them leads: consumer.ts) when the
// project captures by replication, with what the deployed plan captures.
import type postgres from 'postgres';
import type { LoadedConfig } from '../../../config/load.js';
import type { Router } from '../../../engine/intake/inbox.js';
import { type Consumer, type ConsumerOptions, startConsumer } from './consumer.js';
import type { DesiredCaptures } from './publication.js';

export { type Consumer, startConsumer } from './consumer.js';
export { type SlotHealth, slotHealth } from './slot.js';

export function startReplication(
  project: LoadedConfig,
  sourceUrl: string,
  desired: DesiredCaptures,
  feed: {
    engine: postgres.Sql;
    route: Router;
    log: ConsumerOptions['log'];
    onStored?: (lanes: Set<number>, more: boolean) => void;
    announceAs?: string;
  },
): Consumer | undefined {
  if (project.config.capture.transport !== 'replication' || !desired.replication) return undefined;
  const { slot, warn_retained_mb } = project.config.capture.replication;
  return startConsumer({
    url: sourceUrl,
    slot,
    captures: desired.replication.captures,
    exclude: project.config.capture.exclude_columns,
    warnRetainedMb: warn_retained_mb,
    ...feed,
  });
}
