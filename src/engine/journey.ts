// The journey state machine: one per (feature, contact), stepped by events and
// by timers, always inside the caller's transaction with the journey row
// locked (FOR UPDATE) — so an event and a timer for the same journey never
// interleave, and the step, its decisions and its enqueued actions commit
// together or not at all.
//
// Entering. A contact enters when the feature's trigger matches and it is not
// already in the journey, subject to re_entry (never: once ever), max_entries
// and cooldown (time since its last entry). `restart` re-enters a contact that
// is still in the journey.
//
// Stages. Entering a stage runs its actions in order (unless its if/unless
// guard says no): goto moves on at once, exit ends the journey, every other
// action is enqueued with the key feature:contact:entry:stage:index, so a
// retried step never doubles an effect. Then the stage's transitions decide:
// none → the journey is complete; one without a wait → taken now; `after` →
// a durable timer (journeys.wake_at); `until` → taken as soon as it holds
// (checked now, on every event of the contact, and when `within` runs out —
// then the journey ends as timed out); `when` → taken on an event that makes
// it true. `exit.when` ends the journey on any event that makes it true.
//
// Frequency cap. actions.frequency_cap limits emails per contact per window
// across all features; an email over the cap is skipped with a decision.
import type postgres from 'postgres';
import type { NewActionRun, TemplateContext } from '../actions/types.js';
import { explain } from '../conditions/index.js';
import { records } from '../db/records.js';
import type {
  Predicate,
  Row,
  RuntimeFeature,
  RuntimeStage,
  RuntimeTransition,
} from './features.js';

export interface EventFacts {
  inboxId: number | null;
  name?: string;
  schema?: string;
  table?: string;
  operation?: string;
  newRow: Row | null;
  oldRow: Row | null;
  enrichment?: unknown;
  occurredAt: Date;
}

export interface Decision {
  at: Date;
  inboxId: number | null;
  feature: string | null;
  contactId: string | null;
  outcome:
    | 'matched'
    | 'skipped'
    | 'entered'
    | 'advanced'
    | 'completed'
    | 'exited'
    | 'action'
    | 'synced'
    | 'error';
  reason: string;
  detail?: Record<string, unknown>;
}

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

export interface JourneyRow {
  feature: string;
  contact_id: string;
  status: 'active' | 'completed' | 'exited';
  stage: string | null;
  entries: number;
  entered_at: Date | null;
  stage_entered_at: Date | null;
  ended_at: Date | null;
  wake_at: Date | null;
  context: EventFacts | Record<string, never>;
}

const MAX_CHAIN = 32;

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

const JOURNEY_COLUMNS =
  'feature, contact_id, status, stage, entries, entered_at, stage_entered_at, ended_at, wake_at, context';

export async function prefetchJourneys(
  tx: postgres.TransactionSql,
  pairs: { feature: string; contactId: string }[],
): Promise<JourneyCache> {
  const cache: JourneyCache = { rows: new Map(), changed: new Map() };
  for (const { feature, contactId } of pairs) cache.rows.set(journeyKey(feature, contactId), null);
  if (pairs.length === 0) return cache;
  const rows = await tx<JourneyRow[]>`
    select ${tx.unsafe(JOURNEY_COLUMNS)} from nudge_engine.journeys
     where (feature, contact_id) in (
             select * from unnest(${pairs.map((p) => p.feature)}::text[], ${pairs.map((p) => p.contactId)}::uuid[]))
     order by feature, contact_id
       for update`;
  for (const row of rows) cache.rows.set(journeyKey(row.feature, row.contact_id), row);
  return cache;
}

/**
 * The journeys the batch changed (of one contact, or all) as one upsert, a
 * statement not sent yet (undefined when nothing changed): awaited alone, or
 * sent with the batch's other writes (process.ts finish). The cache counts
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
  return tx`
    insert into nudge_engine.journeys (${tx.unsafe(JOURNEY_COLUMNS)}, updated_at)
    select ${tx.unsafe(JOURNEY_COLUMNS)}, updated_at
      from ${records(
        tx,
        list.map(({ row, at }) => ({ ...row, updated_at: at })),
        `feature text, contact_id uuid, status text, stage text, entries int, entered_at timestamptz,
         stage_entered_at timestamptz, ended_at timestamptz, wake_at timestamptz, context jsonb,
         updated_at timestamptz`,
      )}
    ${upsertJourney(tx)}`;
}

const upsertJourney = (tx: postgres.TransactionSql) => tx`
  on conflict (feature, contact_id) do update set
    status = excluded.status, stage = excluded.stage, entries = excluded.entries, entered_at = excluded.entered_at,
    stage_entered_at = excluded.stage_entered_at, ended_at = excluded.ended_at, wake_at = excluded.wake_at,
    context = excluded.context, updated_at = excluded.updated_at`;

export async function lockJourney(
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
  const [row] = await env.tx<JourneyRow[]>`
    select ${env.tx.unsafe(JOURNEY_COLUMNS)}
      from nudge_engine.journeys where feature = ${feature} and contact_id = ${contactId} for update`;
  return row;
}

/**
 * The active journeys of a contact in these features, locked; the batch's
 * changes to them are written first, so the table read is current.
 */
