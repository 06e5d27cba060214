// Processing the inbox. Each partition is a lane: one transaction at a time
// holds it (an advisory lock), takes its oldest unprocessed events in id
// order, and for each event applies live sync (when it watches the event's
// table: the change goes into the contact book first) and runs every candidate
// feature — match, resolve the contact, step the journey — then writes the
// decisions, enqueues the actions and marks the events processed, all in that
// one transaction. A crash before commit leaves the events unprocessed and
// nothing half done; after commit, nothing runs twice. Events of one contact
// share a lane (see router.ts), so they are handled in order even with several
// worker processes.
import type postgres from 'postgres';
import type { FirstAttempts, RunsWrite } from '../actions/direct.js';
import { type RunRef, runRefs } from '../actions/queue.js';
import type { NewActionRun } from '../actions/types.js';
import { applyLiveSync, type LiveSync, liveSyncWatches } from '../contacts/live.js';
import type { ContactIdentity } from '../contacts/store.js';
import { records } from '../db/records.js';
import { together } from '../db/together.js';
import { processTogether } from './batch.js';
import type { Clock } from './clock.js';
import { isConnectionLost } from './connection-loss.js';
import { handleEvent, type InboxRow } from './event.js';
import type { FeatureSet } from './features.js';
import type { Decision } from './journeys/machine.js';
import { journeyWrites, type StepEnv } from './journeys/store.js';

export interface ProcessContext {
  engine: postgres.Sql;
  features: FeatureSet;
  clock: Clock;
  frequencyCap?: { max: number; perMs: number };
  enqueueActions: (tx: postgres.TransactionSql, runs: NewActionRun[]) => Promise<unknown>;
  /**
   * When set, actions are recorded through it instead, and the runs it keeps
   * are attempted by this process once the transaction commits (direct.ts).
   */
  firstAttempts?: Pick<FirstAttempts, 'record' | 'start'>;
  /** Told when a batch could not be processed together and goes one event at a time. */
  onBatchFallback?: (error: unknown) => void;
  /** Fills contacts the engine just created (e.g. from auth.users); see launch.ts. */
  onContactsCreated?: (
    tx: postgres.TransactionSql,
    created: { id: string; identity: ContactIdentity }[],
  ) => Promise<void>;
  /** Captured changes of auth.users, storage.objects and mapped tables applied to contacts (live.ts). */
  liveSync?: LiveSync;
}

/** Events a lane takes per transaction. */
export const LANE_BATCH = 200;

/**
 * Processes up to `batch` events of the lanes (partitions) given, in one
 * transaction: of the lanes it can take (another transaction's lane is left
 * to it), their oldest events together; `count` says how many, and `more`
 * that the read was full, so the lanes may hold more. Several lanes go
 * together when the stream is light (runtime.ts): one transaction instead of
 * one per lane. The batch is first tried all together (batch.ts:
 * contacts resolved for the whole batch, events of different contacts
 * stepped concurrently so their queries share round trips); if any event
 * fails, that transaction is rolled back and the batch is processed again in
 * a new one, one event at a time, each in its own savepoint, so one bad event
 * is recorded as an error and the others go through. Errors that say nothing
 * about the event (lost connection, deadlock, serialization failure) fail the
 * whole transaction instead, and the lane retries the batch later.
 */
export async function processLanes(
  ctx: ProcessContext,
  lanes: readonly number[],
  batch = LANE_BATCH,
  options: { oneByOne?: boolean } = {},
): Promise<{ count: number; more: boolean }> {
  const run = async (together: boolean) => {
    const done = await ctx.engine.begin((tx) => processLane(tx, ctx, lanes, batch, together));
    return { count: committed(ctx, done), more: done.more };
  };
  if (!options.oneByOne) {
    try {
      return await run(true);
    } catch (error) {
      if (isTransient(error)) throw error;
      ctx.onBatchFallback?.(error);
    }
  }
  return run(false);
}

/** What a committed transaction leaves to do: its first attempts; returns how many events it handled. */
export function committed(
  ctx: ProcessContext,
  done: { count: number; attemptHere: RunRef[] },
): number {
  if (done.attemptHere.length > 0) ctx.firstAttempts?.start(done.attemptHere);
  return done.count;
}

