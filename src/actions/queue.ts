// The action queue: one row per idempotency key in nudge_engine.action_runs
// and one graphile-worker job (task nudge_action, job key action:<key>) for
// each run that still has an attempt to make. Enqueue, replay, recovery.
import type postgres from 'postgres';
import { parseDuration } from '../config/duration.js';
import type { Db } from '../contacts/store.js';
import { WORKER_SCHEMA } from '../db/migrate.js';
import { records } from '../db/records.js';
import { NudgeError } from '../errors.js';
import type { NewActionRun } from './types.js';

export const ACTION_TASK = 'nudge_action';

/** The payload of a nudge_action job for one run. `attempt`: the run's attempts when the job was added. */
export interface ActionJob {
  runId: number;
  attempt?: number;
}

/** The payload of a nudge_action job for several new runs, executed together (task.ts). */
export interface ActionBatchJob {
  runs: { id: number; attempt: number }[];
}

/**
 * Runs per job when a lane's transaction enqueues many: one job and one
 * transaction for them all instead of one each (the job queue's own cost is
 * what limited throughput), while a lane's 200 still spread over 8 jobs.
 */
export const RUNS_PER_JOB = 25;

/**
 * The job spec for each row of `source` (a query with id, key, attempts and
 * run_at columns), for graphile-worker's add_jobs. max_attempts is 1 because
 * the task schedules its own retries (so it can honour Retry-After); the job
 * key keeps one waiting job per run (adding it again replaces it).
 */
const jobSpecs = (sql: Db, source: postgres.PendingQuery<postgres.Row[]>) => sql`
  select array_agg(row(
           ${ACTION_TASK}, json_build_object('runId', s.id, 'attempt', s.attempts),
           null, s.run_at, 1, 'action:' || s.key, null, null
         )::${sql(WORKER_SCHEMA)}.job_spec) as specs
    from (${source}) s`;

/**
 * Like jobSpecs, one job per RUNS_PER_JOB rows of `source` (in id order),
 * without a job key: a retry, replay or recovery gives a run a keyed job of
 * its own.
 */
const batchJobSpecs = (sql: Db, source: postgres.PendingQuery<postgres.Row[]>) => sql`
  select array_agg(row(
           ${ACTION_TASK}, json_build_object('runs', b.runs), null, b.run_at, 1, null, null, null
         )::${sql(WORKER_SCHEMA)}.job_spec) as specs
    from (select json_agg(json_build_object('id', s.id, 'attempt', s.attempts) order by s.id) as runs,
                 max(s.run_at) as run_at
            from (select *, (row_number() over (order by id) - 1) / ${RUNS_PER_JOB} as chunk
                    from (${source}) t) s
           group by s.chunk) b`;

/** One run a job (or the deciding process) attempts, and at which attempt: a stale reference is a no-op. */
export interface RunRef {
  id: number;
  attempt?: number;
}

/**
 * Inserts new runs, skipping keys already known (in this batch or before),
 * returning id, key, attempts and `runAt` as run_at for the job specs.
 * created_at (and updated_at, the same value) is the insert's own time, not
 * its transaction's start: the decisions that queued a run are stamped while
 * the transaction runs, and a contact's timeline shows the run after them.
 */
const insertRuns = (tx: Db, runs: NewActionRun[], runAt: Date | null) => tx`
  insert into nudge_engine.action_runs
    (key, feature, contact_id, stage, kind, params, context, created_at, updated_at)
  select key, feature, contact_id, stage, kind, params, context, t.at, t.at
    from ${records(
      tx,
      runs.map((r) => ({
        key: r.key,
        feature: r.feature,
        contact_id: r.contactId,
        stage: r.stage,
        kind: r.action.kind,
        params: r.action.params ?? null,
        context: r.context,
      })),
      'key text, feature text, contact_id uuid, stage text, kind text, params jsonb, context jsonb',
    )}
    cross join lateral (select clock_timestamp() as at) t
  on conflict (key) do nothing
  returning id, key, attempts, ${runAt}::timestamptz as run_at`;

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
  const [row] = await tx<{ count: number }[]>`
    with inserted as (${insertRuns(tx, runs, options.runAt ?? null)}
    ), specs as (${batchJobSpecs(tx, tx`select * from inserted`)}
    ), added as (
      select count(j.*) as jobs from specs, ${tx(WORKER_SCHEMA)}.add_jobs(specs.specs) j
       where specs.specs is not null
    )
    select (select count(*)::int from inserted) as count from added`;
  return row?.count ?? 0;
}

/**
 * Records runs like enqueueActions but gives them no job: the deciding
 * process attempts them itself once the transaction commits (direct.ts). A
 * statement not sent yet, to send with the transaction's others (process.ts
 * finish); runRefs reads the new runs from its rows. If that process dies
 * first, recoverActions gives them a job.
 */
export const newRuns = (tx: Db, runs: NewActionRun[]) => insertRuns(tx, runs, null);

/** The runs newRuns inserted, as references for their first attempt. */
export function runRefs(rows: readonly postgres.Row[]): RunRef[] {
  return rows.map((r) => ({ id: Number(r.id), attempt: Number(r.attempts) }));
}

