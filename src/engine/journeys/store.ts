// The journeys' store: loads what the state machine (machine.ts) needs for a
// step and writes what it returns, inside the caller's transaction with the
// journey row locked (FOR UPDATE) — so an event and a timer for the same
// journey never interleave, and the step, its decisions and its queued
// actions commit together or not at all. In a batch (batch.ts) the journeys
// are read and locked together beforehand and written in one statement at the
// end (JourneyCache); row by row, each step reads and writes its own.
import type postgres from 'postgres';
import type { NewActionRun } from '../../actions/types.js';
import type { Row, RuntimeFeature } from '../match/features.js';
import { countEmails } from '../sql/count-emails.js';
import { lockActiveJourneys } from '../sql/lock-active-journeys.js';
import { lockJourney } from '../sql/lock-journey.js';
import { lockJourneys } from '../sql/lock-journeys.js';
import { upsertJourneys } from '../sql/upsert-journeys.js';
import { recordEntry } from './experiment-store.js';
import {
  type Decision,
  type EventFacts,
  type JourneyRow,
  type JourneyStep,
  sendsEmail,
  stepJourney,
} from './machine.js';

export interface StepEnv {
  tx: postgres.TransactionSql;
  now: Date;
  decisions: Decision[];
  actions: NewActionRun[];
  frequencyCap?: { max: number; perMs: number };
  /**
   * Emails queued per contact by events of this batch that were stepped
   * before this one with a StepEnv of their own (batch.ts); the cap counts them.
   */
  batchEmails?: Map<string, number>;
  /** The batch's journeys, read and written together (batch.ts); absent: row by row. */
  journeys?: JourneyCache;
}

/**
 * A batch's journeys: those of every (feature, contact) the batch may step,
 * read and locked in one query before it steps (null: none yet), and the ones
 * it changed, written in one statement after (journeyWrites). A contact's
 * events are stepped one at a time (batch.ts), so each sees what the one
 * before it left.
 */
export interface JourneyCache {
  rows: Map<string, JourneyRow | null>;
  changed: Map<string, { row: JourneyRow; at: Date }>;
}

const journeyKey = (feature: string, contactId: string) => `${feature}\u0000${contactId}`;

export async function prefetchJourneys(
  tx: postgres.TransactionSql,
  pairs: { feature: string; contactId: string }[],
): Promise<JourneyCache> {
  const cache: JourneyCache = { rows: new Map(), changed: new Map() };
  for (const { feature, contactId } of pairs) cache.rows.set(journeyKey(feature, contactId), null);
  if (pairs.length === 0) return cache;
  for (const row of await lockJourneys(tx, pairs)) {
    cache.rows.set(journeyKey(row.feature, row.contact_id), row);
  }
  return cache;
}

/**
 * The journeys the batch changed (of one contact, or all) as one upsert, a
 * statement not sent yet (undefined when nothing changed): awaited alone, or
 * sent with the batch's other writes (lanes/finish.ts). The cache counts
 * them written.
 */
export function journeyWrites(
  tx: postgres.TransactionSql,
  cache: JourneyCache,
  contactId?: string,
): postgres.PendingQuery<postgres.Row[]> | undefined {
  const list = [...cache.changed.values()].filter(
    ({ row }) => contactId === undefined || row.contact_id === contactId,
  );
  if (list.length === 0) return undefined;
  for (const { row } of list) cache.changed.delete(journeyKey(row.feature, row.contact_id));
  return upsertJourneys(tx, list);
}

/** The journey of (feature, contact), locked: the batch's copy, or read now. */
async function loadJourney(
  env: StepEnv,
  feature: string,
  contactId: string,
): Promise<JourneyRow | undefined> {
  const key = journeyKey(feature, contactId);
  if (env.journeys?.rows.has(key)) {
    const row = env.journeys.rows.get(key);
    // A copy: a step may change the row and then not save it.
    return row ? { ...row } : undefined;
  }
  return lockJourney(env.tx, feature, contactId);
}

/**
 * The active journeys of a contact in these features, locked; the batch's
 * changes to them are written first, so the table read is current.
 */
