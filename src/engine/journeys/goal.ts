// Whether an event converts a contact, pure: a feature's goal (a condition on
// the contact, an event of the contact, or both) holds within its time limit
// after the contact's first entry. The lanes ask this of every event for a
// contact with an open entry (experiment-store.ts records the answer once);
// nothing here reads the store or a clock.
//
// Times are the engine's (`now` of the step, which `nudge clock advance`
// moves), not the event's occurred_at: entry and conversion are measured on
// the same clock. The event that made the contact enter never converts it
// for an event goal (it is the cause of the entry, not its effect); for a
// goal on the contact alone, a contact for whom it already holds at entry
// converts at once (docs/experiments.md).
import { canonicalEventName, namedEventsOf } from '../../capture/named-events.js';
import type { Operation } from '../../capture/triggers.js';
import { compileJs, type EvaluationContext, type Verdict } from '../../conditions/index.js';
import type { AttributeTypes } from '../../features/check.js';
import type { FeatureGoal } from '../../features/experiment.js';
import { typeResolver } from '../../features/types.js';
import type { Row } from '../match/features.js';
import type { EventFacts } from './machine.js';

/** A goal ready to evaluate: the spec and its condition compiled. */
export interface RuntimeGoal {
  spec: FeatureGoal;
  test?: (ctx: EvaluationContext) => Verdict;
}

/** A contact's entry into a measured feature whose goal has not held yet. */
export interface OpenEntry {
  feature: string;
  contact_id: string;
  entered_at: Date;
  /** entered_at + the goal's within. */
  deadline: Date;
  /** The inbox event that made the contact enter (null: none, e.g. a test). */
  entry_inbox_id: number | null;
}

/**
 * Compiles a goal's condition. A goal on the contact alone uses the
 * feature's field types (`typeOf`); a goal with an event reads that event's
 * properties, typed from the literals it compares them with.
 */
export function compileGoal(
  goal: FeatureGoal,
  attributes: AttributeTypes,
  typeOf: Parameters<typeof compileJs>[1]['typeOf'],
): RuntimeGoal {
  if (!goal.when) return { spec: goal };
  const types = goal.event ? typeResolver(undefined, attributes, [goal.when]) : typeOf;
  return { spec: goal, test: compileJs(goal.when, { typeOf: types }) };
}

/** The named events a step's event is (its own name, or what a captured row change means). */
function namesOf(facts: EventFacts): string[] {
  if (facts.name) return [canonicalEventName(facts.name)];
  if (!facts.schema || !facts.table || !facts.operation) return [];
  return namedEventsOf(
    facts.schema,
    facts.table,
    facts.operation as Operation,
    facts.newRow,
    facts.oldRow,
  );
}

/** Whether this event, seen at `now`, converts the entry. */
export function converts(
  goal: RuntimeGoal,
  entry: OpenEntry,
  facts: EventFacts,
  contact: Row | null,
  now: Date,
): boolean {
  const at = now.getTime();
  if (at < new Date(entry.entered_at).getTime() || at > new Date(entry.deadline).getTime()) {
    return false;
  }
  if (goal.spec.event !== undefined) {
    if (facts.inboxId !== null && facts.inboxId === entry.entry_inbox_id) return false;
    if (!namesOf(facts).includes(canonicalEventName(goal.spec.event))) return false;
  }
  if (!goal.test) return true;
  return goal.test({ now, new: facts.newRow, old: facts.oldRow, contact }).result;
}
