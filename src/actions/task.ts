// The worker side of actions: graphile-worker's nudge_action task runs one
// attempt of one run (render, execute the provider, record the outcome) and
// schedules the next attempt itself, with backoff or the server's Retry-After.
import type { TaskList } from 'graphile-worker';
import type postgres from 'postgres';
import { insertDecisions } from '../engine/sql/insert-decisions.js';
import { providerByKind, providerFor } from './index.js';
import { ACTION_TASK, type ActionBatchJob, type ActionJob, type RunRef } from './queue.js';
import { rendererFor, templateVariables } from './render.js';
import { backoffMs, describe, judge } from './retry.js';
import { lockRuns, type RunRow } from './sql/lock-runs.js';
import { markDead } from './sql/mark-dead.js';
import { markSucceeded } from './sql/mark-succeeded.js';
import { markWithheld } from './sql/mark-withheld.js';
import { scheduleAttempt } from './sql/schedule-attempt.js';
import { type ActionEnv, type ActionProvider, type ActionRun, RetryableError } from './types.js';

/**
 * `skipped`: nothing to do (the run was done, or the job stale); `withheld`:
 * not sent, for good, because its provider's admission said so (the contact
 * unsubscribed); `deferred`: admitted later, with a job at that time.
 */
export type RunOutcome = 'succeeded' | 'retrying' | 'dead' | 'skipped' | 'withheld' | 'deferred';

/** The task list to give graphile-worker's run(): { nudge_action }. */
export function actionTasks(env: ActionEnv): TaskList {
  return {
    [ACTION_TASK]: async (payload) => {
      const refs = runRefsOf(payload);
      if (!refs) {
        env.log('error', 'nudge_action job without runs: dropped', {});
        return;
      }
      await runActions(env, refs);
    },
  };
}

/** The runs of a job: { runs: [{ id, attempt }] }, or one run as { runId, attempt }. */
function runRefsOf(payload: unknown): RunRef[] | undefined {
  const job = (payload ?? {}) as Partial<ActionJob & ActionBatchJob>;
  const list = Array.isArray(job.runs) ? job.runs : [{ id: job.runId, attempt: job.attempt }];
  const refs: RunRef[] = [];
  for (const item of list as { id?: unknown; attempt?: unknown }[]) {
    const id = Number(item?.id);
    if (!Number.isSafeInteger(id)) return undefined;
    refs.push(typeof item.attempt === 'number' ? { id, attempt: item.attempt } : { id });
  }
  return refs.length > 0 ? refs : undefined;
}

/**
 * One attempt of each run, and if recording their outcomes fails (the engine
 * store went away mid-attempt, the commit failed), a second transaction that
 * schedules the next attempt of each run still live. If that fails too the
 * error reaches graphile-worker, which keeps the failed job; the job runner
 * gives it another try (job-runner.ts) and recoverActions a new job later.
 */
export async function runActions(env: ActionEnv, refs: RunRef[]): Promise<Map<number, RunOutcome>> {
  try {
    return await executeRuns(env, refs);
  } catch (error) {
    env.log('error', 'recording action attempts failed; scheduling others', {
      runIds: refs.map((r) => r.id),
      error: describe(error),
    });
    // Not the actions' own failure (a delivered webhook must not become dead
    // because its outcome could not be written): each gets another attempt.
    const retry = new RetryableError(`recording the attempt failed: ${describe(error)}`);
    return env.sql.begin(async (tx) => {
      const outcomes = skippedAll(refs);
      for (const run of await lockLiveRuns(tx, refs)) {
        outcomes.set(run.id, await recordFailure(tx, env, run, retry));
      }
      return outcomes;
    });
  }
}

/** executeRuns for one run. */
export async function executeRun(
  env: ActionEnv,
  runId: number,
  attempt?: number,
): Promise<RunOutcome> {
  const outcomes = await executeRuns(env, [refOf(runId, attempt)]);
  return outcomes.get(runId) ?? 'skipped';
}

function refOf(id: number, attempt: number | undefined): RunRef {
  return attempt === undefined ? { id } : { id, attempt };
}

