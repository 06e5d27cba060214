// The journeys of a batch's (feature, contact) pairs, read and locked in one
// statement before the batch steps (journeys/store.ts prefetchJourneys).
import type postgres from 'postgres';
import type { JourneyRow } from '../journeys/machine.js';
import { JOURNEY_COLUMNS } from './journey-columns.js';

export function lockJourneys(
  tx: postgres.TransactionSql,
  pairs: { feature: string; contactId: string }[],
): Promise<JourneyRow[]> {
  return tx<JourneyRow[]>`
    select ${tx.unsafe(JOURNEY_COLUMNS)} from nudge_engine.journeys
     where (feature, contact_id) in (
             select * from unnest(${pairs.map((p) => p.feature)}::text[], ${pairs.map((p) => p.contactId)}::uuid[]))
     order by feature, contact_id
       for update`;
}
