// Which lane (partition) an event goes to: the contact it is about, as the
// first candidate feature's contact mapping reads it, so all events of one
// contact are processed in order by one lane. Events no feature maps to a
// contact spread by their row id.
import { candidatesOf, identityOf } from '../match/candidates.js';
import type { FeatureSet } from '../match/features.js';
import { type InboxEvent, partitionOf, type Router } from './inbox.js';

export function makeRouter(features: FeatureSet, partitions: number): Router {
  return (event: InboxEvent) => {
    if (partitions <= 1) return 0;
    const row = {
      schema_name: event.schema ?? null,
      table_name: event.table ?? null,
      operation: event.operation ?? null,
      event_name: event.eventName ?? null,
      new_row: event.newRow ?? null,
      old_row: event.oldRow ?? null,
    };
    for (const feature of candidatesOf(features, row)) {
      const identity = identityOf(feature, { new: row.new_row, old: row.old_row });
      const key = identity.authUserId ?? identity.email ?? identity.phone ?? identity.externalId;
      if (key) return partitionOf(String(key).toLowerCase(), partitions);
    }
    const id = (event.newRow ?? event.oldRow)?.id;
    return partitionOf(id === undefined ? event.sourceKey : String(id), partitions);
  };
}
