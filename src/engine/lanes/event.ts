// One inbox event, as every candidate feature sees it: match the trigger (by
// the rules in match/rules.ts), find the contact, step the journey, and give
// journeys of that contact in other features the chance to react. Runs inside
// the lane's transaction (process.ts), collecting decisions and actions in the
// StepEnv it is given.
import type postgres from 'postgres';
import { findContact } from '../../contacts/sql/find-contact.js';
import {
  type ContactIdentity,
  contactRow,
  identityKey,
  keysOf,
  resolveContact,
} from '../../contacts/store.js';
import type { InboxRow } from '../intake/inbox.js';
import { recordConversions } from '../journeys/experiment-store.js';
import { type Decision, type EventFacts, stepWithoutContact } from '../journeys/machine.js';
import {
  advanceOnEvent,
  handleNonTriggerEvent,
  handleTriggerEvent,
  loadActiveJourneys,
  type StepEnv,
} from '../journeys/store.js';
import { candidatesOf, identityOf, reactiveFeatures, triggerVerdict } from '../match/candidates.js';
import type { Row, RuntimeFeature } from '../match/features.js';
import { beforeContact, type EventRows, withContact } from '../match/rules.js';
import type { ProcessContext } from './context.js';
import { contactNamed, skippedTogether } from './decision-log.js';

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
  /** The contact an identity names, never created (a paused feature's skip). */
  find(tx: postgres.TransactionSql, identity: ContactIdentity): Promise<string | undefined>;
}

function directContacts(ctx: ProcessContext): ContactSource {
  return {
    async resolve(tx, identity) {
      const { id, created } = await resolveContact(tx, identity);
      if (created) await ctx.onContactsCreated?.(tx, [{ id, identity }]);
      return id;
    },
    row: (tx, contactId) => contactRow(tx, contactId),
    find: (tx, identity) => findContact(tx, keysOf(identity)),
  };
}

