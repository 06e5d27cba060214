// The open experiment entries (not converted, deadline not passed) of some
// contacts in the features with a goal: what an event may convert. One
// indexed query per event, only when some feature has a goal.
import type postgres from 'postgres';
import type { OpenEntry } from '../journeys/goal.js';

export function openExperimentEntries(
  tx: postgres.TransactionSql,
  contactIds: string[],
  features: string[],
  now: Date,
): Promise<OpenEntry[]> {
  return tx<OpenEntry[]>`
    select feature, contact_id, entered_at, deadline, entry_inbox_id::float8 as entry_inbox_id
      from nudge_engine.experiment_entries
     where contact_id = any(${contactIds}::uuid[]) and converted_at is null
       and feature = any(${features}::text[]) and deadline >= ${now}`;
}