/**
 * Runs one attempt of each run, in one transaction. Delivery guarantees, in
 * order of strength:
 *
 * - The runs' rows are locked (FOR UPDATE) for the whole attempt, and a run
 *   that already succeeded or is dead is skipped. Two jobs for one run (a
 *   duplicate task, a replay racing a retry) therefore execute one after the
 *   other, and the second sees the first's outcome: never two at once.
 * - Before any effect, each provider's admission (email: unsubscribed,
 *   suppressed, quiet hours) may withhold a run for good or defer it; both
 *   are recorded here, with a decision.
 * - Effects on the engine store (set, lists, track) run one at a time, each
 *   in a savepoint of the transaction that marks the run succeeded: they
 *   commit together, so they happen exactly once per key.
 * - External effects (Resend, SMTP, the dev mailbox, webhooks, Edge
 *   Functions) run concurrently and do not join the transaction. They are at
 *   least once: if the process dies after the request left and before the
 *   commit, the next attempt sends again, with the same key (Idempotency-Key,
 *   the mailbox's key, webhook-id, Message-ID) so the receiver can drop the
 *   copy. The dev mailbox writes on a second connection of env.sql.
 *
 * Successes are recorded together (one update, one insert into the decision
 * log); each failure schedules its own retry. A run's `attempt`, from the job,
 * makes a stale job (one whose attempt was already made) a no-op for it. The
 * transaction holds one connection of env.sql for the length of the slowest
 * attempt (at most the timeout): size the pool to the worker's concurrency
 * plus what the rest of the process needs.
 */
export async function executeRuns(
  env: ActionEnv,
  refs: RunRef[],
): Promise<Map<number, RunOutcome>> {
  return env.sql.begin(async (tx) => {
    const outcomes = skippedAll(refs);
    const locked = await lockLiveRuns(tx, refs);
    // Each attempt's time in the provider, for the decision log (the dashboard's Logs).
    const done: { run: ActionRun; result: unknown; ms: number }[] = [];
    const failed: { run: ActionRun; error: unknown; ms?: number }[] = [];
    // Every string in the params rendered once, before admission and the effect.
    const rendered: ActionRun[] = [];
    for (const run of locked) {
      try {
        rendered.push(await renderParams(run, env));
      } catch (error) {
        failed.push({ run, error });
      }
    }
    const { runs, withheld, deferred } = await admitRuns(rendered, env, tx);
    const remote: ActionRun[] = [];
    const store: ActionRun[] = [];
    for (const run of runs) (usesStore(run, env) ? store : remote).push(run);
    const attempt = async (run: ActionRun) => {
      const start = performance.now();
      try {
        const result = await perform(run, env, tx);
        done.push({ run, result, ms: Math.round(performance.now() - start) });
      } catch (error) {
        failed.push({ run, error, ms: Math.round(performance.now() - start) });
      }
    };
    // Calls to other services first, all at once; then the store's effects,
    // one at a time (savepoints cannot overlap) in contact order, so the rows
    // they lock are held only until the commit, never across a slow request.
    await Promise.all(remote.map(attempt));
    store.sort((a, b) => (a.contactId ?? '').localeCompare(b.contactId ?? '') || a.id - b.id);
    for (const run of store) await attempt(run);

    if (done.length > 0) {
      // The run update and the decision-log rows, one statement.
      await markSucceeded(
        tx,
        done.map((d) => ({ id: d.run.id, result: d.result ?? null })),
        env.clock.now(),
        attemptWrites(
          tx,
          env,
          done.map(({ run, ms }) => ({
            run,
            ms,
            status: 'succeeded',
            reason: `${run.kind} attempt ${run.attempts + 1} succeeded`,
          })),
        ),
      );
      for (const { run } of done) outcomes.set(run.id, 'succeeded');
      logSuccesses(
        env,
        done.map((d) => d.run),
      );
    }
    for (const { run, error, ms } of failed) {
      outcomes.set(run.id, await recordFailure(tx, env, run, error, ms));
    }
    if (withheld.length > 0) {
      await recordWithheld(tx, env, withheld);
      for (const { run } of withheld) outcomes.set(run.id, 'withheld');
    }
    for (const deferral of deferred) {
      await recordDeferral(tx, env, deferral);
      outcomes.set(deferral.run.id, 'deferred');
    }
    return outcomes;
  });
}

interface Withheld {
  run: ActionRun;
  reason: string;
}

interface Deferral {
  run: ActionRun;
  until: Date;
  reason: string;
}

/** Each provider's admission of its runs (runs of a provider without one all go). */
async function admitRuns(
  runs: ActionRun[],
  env: ActionEnv,
  tx: postgres.TransactionSql,
): Promise<{ runs: ActionRun[]; withheld: Withheld[]; deferred: Deferral[] }> {
  const admitted: ActionRun[] = [];
  const withheld: Withheld[] = [];
  const deferred: Deferral[] = [];
  const byProvider = new Map<ActionProvider, ActionRun[]>();
  for (const run of runs) {
    const provider = providerByKind.get(run.kind);
    if (!provider?.admit) admitted.push(run);
    else byProvider.set(provider, [...(byProvider.get(provider) ?? []), run]);
  }
  for (const [provider, own] of byProvider) {
    const verdicts = await provider.admit!(own, env, tx);
    own.forEach((run, i) => {
      const verdict = verdicts[i] ?? { go: run };
      if ('go' in verdict) admitted.push(verdict.go);
      else if ('skip' in verdict) withheld.push({ run, reason: verdict.skip });
      else deferred.push({ run, until: verdict.defer, reason: verdict.reason });
    });
  }
  return { runs: admitted, withheld, deferred };
}

