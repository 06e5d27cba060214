// One inbox event, as every candidate feature sees it: match the trigger,
// find the contact, step the journey, and give journeys of that contact in
// other features the chance to react. Runs inside the lane's transaction
// (process.ts), collecting decisions and actions in the StepEnv it is given.
import type postgres from 'postgres';
import { namedEventsOf } from '../capture/named-events.js';
import type { Operation } from '../capture/triggers.js';
import { explain } from '../conditions/index.js';
import {
  type ContactIdentity,
  contactRow,
  hasIdentity,
  resolveContact,
} from '../contacts/store.js';
import { skippedTogether } from './decision-log.js';
import {
  type FeatureSet,
  type Predicate,
  type Row,
  type RuntimeFeature,
  readField,
} from './features.js';
import type { Decision, EventFacts } from './journeys/machine.js';
import {
  advanceOnEvent,
  handleTriggerEvent,
  lockActiveJourneys,
  type StepEnv,
} from './journeys/store.js';
import type { ProcessContext } from './process.js';

export interface InboxRow {
  id: number;
  source: string;
  schema_name: string | null;
  table_name: string | null;
  operation: Operation | null;
  event_name: string | null;
  new_row: Row | null;
  old_row: Row | null;
  enrichment: unknown;
  occurred_at: Date;
}

/**
 * Where handleEvent gets contacts from: straight from the contact book, one
 * event at a time (`directContacts`), or from what a whole batch resolved
 * beforehand (batch.ts).
 */
export interface ContactSource {
  /** The contact an identity names, created (and filled by onContactsCreated) if there is none. */
  resolve(tx: postgres.TransactionSql, identity: ContactIdentity): Promise<string>;
  /** The contact as conditions and templates see it. */
  row(tx: postgres.TransactionSql, contactId: string): Promise<Row | null>;
}

export function directContacts(ctx: ProcessContext): ContactSource {
  return {
    async resolve(tx, identity) {
      const { id, created } = await resolveContact(tx, identity);
      if (created) await ctx.onContactsCreated?.(tx, [{ id, identity }]);
      return id;
    },
    row: (tx, contactId) => contactRow(tx, contactId),
  };
}

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
  const addressed = /^(?:schedule|backfill):/.exec(row.event_name ?? '');
  if (addressed) {
    const feature = features.get(row.event_name!.slice(addressed[0].length));
    return feature ? [feature] : [];
  }
  const found: RuntimeFeature[] = [];
  if (row.schema_name && row.table_name && row.operation) {
    found.push(...features.forTable(row.schema_name, row.table_name, row.operation));
    for (const name of namedEventsOf(
      row.schema_name,
      row.table_name,
      row.operation,
      row.new_row,
      row.old_row,
    )) {
      found.push(...features.forEvent(name));
    }
  }
  if (row.event_name) found.push(...features.forEvent(row.event_name));
  return [...new Set(found)];
}

/** Who the event is about, as the feature's contact mapping reads it. */
export function identityOf(
  feature: RuntimeFeature,
  rows: { new?: Row | null; old?: Row | null },
): ContactIdentity {
  const refs = feature.feature.contact;
  const text = (value: unknown) =>
    value === null || value === undefined || value === '' ? undefined : String(value);
  const id = refs.id ? text(readField(refs.id, rows)) : undefined;
  return {
    ...(id && UUID.test(id) ? { authUserId: id } : id ? { externalId: id } : {}),
    ...(refs.email ? { email: text(readField(refs.email, rows)) ?? null } : {}),
    ...(refs.phone ? { phone: text(readField(refs.phone, rows)) ?? null } : {}),
  };
}

/**
 * `synced`: the contacts live sync changed for this event (process.ts
 * syncLive); their waiting journeys re-check like those of the contacts the
 * features resolved.
 */
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