export async function lockActiveJourneys(
  env: StepEnv,
  contactId: string,
  features: string[],
): Promise<JourneyRow[]> {
  if (env.journeys) await journeyWrites(env.tx, env.journeys, contactId);
  return env.tx<JourneyRow[]>`
    select ${env.tx.unsafe(JOURNEY_COLUMNS)} from nudge_engine.journeys
     where contact_id = ${contactId} and status = 'active' and feature = any(${features}::text[])
     order by feature for update`;
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
  await env.tx`
    insert into nudge_engine.journeys (${env.tx.unsafe(JOURNEY_COLUMNS)}, updated_at)
    values (${j.feature}, ${j.contact_id}, ${j.status}, ${j.stage}, ${j.entries}, ${j.entered_at}, ${j.stage_entered_at},
            ${j.ended_at}, ${j.wake_at}, ${JSON.stringify(j.context)}::text::jsonb, ${env.now})
    ${upsertJourney(env.tx)}`;
}

function decide(
  env: StepEnv,
  facts: EventFacts | null,
  feature: string,
  contactId: string | null,
  outcome: Decision['outcome'],
  reason: string,
  detail?: Record<string, unknown>,
) {
  env.decisions.push({
    at: env.now,
    inboxId: facts?.inboxId ?? null,
    feature,
    contactId,
    outcome,
    reason,
    ...(detail ? { detail } : {}),
  });
}

function holds(
  predicate: Predicate | undefined,
  facts: EventFacts,
  contact: Row | null,
  now: Date,
) {
  if (!predicate) return { ok: true, why: '' };
  const verdict = predicate.test({ now, new: facts.newRow, old: facts.oldRow, contact });
  return { ok: verdict.result, why: verdict.result ? '' : explain(verdict) };
}

/** An event that matched the feature's trigger, for a resolved contact. */
export async function handleTriggerEvent(
  env: StepEnv,
  feature: RuntimeFeature,
  contactId: string,
  contact: Row | null,
  facts: EventFacts,
): Promise<void> {
  const journey = await lockJourney(env, feature.name, contactId);
  const spec = feature.feature;
  if (journey?.status === 'active') {
    if (spec.reEntry === 'restart') {
      decide(
        env,
        facts,
        feature.name,
        contactId,
        'exited',
        `restarted: re_entry is restart (was at stage ${journey.stage})`,
      );
      return enter(env, feature, contactId, contact, facts, journey);
    }
    const moved = await advanceOnEvent(env, feature, journey, contact, facts);
    if (!moved) {
      decide(
        env,
        facts,
        feature.name,
        contactId,
        'skipped',
        `already in the journey at stage ${journey.stage}`,
      );
    }
    return;
  }
  const entries = journey?.entries ?? 0;
  if (spec.reEntry === 'never' && entries > 0) {
    return decide(
      env,
      facts,
      feature.name,
      contactId,
      'skipped',
      'already entered once (re_entry: never)',
    );
  }
  if (spec.maxEntries !== undefined && entries >= spec.maxEntries) {
    return decide(
      env,
      facts,
      feature.name,
      contactId,
      'skipped',
      `max entries reached (${entries} of ${spec.maxEntries})`,
    );
  }
  if (spec.cooldownMs !== undefined && journey?.entered_at) {
    const until = new Date(new Date(journey.entered_at).getTime() + spec.cooldownMs);
    if (until > env.now) {
      return decide(
        env,
        facts,
        feature.name,
        contactId,
        'skipped',
        `cooldown until ${until.toISOString()}`,
        {
          cooldown_until: until.toISOString(),
        },
      );
    }
  }
  await enter(env, feature, contactId, contact, facts, journey);
}

