// New action runs inserted in one statement, skipping keys already known (in
// this batch or before), returning id, key, attempts and `runAt` as run_at
// for the job specs. created_at (and updated_at, the same value) is the
// insert's own time, not its transaction's start: the decisions that queued a
// run are stamped while the transaction runs, and a contact's timeline shows
// the run after them. Not sent yet: sent with a lane's other writes, or
// inside enqueue-runs.ts.
import type { Db } from '../../contacts/store.js';
import { records } from '../../db/records.js';
import type { NewActionRun } from '../types.js';

export const insertRuns = (tx: Db, runs: NewActionRun[], runAt: Date | null) => tx`
  insert into nudge_engine.action_runs
    (key, feature, contact_id, stage, kind, params, context, created_at, updated_at)
  select key, feature, contact_id, stage, kind, params, context, t.at, t.at
    from ${records(
      tx,
      runs.map((r) => ({
        key: r.key,
        feature: r.feature,
        contact_id: r.contactId,
        stage: r.stage,
        kind: r.action.kind,
        params: r.action.params ?? null,
        context: r.context,
      })),
      'key text, feature text, contact_id uuid, stage text, kind text, params jsonb, context jsonb',
    )}
    cross join lateral (select clock_timestamp() as at) t
  on conflict (key) do nothing
  returning id, key, attempts, ${runAt}::timestamptz as run_at`;