/** An inbox event as a journey keeps it and its templates see it (also the backtest's). */
export function factsOf(row: InboxRow): EventFacts {
  return {
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
}

/**
 * Steps every candidate feature of one inbox event, then the waiting
 * journeys of the contacts it involves in the other features. `synced`: the
 * contacts live sync changed for this event (live-sync.ts); their waiting
 * journeys re-check like those of the contacts the features resolved.
 */
export async function handleEvent(
  env: StepEnv,
  ctx: ProcessContext,
  row: InboxRow,
  contacts: ContactSource = directContacts(ctx),
  synced: string[] = [],
): Promise<void> {
  const facts = factsOf(row);
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
  // (see skippedTogether), where the first of them would have been. A paused
  // feature's are kept apart, in a list made only when one is paused: whom
  // they were for is looked up once the loop is done (pausedSkips).
  const skips = new Map<string, string>();
  let pausedSkipped: PausedSkip[] | undefined;
  let skipsAt = -1;
  const skip = (feature: RuntimeFeature, reason: string, paused: boolean) => {
    if (skipsAt < 0) skipsAt = env.decisions.length;
    if (!paused) {
      skips.set(feature.name, reason);
      return;
    }
    pausedSkipped ??= [];
    pausedSkipped.push({ feature, reason });
  };

  // The matcher's rules (match/rules.ts); the contact-free condition once per event and feature.
  const contactFreeVerdict = (feature: RuntimeFeature) => triggerVerdict(feature, row, env.now);
  for (const feature of candidatesOf(ctx.features, row)) {
    triggered.add(feature.name);
    const paused = ctx.features.isPaused(feature);
    const before = beforeContact(feature, rows, paused, contactFreeVerdict);
    if (before.outcome === 'skipped') {
      skip(feature, before.reason, paused);
      continue;
    }
    if (before.outcome === 'without contact') {
      runWithoutContact(env, feature, facts);
      continue;
    }
    const contactId = await contacts.resolve(env.tx, before.identity);
    const contact = seen.has(contactId)
      ? (seen.get(contactId) ?? null)
      : await contacts.row(env.tx, contactId);
    seen.set(contactId, contact);
    const match = withContact(feature, rows, contact, env.now);
    decide(feature.name, contactId, match.outcome, match.reason);
    if (match.outcome === 'matched') {
      await handleTriggerEvent(env, feature, contactId, contact, facts);
    } else if (reactiveFeatures(ctx.features).has(feature.name)) {
      // Its condition on the contact was false: no entry, but a journey of
      // the contact waiting on events (exit.when, `when`, `until`) sees it.
      await handleNonTriggerEvent(env, feature, contactId, contact, facts);
    }
  }

  // Where the first skip was: the row of skips, then the paused ones' own.
  const whom = pausedSkipped && (await pausedSkips(env, contacts, row.id, rows, pausedSkipped));
  if (whom?.own.length) env.decisions.splice(skipsAt, 0, ...whom.own);
  for (const { feature, reason } of whom?.shared ?? []) skips.set(feature.name, reason);
  if (skips.size > 0) {
    env.decisions.splice(skipsAt, 0, skippedTogether(env.now, row.id, skips, whom?.names));
  }
  // Goals (docs/experiments.md): whether this event converts these contacts.
  await recordConversions(env, ctx.features, facts, seen, synced, (id) => contacts.row(env.tx, id));

  // Journeys of these contacts in other features may be waiting on this event.
  const reactive = [...reactiveFeatures(ctx.features)].filter((name) => !triggered.has(name));
  if (reactive.length === 0) return;
  for (const contactId of synced) {
    if (!seen.has(contactId)) seen.set(contactId, await contacts.row(env.tx, contactId));
  }
  for (const [contactId, contact] of seen) {
    for (const journey of await loadActiveJourneys(env, contactId, reactive)) {
      const feature = ctx.features.get(journey.feature);
      if (feature) await advanceOnEvent(env, feature, journey, contact, facts);
    }
  }
}

/** A paused feature's skip of an event, before whom it was for is known. */
interface PausedSkip {
  feature: RuntimeFeature;
  reason: string;
}

/**
 * Whom a paused feature's skips were for. Its contact is looked up, never
 * created (a paused feature changes nothing), after the other features of
 * the event resolved theirs, so one this event created counts; each identity
 * once. A contact the book has is the skip's own decision, with its
 * contact_id: every reader finds it by contact (nudge logs --contact,
 * /v1/decisions?contact=, the contact's timeline). Any other is in `shared`,
 * for the row of skips, named in `names` as its contact mapping reads the
 * event (decision-log.ts, SkippedFor). In a batch (batch.ts), the contacts of
 * the whole batch are in the book by then.
 */
async function pausedSkips(
  env: StepEnv,
  contacts: ContactSource,
  inboxId: number,
  rows: EventRows,
  paused: PausedSkip[],
): Promise<{ own: Decision[]; shared: PausedSkip[]; names: Record<string, string> }> {
  const identities = paused.map(({ feature }) => identityOf(feature, rows));
  const keys = identities.map(identityKey);
  const lookups = new Map<string, Promise<string | undefined>>();
  identities.forEach((identity, i) => {
    const key = keys[i]!;
    if (key !== NO_IDENTITY && !lookups.has(key)) lookups.set(key, contacts.find(env.tx, identity));
  });
  const found = new Map(
    await Promise.all([...lookups].map(async ([key, lookup]) => [key, await lookup] as const)),
  );
  const own: Decision[] = [];
  const shared: PausedSkip[] = [];
  const names: Record<string, string> = {};
  paused.forEach((skip, i) => {
    const contactId = found.get(keys[i]!);
    if (contactId) {
      own.push({
        at: env.now,
        inboxId,
        feature: skip.feature.name,
        contactId,
        outcome: 'skipped',
        reason: skip.reason,
      });
      return;
    }
    shared.push(skip);
    const name = contactNamed(identities[i]!);
    if (name) names[skip.feature.name] = name;
  });
  return { own, shared, names };
}

/** The key of an identity with no field: no contact to look up. */
const NO_IDENTITY = identityKey({});

/** A feature without a contact mapping (e.g. heartbeat): its first stage's actions, once per event. */
function runWithoutContact(env: StepEnv, feature: RuntimeFeature, facts: EventFacts): void {
  const { decisions, actions } = stepWithoutContact(feature, facts, env.now);
  env.decisions.push(...decisions);
  env.actions.push(...actions);
}
