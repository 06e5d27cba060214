// A journey ended as exited because its feature is no longer active (removed
// or drafted), so its timer stops waking it. updated_at moves with it, as
// every other step's does (a contact's timeline places the journey by it).
import type postgres from 'postgres';

export function endJourney(
  tx: postgres.TransactionSql,
  feature: string,
  contactId: string,
  at: Date,
): postgres.PendingQuery<postgres.Row[]> {
  return tx`update nudge_engine.journeys set status = 'exited', ended_at = ${at}, updated_at = ${at},
                                             wake_at = null
             where feature = ${feature} and contact_id = ${contactId}`;
}
