// Experiment entries converted by an event, in one statement: each (feature,
// contact) pair gets the conversion's time and event, once (an entry already
// converted keeps its first conversion).
import type postgres from 'postgres';

export async function convertExperimentEntries(
  tx: postgres.TransactionSql,
  entries: readonly { feature: string; contact_id: string }[],
  now: Date,
  inboxId: number | null,
): Promise<void> {
  await tx`
    update nudge_engine.experiment_entries e
       set converted_at = ${now}, converted_inbox_id = ${inboxId}
      from unnest(${entries.map((c) => c.feature)}::text[],
                  ${entries.map((c) => c.contact_id)}::uuid[]) as c(feature, contact_id)
     where e.feature = c.feature and e.contact_id = c.contact_id and e.converted_at is null`;
}
