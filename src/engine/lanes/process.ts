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
import type { FeaturesAt } from '../../capture/transports/port.js';
import { isTransient } from '../../db/errors.js';
import type { InboxRow } from '../intake/inbox.js';
import type { StepEnv } from '../journeys/store.js';
import { markProcessed } from '../sql/mark-processed.js';
import { moveLane } from '../sql/move-lane.js';
import { type PendingRow, readLanes } from '../sql/read-lanes.js';
import { strandedLanes } from '../sql/stranded-lanes.js';
import { takeLanes } from '../sql/take-lanes.js';
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
    for (;;) {
      try {
        const done = await ctx.engine.begin((tx) => processLane(tx, ctx, lanes, batch, together));
        return { count: committed(ctx, done), more: done.more };
      } catch (error) {
        if (!(error instanceof FeaturesBehind)) throw error;
        // Rolled back, lanes let go: the files read, then the batch again.
        await catchUpTo(ctx.deploys!, error.deployment);
      }
    }
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
  // taken are dropped unseen.
  const [taken, read] = await Promise.all([
    takeLanes(tx, lanes, { flush: false }),
    readLanes(tx, lanes, batch),
  ]);
  const rows = read.filter((row) => taken.has(row.partition));
  const more = read.length >= batch;
  if (rows.length === 0) return { count: 0, more, attemptHere: [] };
  const behind = deploymentBehind(ctx, rows);
  if (behind !== undefined) throw new FeaturesBehind(behind);
  const env = together
    ? await processTogether(tx, ctx, rows)
    : await processOneByOne(tx, ctx, rows);
  const attemptHere = await finish(tx, ctx, env, markProcessed(tx, rows, env.now));
  return { count: rows.length, more, attemptHere };
}

/**
 * Events stored under a deployment later than the one this process's
 * features were read at (the process that pumped them, or streams the slot,
 * has read it; this one has not heard yet): the files are read again before
 * any of them is matched. A deployment id lower than the features' is an
 * event stored before the deploy, or after a teardown started ids again at
 * 1 (the notification reads the files then: follow-deploys.ts).
 */
function deploymentBehind(ctx: ProcessContext, rows: PendingRow[]): number | undefined {
  if (!ctx.deploys) return undefined;
  let newest = 0;
  for (const row of rows) if (row.deployment && row.deployment > newest) newest = row.deployment;
  const known = Math.max(ctx.deploys.deployment(), stale.get(ctx.deploys) ?? 0);
  return newest > known ? newest : undefined;
}

/**
 * Rows were taken under a deployment newer than the process's features:
 * the lane's transaction is rolled back (its locks and its connection let
 * go, which the reading may need), the files are read, and the batch runs
 * again. The outbox pump does the same (outbox/pump.ts).
 */
class FeaturesBehind extends Error {
  constructor(readonly deployment: number) {
    super(`features older than deployment #${deployment}`);
  }
}

/**
 * The highest stamp a reading found no deployment for, per follower: rows
 * stored before a teardown, whose ids start again at 1. They read nothing
 * more (else every batch of them would read the files again); the
 * notification reads a deployment that reaches such an id again.
 */
const stale = new WeakMap<FeaturesAt, number>();

async function catchUpTo(deploys: FeaturesAt, deployment: number): Promise<void> {
  await deploys.catchUp(deployment);
  if (deploys.deployment() < deployment)
    stale.set(deploys, Math.max(deployment, stale.get(deploys) ?? 0));
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
  let moved = 0;
  for (const partition of await strandedLanes(engine, partitions)) {
    moved += await engine.begin(async (tx) => {
      if (!(await takeLanes(tx, [partition])).has(partition)) return 0;
      return moveLane(tx, partition, partition % partitions);
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
