// The experiment's rows in the engine store (migration 017): a contact's
// first entry into a feature with a goal, with its group, and its conversion,
// recorded once. Both are written in the lane's transaction, so an entry and
// its decisions commit together, and a conversion with the event that made
// the goal hold. Re-entries keep the first row: the unit of the experiment is
// the contact, and its window runs from its first entry (docs/experiments.md).
// Goals on the contact alone are also swept (sweepConversions): an attribute
// set through the API or by a `set` action comes with no event for the lanes.
import type postgres from 'postgres';
import { compileSql, numberedParams } from '../../conditions/index.js';
import { type AttributeTypes, fieldSql } from '../../contacts/query.js';
import type { FeatureSet, Row, RuntimeFeature } from '../match/features.js';
import { convertExperimentEntries } from '../sql/convert-experiment-entries.js';
import { openExperimentEntries } from '../sql/open-experiment-entries.js';
import { sweepExperimentEntries } from '../sql/sweep-experiment-entries.js';
import { converts, type OpenEntry } from './goal.js';
import type { EventFacts } from './machine.js';

/** Records a contact's entry with its group; a later entry of the same contact changes nothing. */
export { insertExperimentEntry as recordEntry } from '../sql/insert-experiment-entry.js';

const goalFeatures = new WeakMap<FeatureSet, string[]>();

/** The names of the features with a goal (computed once per feature set). */
function measuredFeatures(features: FeatureSet): string[] {
  let names = goalFeatures.get(features);
  if (!names) {
    names = features.all().flatMap((f) => (f.goal ? [f.name] : []));
    goalFeatures.set(features, names);
  }
  return names;
}

/**
 * Records the conversions an event causes: for each contact it concerns
 * (those the event's features resolved, those live sync changed, and the
 * contact of an event tracked through the API), the open entries whose goal
 * now holds get converted_at = now. One indexed query per event, and only
 * when some feature has a goal.
 */
export async function recordConversions(
  env: { tx: postgres.TransactionSql; now: Date },
  features: FeatureSet,
  facts: EventFacts,
  seen: ReadonlyMap<string, Row | null>,
  synced: readonly string[],
  contactRow: (contactId: string) => Promise<Row | null>,
): Promise<void> {
  const measured = measuredFeatures(features);
  if (measured.length === 0) return;
  const ids = new Set([...seen.keys(), ...synced]);
  const tracked = facts.name ? facts.newRow?.contact_id : undefined;
  if (typeof tracked === 'string') ids.add(tracked);
  if (ids.size === 0) return;
  const open = await openExperimentEntries(env.tx, [...ids], measured, env.now);
  if (open.length === 0) return;
  const rows = new Map(seen);
  const converted: OpenEntry[] = [];
  for (const entry of open) {
    const goal = features.get(entry.feature)?.goal;
    if (!goal) continue;
    if (!rows.has(entry.contact_id)) rows.set(entry.contact_id, await contactRow(entry.contact_id));
    if (converts(goal, entry, facts, rows.get(entry.contact_id) ?? null, env.now)) {
      converted.push(entry);
    }
  }
  if (converted.length === 0) return;
  await convertExperimentEntries(env.tx, converted, env.now, facts.inboxId);
}

/** The features whose goal reads only the contact (no event): those a sweep can decide in SQL. */
function sweepable(features: FeatureSet): RuntimeFeature[] {
  return features.all().filter((f) => f.goal?.spec.when && f.goal.spec.event === undefined);
}

/**
 * Converts, at `now`, the open entries (not converted, deadline not passed)
 * of features whose goal reads only the contact, where the contact's row
 * satisfies the goal now: the goal compiled to SQL over the contact book
 * (the same compiler segments use), one statement per feature. Run by the
 * engine's housekeeping every few seconds, and by the report before it
 * counts; the conversion time is the sweep's. Returns how many converted.
 */
export async function sweepConversions(
  sql: postgres.Sql,
  features: FeatureSet,
  attributes: AttributeTypes,
  now: Date,
): Promise<number> {
  let converted = 0;
  for (const feature of sweepable(features)) {
    const params = numberedParams(1, now);
    const at = params.now();
    const name = params.param(feature.name, 'text');
    const where = compileSql(feature.goal!.spec.when!, {
      column: (ref) => fieldSql(ref, { attributes, params }),
      ...params,
    });
    const rows = await sweepExperimentEntries(sql, { at, feature: name, where }, params.values);
    converted += rows.length;
  }
  return converted;
}
