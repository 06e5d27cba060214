// How an attempt's outcome is recorded on its run, in the transaction that
// locked it: succeeded (with the result, made storable), failed (retrying
// with backoff or the server's Retry-After, or dead), withheld or deferred by
// its admission; each with its decision-log row, and its log line.
import type postgres from 'postgres';
import { insertDecisions } from '../engine/sql/insert-decisions.js';
import { storableResult } from './result.js';
import { judge, retryAfterLimitMs, retryDelay } from './retry.js';
import { markDead } from './sql/mark-dead.js';
import { markSucceeded } from './sql/mark-succeeded.js';
import { markWithheld } from './sql/mark-withheld.js';
import { scheduleAttempt } from './sql/schedule-attempt.js';
import type { ActionEnv, ActionRun } from './types.js';

/**
 * `skipped`: nothing to do (the run was done, or the job stale); `withheld`:
 * not sent, for good, because its provider's admission said so (the contact
 * unsubscribed); `deferred`: admitted later, with a job at that time.
 */
export type RunOutcome = 'succeeded' | 'retrying' | 'dead' | 'skipped' | 'withheld' | 'deferred';

/** A run whose attempt succeeded, its result and its time in the provider. */
export interface Success {
  run: ActionRun;
  result: unknown;
  ms: number;
}

/**
 * Runs whose attempt succeeded, marked so with their results (each made
 * storable: a receiver's lone surrogate must not fail the batch) and their
 * decision-log rows, one statement; `note` ends each decision's reason.
 */
export async function recordSuccesses(
  tx: postgres.TransactionSql,
  env: ActionEnv,
  done: Success[],
  note = '',
): Promise<void> {
  await markSucceeded(
    tx,
    done.map((d) => ({ id: d.run.id, result: storableResult(d.result ?? null) })),
    env.clock.now(),
    attemptWrites(
      tx,
      env,
      done.map(({ run, ms }) => ({
        run,
        ms,
        status: 'succeeded',
        reason: `${run.kind} attempt ${run.attempts + 1} succeeded${note}`,
      })),
    ),
  );
  logSuccesses(
    env,
    done.map((d) => d.run),
  );
}

export interface Withheld {
  run: ActionRun;
  reason: string;
}

export interface Deferral {
  run: ActionRun;
  until: Date;
  reason: string;
}

/**
 * Runs their admission refused (the contact unsubscribed from the topic, the
 * address bounced): final, status skipped, the reason in last_error and in
 * the decision log as a `skipped` decision.
 */
export async function recordWithheld(
  tx: postgres.TransactionSql,
  env: ActionEnv,
  withheld: Withheld[],
) {
  await markWithheld(
    tx,
    withheld.map((w) => ({ id: w.run.id, reason: w.reason })),
    env.clock.now(),
    attemptWrites(
      tx,
      env,
      withheld.map((w) => ({ run: w.run, status: 'skipped', reason: w.reason })),
      'skipped',
    ),
  );
  for (const { run, reason } of withheld) {
    env.log('info', `action ${run.kind} skipped: ${reason}`, logFields(run));
  }
}

/**
 * A run admitted later (quiet hours): it stays pending, with its attempts
 * unchanged, and a job of its own at `until` (the job key replaces a waiting
 * one), durable as any job; a `deferred` decision says until when.
 */
export async function recordDeferral(
  tx: postgres.TransactionSql,
  env: ActionEnv,
  deferral: Deferral,
) {
  const { run, until, reason } = deferral;
  // `until` is on the engine's clock (which `nudge dev` can move); the job's
  // run_at on the database's, which graphile-worker compares it with: the
  // wait is carried over as a delay, like a retry's.
  const delayMs = Math.max(0, until.getTime() - env.clock.now().getTime());
  await scheduleAttempt(tx, run.id, delayMs);
  await attemptWrites(tx, env, [{ run, status: 'deferred', reason }], 'deferred');
  env.log('info', `action ${run.kind} ${reason}`, logFields(run));
}

/**
 * One line for the runs that succeeded together, at debug level (`--verbose`):
 * each is in the decision log (`nudge logs`), and at a few hundred events a
 * second a line per batch was a write to the terminal every few
 * milliseconds. Failures stay at warn and error.
 */