async function processLane(
  tx: postgres.TransactionSql,
  ctx: ProcessContext,
  lanes: readonly number[],
  batch: number,
  together: boolean,
): Promise<{ count: number; more: boolean; attemptHere: RunRef[] }> {
  // Two statements, not one: the rows must be read with a snapshot taken
  // after the lock, or a lane that just committed could be seen unprocessed.
  // They go out together (the server runs them in order); rows of lanes not
  // taken are dropped unseen. Each lane is read by its own branch, the
  // statement one lane alone would use, ordered by the column, not the int
  // alias, so the pending index serves it instead of a sort of every pending
  // row. (Read with `partition = any(...)`, the planner walked the primary
  // key through every processed row: 3.7 ms a read after 60,000 events.)
  const lane = (partition: number) => tx`(
    select id::int as id, partition, source, schema_name, table_name, operation, event_name, new_row, old_row, enrichment, occurred_at
      from nudge_engine.inbox
     where partition = ${partition} and processed_at is null
     order by inbox.id limit ${batch})`;
  const [taken, read] = await Promise.all([
    takeLanes(tx, lanes, { flush: false }),
    tx<PendingRow[]>`
      select * from (${lanes.map(lane).reduce((all, one) => tx`${all} union all ${one}`)}) pending
       order by id limit ${batch}`,
  ]);
  const rows = read.filter((row) => taken.has(row.partition));
  const more = read.length >= batch;
  if (rows.length === 0) return { count: 0, more, attemptHere: [] };
  const env = together
    ? await processTogether(tx, ctx, rows)
    : await processOneByOne(tx, ctx, rows);
  const attemptHere = await finish(
    tx,
    ctx,
    env,
    tx`
    update nudge_engine.inbox set processed_at = ${env.now} where id = any(${rows.map((r) => r.id)}::bigint[])`,
  );
  return { count: rows.length, more, attemptHere };
}

/** Whether the lane has events waiting (a cheap look, outside any transaction). */
export async function laneWaiting(engine: postgres.Sql, partition: number): Promise<boolean> {
  const [row] = await engine<{ waiting: boolean }[]>`
    select exists (select 1 from nudge_engine.inbox where partition = ${partition} and processed_at is null) as waiting`;
  return row?.waiting === true;
}

type PendingRow = InboxRow & { partition: number };

/**
 * Takes the lanes no other transaction holds, for the rest of this one;
 * returns them. With `flush: false`, the transaction's commit does not wait
 * for the WAL to reach the disk (synchronous_commit off, for this one only):
 * a lane's commit is on the way from every event to its actions, and under
 * load — above all while a checkpoint runs — the wait for the flush made
 * most of the slowest events' latency (docs/benchmarks.md). It is safe
 * because a lane's work can be done again: if the server crashes before the
 * flush, the transaction is undone as a whole, its events are still in the
 * inbox (the pump's and the ingest's commits do wait), and processing them
 * again decides the same actions under the same keys, so an action already
 * attempted is only sent again with its key, as after a crash of Nudge.
 * A transaction that creates a contact, or changes how one is found, waits
 * for its flush after all (migration 007): the contact's id is in the keys.
 */
async function takeLanes(
  tx: postgres.TransactionSql,
  lanes: readonly number[],
  options: { flush?: boolean } = {},
): Promise<Set<number>> {
  const lazy = options.flush === false ? tx`, set_config('synchronous_commit', 'off', true)` : tx``;
  const [row] = await tx<{ taken: number[] }[]>`
    select array(select lane from unnest(${lanes}::int[]) lane
                  where pg_try_advisory_xact_lock(hashtext('nudge partition'), lane)) as taken${lazy}`;
  return new Set(row?.taken ?? []);
}

/**
 * Moves pending events out of lanes this configuration does not run (there
 * were more partitions before) into lane `partition % partitions`, which is
 * where the router now sends the same contact's new events whenever the new
 * count divides the old one (4 → 2, 8 → 4): a contact's old events then go
 * first in the lane of its new ones. Each old lane is taken with its advisory
 * lock, so a process still running it (with the old configuration) is never
 * overtaken; it is tried again next time. Returns how many events moved.
 */
export async function reclaimLanes(engine: postgres.Sql, partitions: number): Promise<number> {
  const stranded = await engine<{ partition: number }[]>`
    select distinct partition from nudge_engine.inbox
     where processed_at is null and partition >= ${partitions}`;
  let moved = 0;
  for (const { partition } of stranded) {
    moved += await engine.begin(async (tx) => {
      if (!(await takeLanes(tx, [partition])).has(partition)) return 0;
      const result = await tx`
        update nudge_engine.inbox set partition = ${partition % partitions}
         where processed_at is null and partition = ${partition}`;
      return result.count;
    });
  }
  return moved;
}

async function processOneByOne(
  tx: postgres.TransactionSql,
  ctx: ProcessContext,
  rows: InboxRow[],
): Promise<StepEnv> {
  const env: StepEnv = { tx, now: ctx.clock.now(), decisions: [], actions: [], ...cap(ctx) };
  for (const row of rows) {
    env.now = ctx.clock.now();
    const marks = { decisions: env.decisions.length, actions: env.actions.length };
    try {
      await tx.savepoint(async (sp) => {
        const synced = await syncLive(sp, ctx, row, env.now);
        env.decisions.push(...synced.decisions);
        await handleEvent({ ...env, tx: sp }, ctx, row, undefined, synced.contactIds);
      });
    } catch (error) {
      if (isTransient(error)) throw error;
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
  return env;
}

/** Beyond a lost connection: serialization failure, deadlock, lock timeout, the server starting or shutting down, too many connections. */
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '55P03', '57P03', '53300']);

