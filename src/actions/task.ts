// The worker side of actions: graphile-worker's nudge_action task runs one
// attempt of one run (render, execute the provider, record the outcome:
// outcomes.ts), and the next attempt is scheduled with backoff or the server's Retry-After.
import type { TaskList } from 'graphile-worker';
import type postgres from 'postgres';
import { providerByKind, providerFor } from './index.js';
import {
  type Deferral,
  type RunOutcome,
  recordDeferral,
  recordFailure,
  recordSuccesses,
  recordWithheld,
  type Success,
  type Withheld,
} from './outcomes.js';
import { ACTION_TASK, type ActionBatchJob, type ActionJob, type RunRef } from './queue.js';
import { rendererFor, templateVariables } from './render.js';
import { essentialResult } from './result.js';
import { describe } from './retry.js';
import { lockRuns, type RunRow } from './sql/lock-runs.js';
import { type ActionEnv, type ActionProvider, type ActionRun, RetryableError } from './types.js';

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
 * store went away mid-attempt, the commit failed, a statement was refused), a
 * second transaction for each run still live at the job's attempt:
 *
 * - A run whose effect outside the store completed (the request was
 *   answered 2xx, the email accepted) is recorded succeeded, with only the
 *   essential part of its result (an email's message id): it was delivered,
 *   and neither another attempt (a second delivery) nor, on its last
 *   attempt, dead (a replay: a third) would be true.
 * - Any other (a store effect, undone with the transaction; a failure whose
 *   retry was not recorded; a run not attempted) gets another attempt. That
 *   is not the action's own failure, but it counts towards max_attempts.
 *
 * If that fails too the error reaches graphile-worker, which keeps the failed
 * job; the job runner gives it another try (job-runner.ts) and recoverActions
 * a new job later.
 */
export async function runActions(env: ActionEnv, refs: RunRef[]): Promise<Map<number, RunOutcome>> {
  const delivered: Delivered = new Map();
  try {
    return await executeRuns(env, refs, delivered);
  } catch (error) {
    const problem = describe(error);
    const why = `recording the attempt failed: ${problem}`;
    env.log('error', 'recording action attempts failed; scheduling others', {
      runIds: refs.map((r) => r.id),
      error: problem,
    });
    const retry = new RetryableError(why);
    return env.sql.begin(async (tx) => {
      const outcomes = skippedAll(refs);
      const done: Success[] = [];
      const undelivered: ActionRun[] = [];
      for (const run of await lockLiveRuns(tx, refs)) {
        const effect = delivered.get(run.id);
        if (effect) done.push({ run, result: essentialResult(effect.result), ms: effect.ms });
        else undelivered.push(run);
      }
      if (done.length > 0) {
        await recordSuccesses(tx, env, done, `; its result is not kept (${why})`);
        for (const { run } of done) outcomes.set(run.id, 'succeeded');
      }
      for (const run of undelivered) {
        outcomes.set(run.id, await recordFailure(tx, env, run, retry));
      }
      return outcomes;
    });
  }
}

/**
 * The runs of an attempt whose effect outside the store completed, by id,
 * with their result and time in the provider: filled as each completes, so
 * runActions knows them when recording the attempt fails.
 */
type Delivered = Map<number, { result: unknown; ms: number }>;

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
 *   that already succeeded, is dead or was withheld is skipped. Two jobs for
 *   one run (a duplicate task, a replay racing a retry) therefore execute one
 *   after the other, and the second sees the first's outcome: never two at
 *   once.
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
 * log), each result made storable first (result.ts); each failure schedules
 * its own retry. `delivered` is told each run whose external effect completed,
 * for runActions should the recording fail. A run's `attempt`, from the job,
 * makes a stale job (one whose attempt was already made) a no-op for it. The
 * transaction holds one connection of env.sql for the length of the slowest
 * attempt (at most the timeout): size the pool to the worker's concurrency
 * plus what the rest of the process needs.
 */
export async function executeRuns(
  env: ActionEnv,
  refs: RunRef[],
  delivered: Delivered = new Map(),
): Promise<Map<number, RunOutcome>> {
  return env.sql.begin(async (tx) => {
    const outcomes = skippedAll(refs);
    const locked = await lockLiveRuns(tx, refs);
    // Each attempt's time in the provider, for the decision log (the dashboard's Logs).
    const done: Success[] = [];
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
    const attempt = async (run: ActionRun, external: boolean) => {
      const start = performance.now();
      try {
        const result = await perform(run, env, tx);
        const ms = Math.round(performance.now() - start);
        done.push({ run, result, ms });
        // A store effect is undone if the transaction is: not delivered yet.
        if (external) delivered.set(run.id, { result, ms });
      } catch (error) {
        failed.push({ run, error, ms: Math.round(performance.now() - start) });
      }
    };
    // Calls to other services first, all at once; then the store's effects,
    // one at a time (savepoints cannot overlap) in contact order, so the rows
    // they lock are held only until the commit, never across a slow request.
    await Promise.all(remote.map((run) => attempt(run, true)));
    store.sort((a, b) => (a.contactId ?? '').localeCompare(b.contactId ?? '') || a.id - b.id);
    for (const run of store) await attempt(run, false);

    if (done.length > 0) {
      await recordSuccesses(tx, env, done);
      for (const { run } of done) outcomes.set(run.id, 'succeeded');
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

function skippedAll(refs: RunRef[]): Map<number, RunOutcome> {
  return new Map(refs.map((r) => [r.id, 'skipped' as RunOutcome]));
}

function usesStore(run: ActionRun, env: ActionEnv): boolean {
  return providerByKind.get(run.kind)?.usesStore?.(run, env) ?? false;
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

/** Locks the runs (in id order) and returns those still to attempt at the job's attempt. */
async function lockLiveRuns(tx: postgres.TransactionSql, refs: RunRef[]): Promise<ActionRun[]> {
  const rows = await lockRuns(
    tx,
    refs.map((r) => r.id),
  );
  const attemptOf = new Map(refs.map((r) => [r.id, r.attempt]));
  return rows.filter((row) => live(row, attemptOf.get(Number(row.id)))).map(toActionRun);
}

/**
 * Still to attempt (pending or retrying: not succeeded, dead, or skipped —
 * withheld for good by its admission), and the attempt this job was made for.
 */
function live(row: RunRow, attempt: number | undefined): boolean {
  if (row.status !== 'pending' && row.status !== 'retrying') return false;
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
