// The worker side of actions: graphile-worker's nudge_action task runs one
// attempt of one run (render, execute the provider, record the outcome) and
// schedules the next attempt itself, with backoff or the server's Retry-After.
import type { TaskList } from 'graphile-worker';
import type postgres from 'postgres';
import { WORKER_SCHEMA } from '../db/migrate.js';
import { providerFor } from './index.js';
import { ACTION_TASK, type ActionJob } from './queue.js';
import { rendererFor, templateVariables } from './render.js';
import { backoffMs, describe, judge } from './retry.js';
import type { ActionEnv, ActionRun } from './types.js';

export type RunOutcome = 'succeeded' | 'retrying' | 'dead' | 'skipped';

interface RunRow {
  id: string;
  key: string;
  feature: string | null;
  contact_id: string | null;
  stage: string | null;
  kind: ActionRun['kind'];
  params: ActionRun['params'];
  context: ActionRun['context'] | null;
  status: 'pending' | 'retrying' | 'succeeded' | 'dead';
  attempts: number;
}

/** The task list to give graphile-worker's run(): { nudge_action }. */
export function actionTasks(env: ActionEnv): TaskList {
  return {
    [ACTION_TASK]: async (payload) => {
      const job = payload as Partial<ActionJob> | null;
      const runId = Number(job?.runId);
      if (!Number.isSafeInteger(runId)) {
        env.log('error', 'nudge_action job without a runId: dropped', {});
        return;
      }
      await runAction(env, runId, typeof job?.attempt === 'number' ? job.attempt : undefined);
    },
  };
}

/**
 * One attempt, and if recording its outcome fails (the engine store went away
 * mid-attempt, the commit failed), a second transaction that schedules the
 * next attempt. If that fails too the error reaches graphile-worker, which
 * keeps the failed job; recoverActions gives the run a new job later.
 */
export async function runAction(
  env: ActionEnv,
  runId: number,
  attempt?: number,
): Promise<RunOutcome> {
  try {
    return await executeRun(env, runId, attempt);
  } catch (error) {
    env.log('error', 'recording an action attempt failed; scheduling another', {
      runId,
      error: describe(error),
    });
    return env.sql.begin(async (tx) => {
      const row = await lockRun(tx, runId);
      if (!row || !live(row, attempt)) return 'skipped';
      return recordFailure(tx, env, toActionRun(row), error);
    });
  }
}

/**
 * Runs one attempt of a run. Delivery guarantees, in order of strength:
 *
 * - The run's row is locked (FOR UPDATE) for the whole attempt, and a run
 *   that already succeeded or is dead is skipped. Two jobs for one run (a
 *   duplicate task, a replay racing a retry) therefore execute one after the
 *   other, and the second sees the first's outcome: never two at once.
 * - Effects on the engine store (set, lists, track, the dev mailbox) run in a
 *   savepoint of the transaction that marks the run succeeded: they commit
 *   together, so they happen exactly once per key.
 * - External effects (Resend, SMTP, webhooks, Edge Functions) cannot join the
 *   transaction. They are at least once: if the process dies after the
 *   request left and before the commit, the next attempt sends again, with
 *   the same key (Idempotency-Key, webhook-id, Message-ID) so the receiver
 *   can drop the copy.
 *
 * `attempt`, from the job, makes a stale job (one whose attempt was already
 * made) a no-op. The transaction holds one connection of env.sql for the
 * length of the attempt (at most the timeout): size the pool to the worker's
 * concurrency plus what the rest of the process needs.
 */
export async function executeRun(
  env: ActionEnv,
  runId: number,
  attempt?: number,
): Promise<RunOutcome> {
  return env.sql.begin(async (tx) => {
    const row = await lockRun(tx, runId);
    if (!row || !live(row, attempt)) return 'skipped';
    const run = toActionRun(row);
    let result: unknown;
    try {
      result = await tx.savepoint((effects) => perform(run, env, effects));
    } catch (error) {
      return recordFailure(tx, env, run, error);
    }
    await tx`
      update nudge_engine.action_runs
         set status = 'succeeded', attempts = ${run.attempts + 1}, last_error = null,
             result = ${tx.json((result ?? null) as postgres.JSONValue)},
             completed_at = ${env.clock.now()}, updated_at = clock_timestamp()
       where id = ${run.id}`;
    await recordAttempt(
      tx,
      env,
      run,
      'succeeded',
      `${run.kind} attempt ${run.attempts + 1} succeeded`,
    );
    env.log('info', `action ${run.kind} succeeded`, logFields(run));
    return 'succeeded';
  });
}