/**
 * An error of the moment rather than of the event — serialization failure,
 * deadlock, lock timeout, the server shutting down or the connection lost:
 * retrying the batch later is right; recording the event as failed is not.
 */
export function isTransient(error: unknown): boolean {
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  return isConnectionLost(error) || TRANSIENT_SQLSTATES.has(code) || TRANSIENT_CODES.has(code);
}

/** Connection failures postgres.js reports before or without a server error. */
const TRANSIENT_CODES = new Set([
  'CONNECTION_ENDED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ETIMEDOUT',
]);

export function cap(ctx: ProcessContext): Pick<StepEnv, 'frequencyCap'> {
  return ctx.frequencyCap ? { frequencyCap: ctx.frequencyCap } : {};
}

/**
 * Writes what a step collected — the journeys it changed (batch mode), the
 * decisions, the action runs — and `also`, a statement not sent yet, as one
 * statement of data-modifying CTEs: one message and one reply instead of
 * four (the engine's time goes mostly to round trips and socket writes, see
 * docs/benchmarks.md). They touch different tables and see the same
 * snapshot, so together they do what they did one after the other. Returns
 * the runs to attempt in this process after the commit (see committed()).
 */
export async function finish(
  tx: postgres.TransactionSql,
  ctx: ProcessContext,
  env: StepEnv,
  also?: postgres.PendingQuery<postgres.Row[]>,
): Promise<RunRef[]> {
  const runs = env.actions;
  // Runs this process attempts itself are inserted with the rest; runs given
  // jobs go through enqueueActions, a statement of its own (its CTEs cannot
  // nest in another's).
  const recorded: RunsWrite | undefined =
    runs.length === 0
      ? undefined
      : ctx.firstAttempts
        ? ctx.firstAttempts.record(tx, runs)
        : { enqueued: ctx.enqueueActions(tx, runs) };
  const inserted = recorded && 'insert' in recorded ? recorded.insert : undefined;
  const writes = [
    env.journeys ? journeyWrites(tx, env.journeys) : undefined,
    decisionWrites(tx, env.decisions),
    also,
    inserted,
  ].filter((w) => w !== undefined);
  const [rows] = await Promise.all([
    writes.length === 0
      ? []
      : together(tx, writes, (last) =>
          inserted ? tx`select * from ${tx.unsafe(last)}` : tx`select`,
        ),
    recorded && 'enqueued' in recorded ? recorded.enqueued : undefined,
  ]);
  return inserted ? runRefs(rows) : [];
}

/** The decisions' insert, a statement not sent yet (undefined for none). */
function decisionWrites(
  tx: postgres.TransactionSql,
  decisions: Decision[],
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

/**
 * Live sync of one inbox row, when it watches the row's table: the change is
 * applied to the contact book (in `tx`, so it commits or rolls back with the
 * event), and logged as a decision — `synced` with what it did, or `skipped`
 * with why not. Returns the contacts it touched, whose waiting journeys then
 * re-check their conditions (event.ts). Uses savepoints: never call it
 * concurrently on one transaction.
 */
export async function syncLive(
  tx: postgres.TransactionSql,
  ctx: ProcessContext,
  row: InboxRow,
  at: Date,
): Promise<{ contactIds: string[]; decisions: Decision[] }> {
  const live = ctx.liveSync;
  if (!live || !row.schema_name || !row.table_name || !row.operation) {
    return { contactIds: [], decisions: [] };
  }
  if (!liveSyncWatches(live, { schema: row.schema_name, table: row.table_name })) {
    return { contactIds: [], decisions: [] };
  }
  const outcome = await applyLiveSync(tx, live, {
    inboxId: row.id,
    schema: row.schema_name,
    table: row.table_name,
    operation: row.operation,
    newRow: row.new_row,
    oldRow: row.old_row,
    occurredAt: row.occurred_at,
  });
  const summary = outcome.summary;
  if (!summary) return { contactIds: outcome.contactIds, decisions: [] };
  const decide = (contactId: string | null): Decision => ({
    at,
    inboxId: row.id,
    feature: null,
    contactId,
    outcome: contactId ? 'synced' : 'skipped',
    reason: summary,
  });
  const decisions = outcome.contactIds.length ? outcome.contactIds.map(decide) : [decide(null)];
  return { contactIds: outcome.contactIds, decisions };
}
