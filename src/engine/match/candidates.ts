// Which features an inbox event is for, and whom: the candidates indexed by
// its table and operation or its event name (features.ts), each feature's
// contact mapping read from the row, the trigger condition worked out once per
// event, and the features whose waiting journeys react to other events. Pure:
// the lanes, the router and the backtest ask the same questions.
import { namedEventsOf } from '../../capture/named-events.js';
import type { ContactIdentity } from '../../contacts/store.js';
import type { InboxRow } from '../intake/inbox.js';
import type { FeatureSet, Predicate, Row, RuntimeFeature } from './features.js';
import { readField } from './features.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The features whose journeys react to events other than their trigger
 * (exit.when, or a stage with a `when` / `until` transition). Only their
 * journeys are looked up after an event; when there are none, nothing is.
 */
const reactiveCache = new WeakMap<FeatureSet, Set<string>>();
export function reactiveFeatures(features: FeatureSet): Set<string> {
  let names = reactiveCache.get(features);
  if (!names) {
    names = new Set(
      features
        .all()
        .filter(
          (f) =>
            f.exit !== undefined ||
            [...f.stages.values()].some((s) => s.transitions.some((t) => t.when || t.until)),
        )
        .map((f) => f.name),
    );
    reactiveCache.set(features, names);
  }
  return names;
}

/** The features an inbox event is a candidate for. */
export function candidatesOf(
  features: FeatureSet,
  row: Pick<
    InboxRow,
    'schema_name' | 'table_name' | 'operation' | 'event_name' | 'new_row' | 'old_row'
  >,
): RuntimeFeature[] {
  // Rows a scheduled feature or a backfill entered: addressed to that feature alone.
  const eventName = row.event_name;
  const addressed = eventName ? /^(?:schedule|backfill):/.exec(eventName) : null;
  if (addressed) {
    const feature = features.get(eventName!.slice(addressed[0].length));
    return feature ? [feature] : [];
  }
  const { schema_name: schema, table_name: table, operation } = row;
  const captured = schema && table && operation;
  const byTable = captured ? features.forTable(schema, table, operation) : [];
  const named = captured ? namedEventsOf(schema, table, operation, row.new_row, row.old_row) : [];
  let found = byTable;
  if (named.length > 0 || eventName) {
    found = [...byTable];
    for (const name of named) found.push(...features.forEvent(name));
    if (eventName) found.push(...features.forEvent(eventName));
  }
  // A new list, without duplicates (a feature can be found by its table and a name).
  return found.length < 2 ? found.slice() : [...new Set(found)];
}

/**
 * Who the event is about, as the feature's contact mapping reads it. A
 * deleted row has no `new`: there the mapping's new.* read the row that was
 * deleted, the only row there is (`contact: { id: new.user_id }` on
 * `on: [insert, delete]` finds the same contact for both).
 */
export function identityOf(
  feature: RuntimeFeature,
  given: { new?: Row | null; old?: Row | null },
): ContactIdentity {
  const rows = given.new == null && given.old != null ? { new: given.old, old: given.old } : given;
  const refs = feature.feature.contact;
  const identity: ContactIdentity = {};
  const id = refs.id ? text(readField(refs.id, rows)) : undefined;
  if (id) {
    if (UUID.test(id)) identity.authUserId = id;
    else identity.externalId = id;
  }
  if (refs.email) identity.email = text(readField(refs.email, rows)) ?? null;
  if (refs.phone) identity.phone = text(readField(refs.phone, rows)) ?? null;
  return identity;
}

/** A mapped value as text; null, missing and '' are no value. */
function text(value: unknown): string | undefined {
  return value === null || value === undefined || value === '' ? undefined : String(value);
}

const verdicts = new WeakMap<InboxRow, Map<string, ReturnType<Predicate['test']>>>();

/**
 * A feature's trigger condition on an event, when it reads no contact:
 * worked out once per (event, feature) — batch.ts asks before stepping to
 * know which contacts to look up, handleEvent asks again for the decision.
 */
export function triggerVerdict(feature: RuntimeFeature, row: InboxRow, now: Date) {
  let byFeature = verdicts.get(row);
  if (!byFeature) {
    byFeature = new Map();
    verdicts.set(row, byFeature);
  }
  let verdict = byFeature.get(feature.name);
  if (!verdict) {
    verdict = feature.when!.test({ now, new: row.new_row, old: row.old_row, contact: null });
    byFeature.set(feature.name, verdict);
  }
  return verdict;
}
