// A contact's active journeys in the given features, locked: the journeys an
// event of that contact may move (exit.when, `when`, `until`).
import type postgres from 'postgres';
import type { JourneyRow } from '../journeys/machine.js';
import { JOURNEY_COLUMNS } from './journey-columns.js';

export function lockActiveJourneys(
  tx: postgres.TransactionSql,
  contactId: string,
  features: string[],
): Promise<JourneyRow[]> {
  return tx<JourneyRow[]>`
    select ${tx.unsafe(JOURNEY_COLUMNS)} from nudge_engine.journeys
     where contact_id = ${contactId} and status = 'active' and feature = any(${features}::text[])
     order by feature for update`;
}
