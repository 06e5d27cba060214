// The decisions of a transaction, inserted in one statement (not sent yet:
// it goes with the transaction's other writes; undefined for none). The one
// insert into the decision log: the engine's decisions, and the attempts the
// actions record (actions/task.ts: outcome attempt, skipped or deferred).
import type postgres from 'postgres';
import { records } from '../../db/records.js';
import type { Decision } from '../journeys/machine.js';

/** A row of the decision log: a journey's decision, or an action attempt's. */
export type DecisionRow = Omit<Decision, 'outcome'> & {
  outcome: Decision['outcome'] | 'attempt' | 'deferred';
};

/** The decisions' insert, a statement not sent yet (undefined for none). */
export function insertDecisions(
  tx: postgres.TransactionSql,
  decisions: readonly DecisionRow[],
): postgres.PendingQuery<postgres.Row[]> | undefined {
  if (decisions.length === 0) return undefined;
  return tx`
    insert into nudge_engine.decisions (at, inbox_id, feature, contact_id, outcome, reason, detail)
    select at, inbox_id, feature, contact_id, outcome, reason, detail
      from ${records(
        tx,
        decisions.map((d) => ({
          at: d.at,
          inbox_id: d.inboxId,
          feature: d.feature,
          contact_id: d.contactId,
          outcome: d.outcome,
          reason: d.reason,
          detail: d.detail ?? null,
        })),
        'at timestamptz, inbox_id bigint, feature text, contact_id uuid, outcome text, reason text, detail jsonb',
      )}`;
}
