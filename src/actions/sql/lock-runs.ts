// Runs read and locked (FOR UPDATE, in id order) for an attempt: a second job
// for a run waits here for the first's outcome, so a run is never attempted
// twice at once.
import type postgres from 'postgres';
import type { ActionRun } from '../types.js';

/** A row of nudge_engine.action_runs as an attempt reads it. */
export interface RunRow {
  id: string;
  key: string;
  feature: string | null;
  contact_id: string | null;
  stage: string | null;
  kind: ActionRun['kind'];
  params: ActionRun['params'];
  context: ActionRun['context'] | null;
  status: 'pending' | 'retrying' | 'succeeded' | 'dead' | 'skipped';
  attempts: number;
}

export function lockRuns(tx: postgres.TransactionSql, ids: number[]): Promise<RunRow[]> {
  return tx<RunRow[]>`
    select id, key, feature, contact_id, stage, kind, params, context, status, attempts
      from nudge_engine.action_runs where id = any(${ids}::bigint[])
     order by id for update`;
}
