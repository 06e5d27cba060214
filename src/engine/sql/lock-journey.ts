// One journey, read and locked for a step taken row by row.
import type postgres from 'postgres';
import type { JourneyRow } from '../journeys/machine.js';
import { JOURNEY_COLUMNS } from './journey-columns.js';

export async function lockJourney(
  tx: postgres.TransactionSql,
  feature: string,
  contactId: string,
): Promise<JourneyRow | undefined> {
  const [row] = await tx<JourneyRow[]>`
    select ${tx.unsafe(JOURNEY_COLUMNS)}
      from nudge_engine.journeys where feature = ${feature} and contact_id = ${contactId} for update`;
  return row;
}