/** An event for a contact already in the journey: exit.when, then the current stage's transitions. */
export async function advanceOnEvent(
  env: StepEnv,
  feature: RuntimeFeature,
  journey: JourneyRow,
  contact: Row | null,
  facts: EventFacts,
): Promise<boolean> {
  const exit = feature.exit ? holds(feature.exit, facts, contact, env.now) : { ok: false };
  if (exit.ok) {
    await end(env, feature, journey, 'exited', 'exit.when became true', facts);
    return true;
  }
  const stage = journey.stage ? feature.stages.get(journey.stage) : undefined;
  if (!stage) return false;
  for (const transition of stage.transitions) {
    const predicate = transition.when ?? transition.until;
    if (!predicate) continue;
    if (holds(predicate, facts, contact, env.now).ok) {
      await take(
        env,
        feature,
        journey,
        contact,
        facts,
        transition,
        transition.when ? 'when' : 'until',
      );
      return true;
    }
  }
  return false;
}

/** A journey whose wake_at has come: a due `after`, or an `until` whose `within` ran out. */
export async function handleTimer(
  env: StepEnv,
  feature: RuntimeFeature,
  journey: JourneyRow,
  contact: Row | null,
): Promise<void> {
  const facts = journey.context as EventFacts;
  const stage = journey.stage ? feature.stages.get(journey.stage) : undefined;
  if (!stage || journey.status !== 'active' || !journey.stage_entered_at) return;
  const since = new Date(journey.stage_entered_at).getTime();
  for (const transition of stage.transitions) {
    if (transition.afterMs !== undefined && since + transition.afterMs <= env.now.getTime()) {
      return take(env, feature, journey, contact, facts, transition, 'after');
    }
  }
  for (const transition of stage.transitions) {
    if (
      transition.until &&
      transition.withinMs !== undefined &&
      since + transition.withinMs <= env.now.getTime()
    ) {
      if (holds(transition.until, facts, contact, env.now).ok) {
        return take(env, feature, journey, contact, facts, transition, 'until');
      }
      return end(
        env,
        feature,
        journey,
        'exited',
        `timed out: until did not hold within ${transition.withinMs / 1000}s`,
        null,
      );
    }
  }
  // Nothing due yet (the clock moved back, or a transition changed): re-arm.
  journey.wake_at = nextWake(stage, since);
  await saveJourney(env, journey);
}

async function enter(
  env: StepEnv,
  feature: RuntimeFeature,
  contactId: string,
  contact: Row | null,
  facts: EventFacts,
  previous: JourneyRow | undefined,
): Promise<void> {
  const journey: JourneyRow = {
    feature: feature.name,
    contact_id: contactId,
    status: 'active',
    stage: null,
    entries: (previous?.entries ?? 0) + 1,
    entered_at: env.now,
    stage_entered_at: null,
    ended_at: null,
    wake_at: null,
    context: facts,
  };
  decide(env, facts, feature.name, contactId, 'entered', `entered (entry ${journey.entries})`);
  await enterStage(env, feature, journey, contact, facts, feature.initial);
}

async function take(
  env: StepEnv,
  feature: RuntimeFeature,
  journey: JourneyRow,
  contact: Row | null,
  facts: EventFacts,
  transition: RuntimeTransition,
  why: string,
): Promise<void> {
  if (transition.to === null)
    return end(env, feature, journey, 'completed', `completed (${why})`, facts);
  await enterStage(env, feature, journey, contact, facts, transition.to, why);
}

async function enterStage(
  env: StepEnv,
  feature: RuntimeFeature,
  journey: JourneyRow,
  contact: Row | null,
  facts: EventFacts,
  first: string,
  why?: string,
): Promise<void> {
  let name: string | null = first;
  for (let hop = 0; name !== null && hop < MAX_CHAIN; hop++) {
    const stage: RuntimeStage = feature.stages.get(name)!;
    journey.stage = stage.name;
    journey.stage_entered_at = env.now;
    journey.wake_at = null;
    decide(
      env,
      facts,
      feature.name,
      journey.contact_id,
      'advanced',
      `stage ${stage.name}${why && hop === 0 ? ` (${why})` : ''}`,
    );
    const outcome = await runActions(env, feature, journey, contact, facts, stage);
    if (outcome === 'exit')
      return end(env, feature, journey, 'exited', `exit action in stage ${stage.name}`, facts);
    if (outcome !== undefined) {
      name = outcome;
      continue;
    }
    if (stage.transitions.length === 0)
      return end(env, feature, journey, 'completed', `completed after stage ${stage.name}`, facts);
    const immediate = stage.transitions.find((t) => t.afterMs === undefined && !t.when && !t.until);
    const ready =
      immediate ??
      stage.transitions.find((t) => t.until && holds(t.until, facts, contact, env.now).ok);
    if (ready) {
      if (ready.to === null)
        return end(
          env,
          feature,
          journey,
          'completed',
          `completed after stage ${stage.name}`,
          facts,
        );
      name = ready.to;
      why = ready.until ? 'until' : undefined;
      continue;
    }
    journey.wake_at = nextWake(stage, env.now.getTime());
    await saveJourney(env, journey);
    return;
  }
  if (name !== null) {
    await end(
      env,
      feature,
      journey,
      'exited',
      `stopped after ${MAX_CHAIN} stages without a wait (a loop?)`,
      facts,
    );
  }
}