/**
 * Runs their admission refused (the contact unsubscribed from the topic, the
 * address bounced): final, status skipped, the reason in last_error and in
 * the decision log as a `skipped` decision.
 */
async function recordWithheld(tx: postgres.TransactionSql, env: ActionEnv, withheld: Withheld[]) {
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
async function recordDeferral(tx: postgres.TransactionSql, env: ActionEnv, deferral: Deferral) {
  const { run, until, reason } = deferral;
  // `until` is on the engine's clock (which `nudge dev` can move); the job's
  // run_at on the database's, which graphile-worker compares it with: the
  // wait is carried over as a delay, like a retry's.
  const delayMs = Math.max(0, until.getTime() - env.clock.now().getTime());
  await scheduleAttempt(tx, run.id, delayMs);
  await attemptWrites(tx, env, [{ run, status: 'deferred', reason }], 'deferred');
  env.log('info', `action ${run.kind} ${reason}`, logFields(run));
}

function skippedAll(refs: RunRef[]): Map<number, RunOutcome> {
  return new Map(refs.map((r) => [r.id, 'skipped' as RunOutcome]));
}

function usesStore(run: ActionRun, env: ActionEnv): boolean {
  return providerByKind.get(run.kind)?.usesStore?.(run, env) ?? false;
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

/** The run with every string in its params rendered. */
async function renderParams(run: ActionRun, env: ActionEnv): Promise<ActionRun> {
  const variables = templateVariables(run, env.project);
  const params = await rendererFor(env.project).value(run.params, variables, run.kind);
  return { ...run, params } as ActionRun;
}

/**
 * Runs the kind's provider on a rendered run. Only a provider that writes to
 * the store is given the transaction, as a savepoint of `tx`, so a failure
 * undoes its part; any other is given none.
 */
async function perform(run: ActionRun, env: ActionEnv, tx: postgres.TransactionSql) {
  const provider = providerFor(run.kind);
  if (provider.usesStore) return tx.savepoint((effects) => provider.execute(run, env, effects));
  return provider.execute(run, env);
}

/**
 * A failed attempt: dead when the error is permanent or this was the last
 * attempt allowed (actions.max_attempts), else retrying with a new job at
 * now + delay, the delay being the server's Retry-After when it gave one, or
 * exponential backoff with jitter. The delay is added in the database to the
 * same timestamp written to updated_at, with the database's clock that
 * graphile-worker compares run_at with.
 */
async function recordFailure(
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
  const delayMs = verdict.retryAfterMs ?? backoffMs(run.attempts, backoff_base_ms, backoff_max_ms);
  await scheduleAttempt(tx, run.id, delayMs, { attempts, error: verdict.message });
  await attemptWrites(tx, env, [
    {
      run,
      ...(ms === undefined ? {} : { ms }),
      status: 'retrying',
      reason: `${run.kind} attempt ${attempts} failed: ${verdict.message}; retry in ${delayMs} ms`,
    },
  ]);
  env.log('warn', `action ${run.kind} failed; retrying in ${delayMs} ms`, {
    ...logFields(run),
    attempts,
    error: verdict.message,
    ...(verdict.retryAfterMs === undefined ? {} : { retryAfterMs: verdict.retryAfterMs }),
  });
  return 'retrying';
}

/** Locks the runs (in id order) and returns those still to attempt at the job's attempt. */
async function lockLiveRuns(tx: postgres.TransactionSql, refs: RunRef[]): Promise<ActionRun[]> {
  const rows = await lockRuns(
    tx,
    refs.map((r) => r.id),
  );
  const attemptOf = new Map(refs.map((r) => [r.id, r.attempt]));
  return rows.filter((row) => live(row, attemptOf.get(Number(row.id)))).map(toActionRun);
}

/** Still to attempt, and the attempt this job was made for. */
function live(row: RunRow, attempt: number | undefined): boolean {
  if (row.status === 'succeeded' || row.status === 'dead') return false;
  return attempt === undefined || row.attempts === attempt;
}

function toActionRun(row: RunRow): ActionRun {
  return {
    id: Number(row.id),
    key: row.key,
    feature: row.feature,
    contactId: row.contact_id,
    stage: row.stage,
    kind: row.kind,
    params: row.params,
    context: row.context ?? { contact: null },
    attempts: row.attempts,
  };
}

/** What logs say about a run: never its params (headers, bodies) or context. */
function logFields(run: ActionRun): Record<string, unknown> {
  return { runId: run.id, key: run.key, kind: run.kind, feature: run.feature };
}