/**
 * Every attempt and its result goes to the decision log (outcome `attempt`),
 * in the transaction that records the attempt on the run, for `nudge logs`.
 */
async function recordAttempt(
  tx: postgres.TransactionSql,
  env: ActionEnv,
  run: ActionRun,
  status: 'succeeded' | 'retrying' | 'dead',
  reason: string,
): Promise<void> {
  const detail = JSON.stringify({
    kind: run.kind,
    key: run.key,
    attempt: run.attempts + 1,
    status,
  });
  await tx`
    insert into nudge_engine.decisions (at, feature, contact_id, outcome, reason, detail)
    values (${env.clock.now()}, ${run.feature}, ${run.contactId}, 'attempt', ${reason}, ${detail}::text::jsonb)`;
}

/** Renders every string in the params, then runs the kind's provider. */
async function perform(run: ActionRun, env: ActionEnv, tx: postgres.TransactionSql) {
  const provider = providerFor(run.kind);
  const variables = templateVariables(run, env.project);
  const params = await rendererFor(env.project).value(run.params, variables, run.kind);
  return provider.execute({ ...run, params } as ActionRun, env, tx);
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
): Promise<RunOutcome> {
  const verdict = judge(error);
  const attempts = run.attempts + 1;
  const { max_attempts, backoff_base_ms, backoff_max_ms } = env.project.config.actions;
  if (!verdict.retry || attempts >= max_attempts) {
    await tx`
      update nudge_engine.action_runs
         set status = 'dead', attempts = ${attempts}, last_error = ${verdict.message},
             updated_at = clock_timestamp()
       where id = ${run.id}`;
    await recordAttempt(
      tx,
      env,
      run,
      'dead',
      `${run.kind} attempt ${attempts} failed: ${verdict.message}; dead (${verdict.retry ? `no attempts left of ${max_attempts}` : 'will not succeed as configured'})`,
    );
    env.log('error', `action ${run.kind} is dead: ${verdict.message}`, {
      ...logFields(run),
      attempts,
      reason: verdict.retry ? 'last attempt failed' : 'permanent error',
    });
    return 'dead';
  }
  const delayMs = verdict.retryAfterMs ?? backoffMs(run.attempts, backoff_base_ms, backoff_max_ms);
  await tx`
    with failed as (
      update nudge_engine.action_runs
         set status = 'retrying', attempts = ${attempts}, last_error = ${verdict.message},
             updated_at = clock_timestamp()
       where id = ${run.id}
      returning id, key, attempts, updated_at + ${delayMs} * interval '1 millisecond' as run_at
    )
    select ${tx(WORKER_SCHEMA)}.add_jobs(array[row(
             ${ACTION_TASK}, json_build_object('runId', id, 'attempt', attempts),
             null, run_at, 1, 'action:' || key, null, null)::${tx(WORKER_SCHEMA)}.job_spec])
      from failed`;
  await recordAttempt(
    tx,
    env,
    run,
    'retrying',
    `${run.kind} attempt ${attempts} failed: ${verdict.message}; retry in ${delayMs} ms`,
  );
  env.log('warn', `action ${run.kind} failed; retrying in ${delayMs} ms`, {
    ...logFields(run),
    attempts,
    error: verdict.message,
    ...(verdict.retryAfterMs === undefined ? {} : { retryAfterMs: verdict.retryAfterMs }),
  });
  return 'retrying';
}

async function lockRun(tx: postgres.TransactionSql, runId: number): Promise<RunRow | undefined> {
  const [row] = await tx<RunRow[]>`
    select id, key, feature, contact_id, stage, kind, params, context, status, attempts
      from nudge_engine.action_runs where id = ${runId} for update`;
  return row;
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