export async function loadActiveJourneys(
  env: StepEnv,
  contactId: string,
  features: string[],
): Promise<JourneyRow[]> {
  if (env.journeys) await journeyWrites(env.tx, env.journeys, contactId);
  return lockActiveJourneys(env.tx, contactId, features);
}

async function saveJourney(env: StepEnv, j: JourneyRow): Promise<void> {
  if (env.journeys) {
    const key = journeyKey(j.feature, j.contact_id);
    if (env.journeys.rows.has(key)) {
      env.journeys.rows.set(key, { ...j });
      env.journeys.changed.set(key, { row: { ...j }, at: env.now });
      return;
    }
  }
  await upsertJourneys(env.tx, [{ row: j, at: env.now }]);
}

/** An event that matched the feature's trigger, for a resolved contact. */
export async function handleTriggerEvent(
  env: StepEnv,
  feature: RuntimeFeature,
  contactId: string,
  contact: Row | null,
  facts: EventFacts,
): Promise<void> {
  const journey = await loadJourney(env, feature.name, contactId);
  await step(env, feature, contact, journey ?? null, { kind: 'trigger', contactId, facts });
}

/**
 * An event of a contact that did not match the feature's trigger (its
 * condition on the contact was false): the contact's journey, if active,
 * still sees it as an event (exit.when, `when`, `until`). The batch's copy of
 * the journey is used when it has one (the pair was prefetched).
 */
export async function handleNonTriggerEvent(
  env: StepEnv,
  feature: RuntimeFeature,
  contactId: string,
  contact: Row | null,
  facts: EventFacts,
): Promise<void> {
  const journey = await loadJourney(env, feature.name, contactId);
  if (journey?.status === 'active') await advanceOnEvent(env, feature, journey, contact, facts);
}

/** An event for a contact already in the journey (locked by loadActiveJourneys); whether it moved. */
export function advanceOnEvent(
  env: StepEnv,
  feature: RuntimeFeature,
  journey: JourneyRow,
  contact: Row | null,
  facts: EventFacts,
): Promise<boolean> {
  return step(env, feature, contact, journey, { kind: 'event', facts });
}

/** A journey whose wake_at has come (claimed by timers.ts). */
export async function handleTimer(
  env: StepEnv,
  feature: RuntimeFeature,
  journey: JourneyRow,
  contact: Row | null,
): Promise<void> {
  await step(env, feature, contact, journey, { kind: 'timer' });
}

/** Runs the machine on one step: its decisions and actions join the env's, its journey row is saved. */
async function step(
  env: StepEnv,
  feature: RuntimeFeature,
  contact: Row | null,
  journey: JourneyRow | null,
  step: JourneyStep,
): Promise<boolean> {
  const contactId = step.kind === 'trigger' ? step.contactId : journey?.contact_id;
  const cap =
    env.frequencyCap && contactId && sendsEmail(feature)
      ? {
          frequencyCap: {
            max: env.frequencyCap.max,
            emailsInWindow: await emailsInWindow(env, env.frequencyCap.perMs, contactId),
          },
        }
      : {};
  const outcome = stepJourney({ step, feature, contact, journey, now: env.now, ...cap });
  env.decisions.push(...outcome.decisions);
  env.actions.push(...outcome.actions);
  if (outcome.journey) await saveJourney(env, outcome.journey);
  if (outcome.measured) await recordEntry(env.tx, outcome.measured);
  return outcome.moved;
}

/**
 * The emails a contact has in the frequency cap's window: those recorded as
 * decisions, and those queued in this transaction and not written yet (this
 * env's, and the batch's other events').
 */
async function emailsInWindow(env: StepEnv, perMs: number, contactId: string): Promise<number> {
  const since = new Date(env.now.getTime() - perMs);
  const pending =
    env.decisions.filter(
      (d) => d.contactId === contactId && d.outcome === 'action' && d.detail?.kind === 'email',
    ).length + (env.batchEmails?.get(contactId) ?? 0);
  return (await countEmails(env.tx, contactId, since)) + pending;
}