export async function handleEvent(
  env: StepEnv,
  ctx: ProcessContext,
  row: InboxRow,
  contacts: ContactSource = directContacts(ctx),
  synced: string[] = [],
): Promise<void> {
  const facts: EventFacts = {
    inboxId: row.id,
    ...(row.event_name ? { name: row.event_name } : {}),
    ...(row.schema_name ? { schema: row.schema_name } : {}),
    ...(row.table_name ? { table: row.table_name } : {}),
    ...(row.operation ? { operation: row.operation } : {}),
    newRow: row.new_row,
    oldRow: row.old_row,
    enrichment: row.enrichment,
    occurredAt: row.occurred_at,
  };
  const rows = { new: row.new_row, old: row.old_row };
  const seen = new Map<string, Row | null>();
  const triggered = new Set<string>();
  const decide = (
    feature: string,
    contactId: string | null,
    outcome: Decision['outcome'],
    reason: string,
  ) => env.decisions.push({ at: env.now, inboxId: row.id, feature, contactId, outcome, reason });
  // Features skipped before a contact was looked up: one line for them all
  // (see skippedTogether), where the first of them would have been.
  const skips = new Map<string, string>();
  let skipsAt = -1;
  const skip = (feature: string, reason: string) => {
    if (skips.size === 0) skipsAt = env.decisions.length;
    skips.set(feature, reason);
  };

  for (const feature of candidatesOf(ctx.features, row)) {
    triggered.add(feature.name);
    if (ctx.features.isPaused(feature)) {
      skip(feature.name, 'paused');
      continue;
    }
    if (feature.when && !feature.readsContact) {
      const verdict = triggerVerdict(feature, row, env.now);
      if (!verdict.result) {
        skip(feature.name, `trigger condition false: ${explain(verdict)}`);
        continue;
      }
    }
    const identity = identityOf(feature, rows);
    if (!hasIdentity(identity)) {
      if (Object.keys(feature.feature.contact).length > 0) {
        skip(feature.name, 'no contact: the row has no value for the contact mapping');
      } else {
        runWithoutContact(env, feature, facts);
      }
      continue;
    }
    const contactId = await contacts.resolve(env.tx, identity);
    const contact = seen.has(contactId)
      ? (seen.get(contactId) ?? null)
      : await contacts.row(env.tx, contactId);
    seen.set(contactId, contact);
    if (feature.when && feature.readsContact) {
      const verdict = feature.when.test({ now: env.now, ...rows, contact });
      if (!verdict.result) {
        decide(feature.name, contactId, 'skipped', `trigger condition false: ${explain(verdict)}`);
        continue;
      }
    }
    decide(feature.name, contactId, 'matched', 'trigger matched');
    await handleTriggerEvent(env, feature, contactId, contact, facts);
  }

  if (skips.size > 0) {
    env.decisions.splice(skipsAt, 0, skippedTogether(env.now, row.id, skips));
  }

  // Journeys of these contacts in other features may be waiting on this event.
  const reactive = [...reactiveFeatures(ctx.features)].filter((name) => !triggered.has(name));
  if (reactive.length === 0) return;
  for (const contactId of synced) {
    if (!seen.has(contactId)) seen.set(contactId, await contacts.row(env.tx, contactId));
  }
  for (const [contactId, contact] of seen) {
    for (const journey of await lockActiveJourneys(env, contactId, reactive)) {
      const feature = ctx.features.get(journey.feature);
      if (feature) await advanceOnEvent(env, feature, journey, contact, facts);
    }
  }
}

/** A feature without a contact mapping (e.g. heartbeat): its first stage's actions, once per event. */
export function runWithoutContact(env: StepEnv, feature: RuntimeFeature, facts: EventFacts): void {
  const stage = feature.stages.get(feature.initial)!;
  env.decisions.push({
    at: env.now,
    inboxId: facts.inboxId,
    feature: feature.name,
    contactId: null,
    outcome: 'matched',
    reason: 'trigger matched (no contact)',
  });
  for (const [index, action] of stage.actions.entries()) {
    if (action.kind === 'goto' || action.kind === 'exit') continue;
    const key = `${feature.name}:event:${facts.inboxId}:${stage.name}:${index}`;
    env.actions.push({
      key,
      feature: feature.name,
      contactId: null,
      stage: stage.name,
      action,
      context: {
        contact: null,
        new: facts.newRow,
        old: facts.oldRow,
        enrichment: facts.enrichment ?? null,
        event: {
          ...(facts.schema ? { schema: facts.schema } : {}),
          ...(facts.table ? { table: facts.table } : {}),
          ...(facts.operation ? { operation: facts.operation } : {}),
          occurred_at: new Date(facts.occurredAt).toISOString(),
        },
        journey: { feature: feature.name, stage: stage.name },
      },
    });
    env.decisions.push({
      at: env.now,
      inboxId: facts.inboxId,
      feature: feature.name,
      contactId: null,
      outcome: 'action',
      reason: `stage ${stage.name}: ${action.kind} queued`,
      detail: { kind: action.kind, key },
    });
  }
}