export interface ReplayFilter {
  /** This run, whatever its status. */
  key?: string;
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
 * What to replay, as `nudge replay` and the dashboard's Replay say it: one run
 * by key, or the dead runs of a feature and/or created within a time before
 * `now`. At least one; a ReplayFilterError names what is wrong.
 */
export function replayFilter(text: ReplayFilterText, now = new Date()): ReplayFilter {
  if (!text.key && !text.feature && !text.since) {
    throw new ReplayFilterError(undefined, 'say what to replay');
  }
  const sinceMs = text.since ? parseDuration(text.since) : undefined;
  if (text.since && sinceMs === undefined) {
    throw new ReplayFilterError('since', 'expected a duration such as 2h or 7d');
  }
  return {
    ...(text.key ? { key: text.key } : {}),
    ...(text.feature ? { feature: text.feature } : {}),
    ...(sinceMs !== undefined ? { since: new Date(now.getTime() - sinceMs) } : {}),
  };
}

/**
 * Puts dead runs (or, with `key`, that run whatever its status) back to
 * pending with attempts reset (counted in replays and attempts_before_replay),
 * and gives each a job that runs now. Returns how many. A replay delivers under the same key: the dev mailbox, tracked events
 * and receivers that deduplicate by key (Resend within 24 hours, webhook
 * receivers by webhook-id) will not see a second copy of one they received.
 * A run that is executing right now is waited for (row lock) and then
 * re-checked against the filter.
 */
export async function replayActions(sql: Db, filter: ReplayFilter): Promise<number> {
  const { key = null, feature = null, since = null, until = null } = filter;
  const [row] = await sql<{ count: number }[]>`
    with picked as (
      select id from nudge_engine.action_runs
       where (case when ${key}::text is null then status = 'dead' else key = ${key}::text end)
         and (${feature}::text is null or feature = ${feature}::text)
         and (${since}::timestamptz is null or created_at >= ${since}::timestamptz)
         and (${until}::timestamptz is null or created_at < ${until}::timestamptz)
       for update
    ), reset as (
      update nudge_engine.action_runs r
         set status = 'pending', attempts = 0, last_error = null, result = null,
             completed_at = null, updated_at = now(), replays = r.replays + 1,
             attempts_before_replay = r.attempts_before_replay + r.attempts
        from picked where r.id = picked.id
      returning r.id, r.key, r.attempts, null::timestamptz as run_at
    ), specs as (${jobSpecs(sql, sql`select * from reset`)})
    select count(j.*)::int as count
      from specs, ${sql(WORKER_SCHEMA)}.add_jobs(specs.specs) j
     where specs.specs is not null`;
  return row?.count ?? 0;
}

/**
 * How long a run waits, untouched, with no job and no lock, before
 * recoverActions gives it a job. The deciding process starts a first attempt
 * milliseconds after its commit (direct.ts), so a run still untouched after
 * this long was orphaned; a job that did get a run in the meantime makes the
 * recovered one a no-op (attempt numbers), so the window trades only how soon
 * an orphan is delivered against how often a no-op job runs.
 */
export const RECOVER_AFTER_MS = 30_000;

/**
 * Gives a job back to runs that should have one and do not: pending or
 * retrying, unchanged for `staleAfterMs`, not being executed (their row is
 * not locked) and with no job waiting. That happens when an engine process
 * died between deciding runs and attempting them (direct.ts), when a worker
 * process died mid-attempt (its job stays locked, and with max_attempts 1 is
 * never retried) or when recording an attempt's outcome failed. Safe to run
 * at any time and from several processes; the engine runs it periodically.
 * Returns how many runs it re-enqueued.
 */
export async function recoverActions(
  sql: Db,
  options: { staleAfterMs?: number } = {},
): Promise<number> {
  const staleAfterMs = options.staleAfterMs ?? RECOVER_AFTER_MS;
  const [row] = await sql<{ count: number }[]>`
    with waiting as materialized (
      -- The runs a job waits to run: one (runId, keyed or not) or a batch (runs).
      select coalesce((p.payload ->> 'runId')::bigint, (run ->> 'id')::bigint) as id
        from ${sql(WORKER_SCHEMA)}.jobs j
        join ${sql(WORKER_SCHEMA)}._private_jobs p using (id)
        left join lateral json_array_elements(p.payload -> 'runs') run on true
       where j.task_identifier = ${ACTION_TASK} and j.locked_at is null
         and j.attempts < j.max_attempts
    ), stuck as (
      select r.id from nudge_engine.action_runs r
       where r.status in ('pending', 'retrying')
         and r.updated_at < now() - ${staleAfterMs} * interval '1 millisecond'
         and not exists (select from waiting w where w.id = r.id)
       for update of r skip locked
    ), touched as (
      update nudge_engine.action_runs r set updated_at = now()
        from stuck where r.id = stuck.id
      returning r.id, r.key, r.attempts, null::timestamptz as run_at
    ), specs as (${jobSpecs(sql, sql`select * from touched`)})
    select count(j.*)::int as count
      from specs, ${sql(WORKER_SCHEMA)}.add_jobs(specs.specs) j
     where specs.specs is not null`;
  return row?.count ?? 0;
}
