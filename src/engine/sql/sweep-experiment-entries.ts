// One feature's open experiment entries converted where the contact's row
// satisfies the goal now: `where` is the goal compiled to SQL over the
// contact book, `at` and `feature` numbered parameters among its `values`
// (conditions/ numberedParams). Run by the sweep every few seconds.
import type postgres from 'postgres';

export function sweepExperimentEntries(
  sql: postgres.Sql,
  statement: { at: string; feature: string; where: string },
  values: readonly unknown[],
): Promise<postgres.Row[]> {
  const { at, feature, where } = statement;
  return sql.unsafe(
    `UPDATE nudge_engine.experiment_entries e SET converted_at = ${at}
         FROM nudge_engine.contacts c
        WHERE e.feature = ${feature} AND e.converted_at IS NULL
          AND e.entered_at <= ${at} AND e.deadline >= ${at}
          AND c.id = e.contact_id AND c.deleted_at IS NULL AND (${where})
       RETURNING e.contact_id`,
    values as postgres.ParameterOrJSON<never>[],
  );
}