function nextWake(stage: RuntimeStage, since: number): Date | null {
  const times = stage.transitions.flatMap((t) => [
    ...(t.afterMs !== undefined ? [since + t.afterMs] : []),
    ...(t.until && t.withinMs !== undefined ? [since + t.withinMs] : []),
  ]);
  return times.length ? new Date(Math.min(...times)) : null;
}

/** Runs a stage's actions; returns a goto target, 'exit', or undefined. */
async function runActions(
  env: StepEnv,
  feature: RuntimeFeature,
  journey: JourneyRow,
  contact: Row | null,
  facts: EventFacts,
  stage: RuntimeStage,
): Promise<string | 'exit' | undefined> {
  const guard = holds(stage.guard, facts, contact, env.now);
  if (!guard.ok) {
    decide(
      env,
      facts,
      feature.name,
      journey.contact_id,
      'skipped',
      `stage ${stage.name}: actions skipped, ${guard.why}`,
    );
    return undefined;
  }
  for (const [index, action] of stage.actions.entries()) {
    if (action.kind === 'goto') return action.params;
    if (action.kind === 'exit') return 'exit';
    if (action.kind === 'email' && (await overCap(env, journey.contact_id))) {
      decide(
        env,
        facts,
        feature.name,
        journey.contact_id,
        'skipped',
        `stage ${stage.name}: email skipped by the frequency cap`,
        { action: index },
      );
      continue;
    }
    const key = `${feature.name}:${journey.contact_id}:${journey.entries}:${stage.name}:${index}`;
    env.actions.push({
      key,
      feature: feature.name,
      contactId: journey.contact_id,
      stage: stage.name,
      action,
      context: templateContext(feature, journey, contact, facts, stage),
    });
    decide(
      env,
      facts,
      feature.name,
      journey.contact_id,
      'action',
      `stage ${stage.name}: ${action.kind} queued`,
      {
        kind: action.kind,
        key,
      },
    );
  }
  return undefined;
}

async function overCap(env: StepEnv, contactId: string): Promise<boolean> {
  const cap = env.frequencyCap;
  if (!cap) return false;
  const since = new Date(env.now.getTime() - cap.perMs);
  const pending =
    env.decisions.filter(
      (d) => d.contactId === contactId && d.outcome === 'action' && d.detail?.kind === 'email',
    ).length + (env.batchEmails?.get(contactId) ?? 0);
  const [row] = await env.tx<{ n: number }[]>`
    select count(*)::int as n from nudge_engine.decisions
     where contact_id = ${contactId} and outcome = 'action' and detail ->> 'kind' = 'email' and at > ${since}`;
  return (row?.n ?? 0) + pending >= cap.max;
}

function templateContext(
  feature: RuntimeFeature,
  journey: JourneyRow,
  contact: Row | null,
  facts: EventFacts,
  stage: RuntimeStage,
): TemplateContext {
  return {
    contact,
    new: facts.newRow,
    old: facts.oldRow,
    enrichment: facts.enrichment ?? null,
    event: {
      ...(facts.name ? { name: facts.name } : {}),
      ...(facts.schema ? { schema: facts.schema } : {}),
      ...(facts.table ? { table: facts.table } : {}),
      ...(facts.operation ? { operation: facts.operation } : {}),
      occurred_at: new Date(facts.occurredAt).toISOString(),
    },
    journey: {
      feature: feature.name,
      stage: stage.name,
      ...(journey.entered_at ? { entered_at: new Date(journey.entered_at).toISOString() } : {}),
    },
  };
}

async function end(
  env: StepEnv,
  feature: RuntimeFeature,
  journey: JourneyRow,
  status: 'completed' | 'exited',
  reason: string,
  facts: EventFacts | null,
): Promise<void> {
  journey.status = status;
  journey.ended_at = env.now;
  journey.wake_at = null;
  decide(env, facts, feature.name, journey.contact_id, status, reason);
  await saveJourney(env, journey);
}