function logSuccesses(env: ActionEnv, runs: ActionRun[]): void {
  if (runs.length === 1) {
    env.log('debug', `action ${runs[0]!.kind} succeeded`, logFields(runs[0]!));
    return;
  }
  const kinds: Record<string, number> = {};
  for (const run of runs) kinds[run.kind] = (kinds[run.kind] ?? 0) + 1;
  env.log('debug', `${runs.length} actions succeeded`, { kinds });
}

interface Attempt {
  run: ActionRun;
  /** Milliseconds in the provider. */
  ms?: number;
  status: 'succeeded' | 'retrying' | 'dead' | 'skipped' | 'deferred';
  reason: string;
}

/**
 * Every attempt and its result goes to the decision log (outcome `attempt`;
 * `skipped` or `deferred` for a run its admission held back), in the
 * transaction that records the attempt on the run, for `nudge logs`: the
 * insert, a statement not sent yet (a success sends it with the runs'
 * update). `attempts` is never empty.
 */
function attemptWrites(
  tx: postgres.TransactionSql,
  env: ActionEnv,
  attempts: Attempt[],
  outcome: 'attempt' | 'skipped' | 'deferred' = 'attempt',
): postgres.PendingQuery<postgres.Row[]> {
  const at = env.clock.now();
  return insertDecisions(
    tx,
    attempts.map((a) => ({
      at,
      inboxId: null,
      feature: a.run.feature,
      contactId: a.run.contactId,
      outcome,
      reason: a.reason,
      detail: {
        kind: a.run.kind,
        key: a.run.key,
        attempt: a.run.attempts + 1,
        status: a.status,
        ...(a.ms === undefined ? {} : { ms: a.ms }),
      },
    })),
  )!;
}

/**
 * A failed attempt: dead when the error is permanent or this was the last
 * attempt allowed (actions.max_attempts), else retrying with a new job at
 * now + delay, the delay being the server's Retry-After when it gave one (up
 * to a limit: retry.ts retryDelay), or exponential backoff with jitter. The
 * delay is added in the database to the same timestamp written to
 * updated_at, with the database's clock that graphile-worker compares run_at
 * with.
 */
export async function recordFailure(
  tx: postgres.TransactionSql,
  env: ActionEnv,
  run: ActionRun,
  error: unknown,
  ms?: number,
): Promise<RunOutcome> {
  const verdict = judge(error);
  const attempts = run.attempts + 1;
  const { max_attempts, backoff_base_ms, backoff_max_ms } = env.project.config.actions;
  if (!verdict.retry || attempts >= max_attempts) {
    await markDead(tx, run.id, attempts, verdict.message);
    const why = verdict.retry
      ? `no attempts left of ${max_attempts}`
      : 'will not succeed as configured';
    await attemptWrites(tx, env, [
      {
        run,
        ...(ms === undefined ? {} : { ms }),
        status: 'dead',
        reason: `${run.kind} attempt ${attempts} failed: ${verdict.message}; dead (${why})`,
      },
    ]);
    env.log('error', `action ${run.kind} is dead: ${verdict.message}`, {
      ...logFields(run),
      attempts,
      reason: verdict.retry ? 'last attempt failed' : 'permanent error',
    });
    return 'dead';
  }
  const { delayMs, refusedMs } = retryDelay(verdict, run.attempts, {
    backoff_base_ms,
    backoff_max_ms,
  });
  const refused =
    refusedMs === undefined
      ? ''
      : ` (its Retry-After of ${Math.round(refusedMs / 1000)} s is not honoured: longer than ${retryAfterLimitMs(backoff_max_ms) / 1000} s)`;
  await scheduleAttempt(tx, run.id, delayMs, { attempts, error: verdict.message });
  await attemptWrites(tx, env, [
    {
      run,
      ...(ms === undefined ? {} : { ms }),
      status: 'retrying',
      reason: `${run.kind} attempt ${attempts} failed: ${verdict.message}; retry in ${delayMs} ms${refused}`,
    },
  ]);
  env.log('warn', `action ${run.kind} failed; retrying in ${delayMs} ms${refused}`, {
    ...logFields(run),
    attempts,
    error: verdict.message,
    ...(refusedMs === undefined && verdict.retryAfterMs !== undefined
      ? { retryAfterMs: verdict.retryAfterMs }
      : {}),
  });
  return 'retrying';
}

/** What logs say about a run: never its params (headers, bodies) or context. */
export function logFields(run: ActionRun): Record<string, unknown> {
  return { runId: run.id, key: run.key, kind: run.kind, feature: run.feature };
}
