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
import type { RunRef } from '../../actions/queue.js';
import { isTransient } from '../../db/errors.js';
import { lockKey } from '../../db/locks.js';
import type { InboxRow } from '../intake/inbox.js';
import type { StepEnv } from '../journeys/store.js';
import { processTogether } from './batch.js';
import { cap, type ProcessContext } from './context.js';
import { handleEvent } from './event.js';
import { committed, finish } from './finish.js';
import { syncLive } from './live-sync.js';

/** Events a lane takes per transaction. */
const LANE_BATCH = 200;

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
                  where pg_try_advisory_xact_lock(${tx.unsafe(lockKey('lane'))}, lane)) as taken${lazy}`;
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
