// The action queue: one row per idempotency key in nudge_engine.action_runs
// and one graphile-worker job (task nudge_action, job key action:<key>) for
// each run that still has an attempt to make. Enqueue, replay, recovery.
import type postgres from 'postgres';
import { durationProblem, parseDuration } from '../config/duration-text.js';
import type { Db } from '../contacts/store.js';
import { NudgeError } from '../errors.js';
import { enqueueRuns } from './sql/enqueue-runs.js';
import { insertRuns } from './sql/insert-runs.js';
import { recoverRuns } from './sql/recover-runs.js';
import { replayedKeyStatus, replayRuns } from './sql/replay-runs.js';
import type { NewActionRun } from './types.js';

export { ACTION_TASK } from './sql/action-task.js';
export { RUNS_PER_JOB } from './sql/batch-job-specs.js';

/** The payload of a nudge_action job for one run. `attempt`: the run's attempts when the job was added. */
export interface ActionJob {
  runId: number;
  attempt?: number;
}

/** The payload of a nudge_action job for several new runs, executed together (task.ts). */
export interface ActionBatchJob {
  runs: { id: number; attempt: number }[];
}

/** One run a job (or the deciding process) attempts, and at which attempt: a stale reference is a no-op. */
export interface RunRef {
  id: number;
  attempt?: number;
}

/**
 * Records runs and their jobs in the caller's transaction, so an action is
 * enqueued if and only if the journey step that decided it commits. A key
 * already known (in this batch or before) is never enqueued again: that is
 * what makes an effect happen once per key however often the engine decides
 * it. Returns how many runs were new. `runAt` delays them all.
 */
export async function enqueueActions(
  tx: Db,
  runs: NewActionRun[],
  options: { runAt?: Date } = {},
): Promise<number> {
  if (runs.length === 0) return 0;
  return enqueueRuns(tx, runs, options.runAt ?? null);
}

/**
 * Records runs like enqueueActions but gives them no job: the deciding
 * process attempts them itself once the transaction commits
 * (first-attempt.ts). A statement not sent yet, to send with the
 * transaction's others (process.ts finish); runRefs reads the new runs from
 * its rows. If that process dies first, recoverActions gives them a job.
 */
export const newRuns = (tx: Db, runs: NewActionRun[]) => insertRuns(tx, runs, null);

/** The runs newRuns inserted, as references for their first attempt. */
export function runRefs(rows: readonly postgres.Row[]): RunRef[] {
  return rows.map((r) => ({ id: Number(r.id), attempt: Number(r.attempts) }));
}

export interface ReplayFilter {
  /** This run, when it is dead (or, with `force`, whatever its status). */
  key?: string;
  /**
   * With `key`: replay that run whatever its status — a succeeded one runs
   * again (a second email; a `set` writes its values again).
   */
  force?: boolean;
  feature?: string;
  /** Runs created at or after this time. */
  since?: Date;
  /** Runs created before this time. */
  until?: Date;
}

/** A replay filter as `nudge replay`'s options and POST /v1/actions/replay's body write it. */
export interface ReplayFilterText {
  key?: string | undefined;
  feature?: string | undefined;
  /** A duration (`1h`): runs created within it. */
  since?: string | undefined;
  /** With `key` only: that run whatever its status. */
  force?: boolean | undefined;
}

/** A replay filter that says nothing (no `field`), or a field that is wrong. */
export class ReplayFilterError extends NudgeError {
  override name = 'ReplayFilterError';
  constructor(
    readonly field: keyof ReplayFilterText | undefined,
    readonly problem: string,
  ) {
    super(field ? `${field}: ${problem}` : problem);
  }
}

/**
 * What to replay, as `nudge replay` and the dashboard's Replay say it: one
 * dead run by key (any run with `force`), or the dead runs of a feature
 * and/or created within a time before `now`. At least one; a
 * ReplayFilterError names what is wrong.
 */
export function replayFilter(text: ReplayFilterText, now = new Date()): ReplayFilter {
  if (!text.key && !text.feature && !text.since) {
    throw new ReplayFilterError(undefined, 'say what to replay');
  }
  if (text.force && !text.key) {
    throw new ReplayFilterError('force', 'only with a key: it replays one run whatever its status');
  }
  const problem = text.since ? durationProblem(text.since) : undefined;
  if (problem) throw new ReplayFilterError('since', problem);
  const sinceMs = text.since ? parseDuration(text.since) : undefined;
  return {
    ...(text.key ? { key: text.key } : {}),
    ...(text.force ? { force: true } : {}),
    ...(text.feature ? { feature: text.feature } : {}),
    ...(sinceMs !== undefined ? { since: new Date(now.getTime() - sinceMs) } : {}),
  };
}

/**
 * A replay by key of a run that is not dead (without `force`): it succeeded
 * (a replay would send it again), was withheld for good, or is pending or
 * retrying — queued already, by another replay too (a second click).
 */
export class RunNotDead extends NudgeError {
  override name = 'RunNotDead';
  constructor(
    readonly key: string,
    readonly status: string,
  ) {
    super(`the action run with the key ${key} is ${status}, not dead`);
  }
}

/**
 * Puts dead runs (or, with `key` and `force`, that run whatever its status)
 * back to pending with attempts reset (counted in replays and
 * attempts_before_replay), and gives each a job that runs now. Returns how
 * many. A replay delivers under the same key: the dev mailbox, tracked events
 * and receivers that deduplicate by key (Resend within 24 hours, webhook
 * receivers by webhook-id) will not see a second copy of one they received.
 * A run that is executing or being replayed right now is waited for (row
 * lock) and then re-checked against the filter, so two replays of one dead
 * run queue it once. A replay by key that finds the run (the rest of the
 * filter matching) but not dead throws RunNotDead; 0 otherwise.
 */
export async function replayActions(sql: Db, filter: ReplayFilter): Promise<number> {
  const { key = null, feature = null, since = null, until = null, force = false } = filter;
  const queued = await replayRuns(sql, { key, feature, since, until, force });
  if (queued === 0 && key !== null) {
    const status = await replayedKeyStatus(sql, { key, feature, since, until });
    if (status !== undefined && status !== 'dead') throw new RunNotDead(key, status);
  }
  return queued;
}

/**
 * How long a run waits, untouched, with no job and no lock, before
 * recoverActions gives it a job. The deciding process starts a first attempt
 * milliseconds after its commit (first-attempt.ts), so a run still untouched
 * after this long was orphaned; a job that did get a run in the meantime
 * makes the recovered one a no-op (attempt numbers), so the window trades
 * only how soon an orphan is delivered against how often a no-op job runs.
 */
export const RECOVER_AFTER_MS = 30_000;

/**
 * Gives a job back to runs that should have one and do not: pending or
 * retrying, unchanged for `staleAfterMs`, not being executed (their row is
 * not locked) and with no job waiting. That happens when an engine process
 * died between deciding runs and attempting them (first-attempt.ts), when a
 * worker process died mid-attempt (its job stays locked, and with
 * max_attempts 1 is never retried) or when recording an attempt's outcome
 * failed. Safe to run at any time and from several processes; the engine
 * runs it periodically. Returns how many runs it re-enqueued.
 */
export async function recoverActions(
  sql: Db,
  options: { staleAfterMs?: number } = {},
): Promise<number> {
  return recoverRuns(sql, options.staleAfterMs ?? RECOVER_AFTER_MS);
}
