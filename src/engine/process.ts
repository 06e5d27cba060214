// Processing the inbox. Each partition is a lane: one transaction at a time
// holds it (an advisory lock), takes its oldest unprocessed events in id
// order, and for each event runs every candidate feature — match, resolve the
// contact, step the journey — then writes the decisions, enqueues the actions
// and marks the events processed, all in that one transaction. A crash before
// commit leaves the events unprocessed and nothing half done; after commit,
// nothing runs twice. Events of one contact share a lane (see router.ts), so
// they are handled in order even with several worker processes.
import type postgres from 'postgres';
import type { NewActionRun } from '../actions/types.js';
import { namedEventsOf } from '../capture/named-events.js';
import type { Operation } from '../capture/triggers.js';
import { explain } from '../conditions/index.js';
import {
  type ContactIdentity,
  contactRow,
  hasIdentity,
  resolveContact,
} from '../contacts/store.js';
import type { Clock } from './clock.js';
import { type FeatureSet, type Row, type RuntimeFeature, readField } from './features.js';
import {
  advanceOnEvent,
  type Decision,
  type EventFacts,
  handleTriggerEvent,
  type StepEnv,
} from './journey.js';

export interface ProcessContext {
  engine: postgres.Sql;
  features: FeatureSet;
  clock: Clock;
  frequencyCap?: { max: number; perMs: number };
  enqueueActions: (tx: postgres.TransactionSql, runs: NewActionRun[]) => Promise<unknown>;
  /** Fills a contact the engine just created (e.g. from auth.users); see launch.ts. */
  onContactCreated?: (
    tx: postgres.TransactionSql,
    contactId: string,
    identity: ContactIdentity,
  ) => Promise<void>;
}

interface InboxRow {
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Processes up to `batch` events of one partition; returns how many (0 if another process holds it). */
export async function processPartition(
  ctx: ProcessContext,
  partition: number,
  batch = 100,
): Promise<number> {
  return ctx.engine.begin(async (tx) => {
    const [lock] = await tx<{ ok: boolean }[]>`
      select pg_try_advisory_xact_lock(hashtext('nudge partition'), ${partition}) as ok`;
    if (!lock?.ok) return 0;
    const rows = await tx<InboxRow[]>`
      select id::int as id, source, schema_name, table_name, operation, event_name, new_row, old_row, enrichment, occurred_at
        from nudge_engine.inbox
       where partition = ${partition} and processed_at is null
       order by id limit ${batch}`;
    if (rows.length === 0) return 0;
    const env: StepEnv = { tx, now: ctx.clock.now(), decisions: [], actions: [], ...cap(ctx) };
    for (const row of rows) {
      env.now = ctx.clock.now();
      const marks = { decisions: env.decisions.length, actions: env.actions.length };
      try {
        await tx.savepoint((sp) => handleEvent({ ...env, tx: sp }, ctx, row));
      } catch (error) {
        // A bug or bad data in one event must not stall the lane: undo its
        // part, record why, and keep the event for inspection and replay.
        env.decisions.length = marks.decisions;
        env.actions.length = marks.actions;
        env.decisions.push({
          at: env.now,
          inboxId: row.id,
          feature: null,
          contactId: null,
          outcome: 'error',
          reason: `engine error: ${(error as Error).message}`,
        });
      }
    }
    await finish(tx, ctx, env);
    await tx`update nudge_engine.inbox set processed_at = ${env.now} where id = any(${rows.map((r) => r.id)}::bigint[])`;
    return rows.length;
  });
}

function cap(ctx: ProcessContext): Pick<StepEnv, 'frequencyCap'> {
  return ctx.frequencyCap ? { frequencyCap: ctx.frequencyCap } : {};
}

/** Writes the collected decisions and enqueues the collected actions. */
export async function finish(
  tx: postgres.TransactionSql,
  ctx: ProcessContext,
  env: StepEnv,
): Promise<void> {
  if (env.actions.length) await ctx.enqueueActions(tx, env.actions);
  await writeDecisions(tx, env.decisions);
}

export async function writeDecisions(
  tx: postgres.TransactionSql,
  decisions: Decision[],
): Promise<void> {
  if (decisions.length === 0) return;
  await tx`
    insert into nudge_engine.decisions (at, inbox_id, feature, contact_id, outcome, reason, detail)
    select * from unnest(${decisions.map((d) => d.at.toISOString())}::timestamptz[],
                         ${decisions.map((d) => d.inboxId)}::bigint[],
                         ${decisions.map((d) => d.feature)}::text[],
                         ${decisions.map((d) => d.contactId)}::uuid[],
                         ${decisions.map((d) => d.outcome)}::text[],
                         ${decisions.map((d) => d.reason)}::text[],
                         ${decisions.map((d) => (d.detail ? JSON.stringify(d.detail) : null))}::text[]::jsonb[])`;
}

/** The features an inbox event is a candidate for. */
export function candidatesOf(
  features: FeatureSet,
  row: Pick<
    InboxRow,
    'schema_name' | 'table_name' | 'operation' | 'event_name' | 'new_row' | 'old_row'
  >,
): RuntimeFeature[] {
  if (row.event_name?.startsWith('schedule:')) {
    const feature = features.get(row.event_name.slice('schedule:'.length));
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

async function handleEvent(env: StepEnv, ctx: ProcessContext, row: InboxRow): Promise<void> {
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

  for (const feature of candidatesOf(ctx.features, row)) {
    triggered.add(feature.name);
    if (feature.feature.status === 'paused') {
      decide(feature.name, null, 'skipped', 'feature paused');
      continue;
    }
    if (feature.when && !feature.readsContact) {
      const verdict = feature.when.test({ now: env.now, ...rows, contact: null });
      if (!verdict.result) {
        decide(feature.name, null, 'skipped', `trigger condition false: ${explain(verdict)}`);
        continue;
      }
    }
    const identity = identityOf(feature, rows);
    if (!hasIdentity(identity)) {
      if (Object.keys(feature.feature.contact).length > 0) {
        decide(
          feature.name,
          null,
          'skipped',
          'no contact: the row has no value for the contact mapping',
        );
      } else {
        runWithoutContact(env, feature, facts);
      }
      continue;
    }
    const { id: contactId, created } = await resolveContact(env.tx, identity);
    if (created && ctx.onContactCreated) await ctx.onContactCreated(env.tx, contactId, identity);
    const contact = seen.get(contactId) ?? (await contactRow(env.tx, contactId));
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

  // Journeys of these contacts in other features may be waiting on this event.
  for (const [contactId, contact] of seen) {
    const waiting = await env.tx<{ feature: string }[]>`
      select feature from nudge_engine.journeys where contact_id = ${contactId} and status = 'active'`;
    for (const { feature: name } of waiting) {
      const feature = ctx.features.get(name);
      if (!feature || triggered.has(name)) continue;
      const journey = await env.tx<Parameters<typeof advanceOnEvent>[2][]>`
        select feature, contact_id, status, stage, entries, entered_at, stage_entered_at, ended_at, wake_at, context
          from nudge_engine.journeys where feature = ${name} and contact_id = ${contactId} for update`;
      if (journey[0]) await advanceOnEvent(env, feature, journey[0], contact, facts);
    }
  }
}

/** A feature without a contact mapping (e.g. heartbeat): its first stage's actions, once per event. */
function runWithoutContact(env: StepEnv, feature: RuntimeFeature, facts: EventFacts): void {
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
