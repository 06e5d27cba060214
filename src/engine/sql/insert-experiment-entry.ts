// A contact's entry into a feature with a goal, with its group, in the lane's
// transaction; the first entry stays (the unit of an experiment is the
// contact, its window runs from its first entry), so a re-entry changes nothing.
import type postgres from 'postgres';
import type { MeasuredEntry } from '../journeys/experiment.js';

export async function insertExperimentEntry(
  tx: postgres.TransactionSql,
  entry: MeasuredEntry,
): Promise<void> {
  await tx`
    insert into nudge_engine.experiment_entries
           (feature, contact_id, "group", entered_at, deadline, entry_inbox_id)
    values (${entry.feature}, ${entry.contactId}, ${entry.group}, ${entry.enteredAt},
            ${entry.deadline}, ${entry.inboxId})
    on conflict (feature, contact_id) do nothing`;
}
