// The action queue on a real database (no worker running): enqueue in the
// caller's transaction, one run and one job per key, replay of dead runs by
// filter (and the filter as it is written), and recovery of runs whose job was lost.
import postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  enqueueActions,
  ReplayFilterError,
  RUNS_PER_JOB,
  recoverActions,
  replayActions,
  replayFilter,
} from '../../src/actions/queue.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';
import { onlyRollback } from '../harness/rollback.js';
import { waitFor } from '../harness/wait.js';
import { enqueue, newRun, uniqueKey } from './setup.js';

const db = useDatabase();

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
});

interface JobRow {
  task_identifier: string;
  key: string;
  max_attempts: number;
  run_at: Date;
  payload: { runId?: number; attempt?: number; runs?: { id: number; attempt: number }[] };
}

/** Deletes every job of the run with this key: its own, and the batch that carries it. */
async function dropJobsOf(key: string) {
  await db.sql`
    delete from nudge_worker._private_jobs p
     using nudge_engine.action_runs r
     where r.key = ${key}
       and (p.key = 'action:' || r.key
            or exists (select from json_array_elements(p.payload -> 'runs') x
                        where (x ->> 'id')::bigint = r.id))`;
}

/** The keyless jobs that carry these runs (enqueueActions' batches), in id order. */
async function batchJobsFor(runIds: number[]) {
  return db.sql<JobRow[]>`
    select j.task_identifier, j.key, j.max_attempts, j.run_at, p.payload
      from nudge_worker.jobs j join nudge_worker._private_jobs p using (id)
     where exists (select from json_array_elements(p.payload -> 'runs') r
                    where (r ->> 'id')::bigint = any(${runIds}::bigint[]))
     order by j.id`;
}

async function jobsFor(keys: string[]) {
  return db.sql<JobRow[]>`
    select j.task_identifier, j.key, j.max_attempts, j.run_at, p.payload
      from nudge_worker.jobs j join nudge_worker._private_jobs p using (id)
     where j.key in ${db.sql(keys.map((k) => `action:${k}`))} order by j.key`;
}

const webhook = (url = 'http://127.0.0.1:9/x') =>
  ({ kind: 'webhook', params: { url, method: 'POST' } }) as const;

describe('enqueueActions', () => {
  it('adds one run and one job per new key, in one batch, and ignores known keys', async () => {
    const [a, b] = [uniqueKey('a'), uniqueKey('b')];
    const added = await enqueue(db.sql, [
      newRun(a, webhook(), { new: { id: 1 } }),
      newRun(b, { kind: 'track', params: { event: 'x' } }),
      newRun(a, webhook('http://elsewhere/')), // same key in the same batch
    ]);
    expect(added).toBe(2);
    expect(await enqueue(db.sql, [newRun(a, webhook()), newRun(b, webhook())])).toBe(0);

    const runs = await db.sql`
      select id, key, kind, params, context, status, attempts, feature, stage
        from nudge_engine.action_runs where key in ${db.sql([a, b])} order by key`;
    expect(runs.map((r) => [r.key, r.kind, r.status, r.attempts, r.feature, r.stage])).toEqual([
      [a, 'webhook', 'pending', 0, 'test-feature', 'first'],
      [b, 'track', 'pending', 0, 'test-feature', 'first'],
    ]);
    expect(runs[0]!.params).toEqual({ url: 'http://127.0.0.1:9/x', method: 'POST' });
    expect(runs[0]!.context).toEqual({ contact: null, new: { id: 1 } });
    // Stamped when inserted (after the decisions that queued them), created and updated alike.
    const [times] = await db.sql<{ same: boolean }[]>`
      select bool_and(created_at = updated_at) as same from nudge_engine.action_runs
       where key in ${db.sql([a, b])}`;
    expect(times!.same).toBe(true);

    const jobs = await batchJobsFor(runs.map((r) => Number(r.id)));
    expect(jobs.map((j) => [j.task_identifier, j.key, j.max_attempts, j.payload])).toEqual([
      [
        'nudge_action',
        null,
        1,
        {
          runs: [
            { id: Number(runs[0]!.id), attempt: 0 },
            { id: Number(runs[1]!.id), attempt: 0 },
          ],
        },
      ],
    ]);
  });

  it(`gives a job to every ${RUNS_PER_JOB} new runs, each run in exactly one`, async () => {
    const keys = Array.from({ length: RUNS_PER_JOB * 2 + 3 }, (_, i) => uniqueKey(`many-${i}`));
    expect(
      await enqueue(
        db.sql,
        keys.map((key) => newRun(key, webhook())),
      ),
    ).toBe(keys.length);
    const runs = await db.sql<{ id: string }[]>`
      select id from nudge_engine.action_runs where key in ${db.sql(keys)} order by id`;
    const jobs = await batchJobsFor(runs.map((r) => Number(r.id)));
    expect(jobs.map((j) => j.payload.runs!.length)).toEqual([RUNS_PER_JOB, RUNS_PER_JOB, 3]);
    expect(jobs.flatMap((j) => j.payload.runs!.map((r) => r.id))).toEqual(
      runs.map((r) => Number(r.id)),
    );
  });

  it('commits with the caller: a rolled-back transaction enqueues nothing', async () => {
    const key = uniqueKey('rollback');
    const jobCount = async () =>
      (await db.sql`select count(*)::int as n from nudge_worker.jobs`)[0]!.n as number;
    const before = await jobCount();
    await db.sql
      .begin(async (tx) => {
        expect(await enqueueActions(tx, [newRun(key, webhook())])).toBe(1);
        throw new Error('the journey step failed');
      })
      .catch(onlyRollback('the journey step failed'));
    const [runs] =
      await db.sql`select count(*)::int as n from nudge_engine.action_runs where key = ${key}`;
    expect(runs!.n).toBe(0);
    expect(await jobCount()).toBe(before);
  });

  it('delays the jobs to runAt', async () => {
    const key = uniqueKey('later');
    const runAt = new Date(Date.now() + 3_600_000);
    await enqueue(db.sql, [newRun(key, webhook())], { runAt });
    const [run] = await db.sql`select id from nudge_engine.action_runs where key = ${key}`;
    const [job] = await batchJobsFor([Number(run!.id)]);
    expect(job!.run_at.getTime()).toBe(runAt.getTime());
  });
});

describe('replayFilter', () => {
  const now = new Date('2026-01-02T12:00:00Z');

  it('turns the written filter into one: a key, a feature, a time before now', () => {
    expect(replayFilter({ key: 'k1' }, now)).toEqual({ key: 'k1' });
    expect(replayFilter({ key: 'k1', force: true }, now)).toEqual({ key: 'k1', force: true });
    expect(replayFilter({ feature: 'drip', since: '2h' }, now)).toEqual({
      feature: 'drip',
      since: new Date('2026-01-02T10:00:00Z'),
    });
    // Empty text says nothing, as an absent option does.
    expect(replayFilter({ key: '', feature: 'drip', since: undefined }, now)).toEqual({
      feature: 'drip',
    });
  });

  it('refuses a filter that says nothing, or a bad time, naming the field', () => {
    const error = (text: Parameters<typeof replayFilter>[0]) => {
      try {
        replayFilter(text, now);
      } catch (thrown) {
        expect(thrown).toBeInstanceOf(ReplayFilterError);
        const { field, problem, message } = thrown as ReplayFilterError;
        return { field, problem, message };
      }
      throw new Error('no error');
    };
    expect(error({})).toEqual({
      field: undefined,
      problem: 'say what to replay',
      message: 'say what to replay',
    });
    expect(error({ key: '', feature: '' })).toMatchObject({ field: undefined });
    expect(error({ feature: 'drip', since: 'lately' })).toEqual({
      field: 'since',
      problem: 'expected a duration such as 2h or 7d',
      message: 'since: expected a duration such as 2h or 7d',
    });
    // Force sends one run again whatever its status, never all of a feature.
    expect(error({ feature: 'drip', force: true })).toEqual({
      field: 'force',
      problem: 'only with a key: it replays one run whatever its status',
      message: 'force: only with a key: it replays one run whatever its status',
    });
  });
});

describe('replayActions', () => {
  async function deadRun(feature: string, createdAt: string) {
    const key = uniqueKey(feature);
    await enqueue(db.sql, [{ ...newRun(key, webhook()), feature }]);
    await dropJobsOf(key);
    await db.sql`
      update nudge_engine.action_runs
         set status = 'dead', attempts = 3, last_error = 'webhook answered 503', created_at = ${createdAt}
       where key = ${key}`;
    return key;
  }

  it('puts dead runs matching the filter back to pending, with a job each', async () => {
    const feature = `replay-${uniqueKey('f').slice(-6)}`;
    const early = await deadRun(feature, '2026-01-01T00:00:00Z');
    const middle = await deadRun(feature, '2026-01-02T00:00:00Z');
    const late = await deadRun(feature, '2026-01-03T00:00:00Z');
    const other = await deadRun(`${feature}-other`, '2026-01-02T00:00:00Z');

    const replayed = await replayActions(db.sql, {
      feature,
      since: new Date('2026-01-02T00:00:00Z'),
      until: new Date('2026-01-03T00:00:00Z'),
    });
    expect(replayed).toBe(1);
    const rows = await db.sql`
      select key, status, attempts, last_error from nudge_engine.action_runs
       where key in ${db.sql([early, middle, late, other])}`;
    const byKey = Object.fromEntries(rows.map((r) => [r.key, r]));
    expect(byKey[middle]).toMatchObject({ status: 'pending', attempts: 0, last_error: null });
    for (const key of [early, late, other]) expect(byKey[key]!.status).toBe('dead');
    expect((await jobsFor([early, middle, late, other])).map((j) => j.key)).toEqual([
      `action:${middle}`,
    ]);

    expect(await replayActions(db.sql, { feature })).toBe(2);
    expect(await replayActions(db.sql, { feature })).toBe(0);
  });

  it('replays one run by key only when it is dead, or whatever its status when forced', async () => {
    const key = uniqueKey('by-key');
    await enqueue(db.sql, [newRun(key, webhook())]);
    await dropJobsOf(key);
    await db.sql`update nudge_engine.action_runs set status = 'succeeded', attempts = 1 where key = ${key}`;
    // A succeeded run is not sent again (a second email, old values set again) by a replay.
    await expect(replayActions(db.sql, { key })).rejects.toMatchObject({
      name: 'RunNotDead',
      key,
      status: 'succeeded',
      message: `the action run with the key ${key} is succeeded, not dead`,
    });
    expect(await jobsFor([key])).toEqual([]);
    expect(await replayActions(db.sql, { key, force: true })).toBe(1);
    const [run] =
      await db.sql`select status, attempts from nudge_engine.action_runs where key = ${key}`;
    expect(run).toEqual({ status: 'pending', attempts: 0 });
    const [job] = await jobsFor([key]);
    expect(job!.payload.attempt).toBe(0);
  });

  it('replays a dead run once when two replays of its key race (two clicks)', async () => {
    const key = uniqueKey('raced');
    await enqueue(db.sql, [newRun(key, webhook())]);
    await dropJobsOf(key);
    await db.sql`update nudge_engine.action_runs set status = 'dead', attempts = 3 where key = ${key}`;
    // An attempt holds the run's row: both replays wait for it, then decide.
    const pool = postgres(db.url, { onnotice: () => {}, max: 3 });
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked!: () => void;
    const held = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = pool.begin(async (tx) => {
      await tx`select id from nudge_engine.action_runs where key = ${key} for update`;
      locked();
      await released;
    });
    try {
      await held;
      const replays = [replayActions(pool, { key }), replayActions(pool, { key })];
      await waitFor(
        async () => {
          const [row] = await db.sql<{ n: number }[]>`
            select count(*)::int as n from pg_stat_activity
             where datname = current_database() and wait_event_type = 'Lock'`;
          return row!.n >= 2 ? true : undefined;
        },
        'both replays to wait for the run',
        10_000,
      );
      release();
      await holder;
      const settled = await Promise.allSettled(replays);
      expect(settled.filter((s) => s.status === 'fulfilled').map((s) => s.value)).toEqual([1]);
      expect(settled.filter((s) => s.status === 'rejected').map((s) => s.reason)).toMatchObject([
        { name: 'RunNotDead', status: 'pending' },
      ]);
      const [run] = await db.sql`
        select status, replays, attempts_before_replay from nudge_engine.action_runs where key = ${key}`;
      expect(run).toEqual({ status: 'pending', replays: 1, attempts_before_replay: 3 });
    } finally {
      release();
      await holder.catch(() => {});
      await pool.end();
    }
  });
});

describe('recoverActions', () => {
  it('re-enqueues stale runs without a job, and leaves waiting and executing runs alone', async () => {
    const [lost, waiting, executing] = [uniqueKey('lost'), uniqueKey('waiting'), uniqueKey('exec')];
    await enqueue(db.sql, [newRun(lost, webhook()), newRun(executing, webhook())]);
    await enqueue(db.sql, [newRun(waiting, webhook())], { runAt: new Date(Date.now() + 60_000) });
    // lost: its worker died, so graphile-worker's job is gone (or failed for good).
    const ids = await db.sql<{ key: string; id: string }[]>`
      select key, id from nudge_engine.action_runs where key in ${db.sql([lost, waiting, executing])}`;
    const idOf = (key: string) => Number(ids.find((r) => r.key === key)!.id);
    await db.sql`delete from nudge_worker._private_jobs
                  where id in (select id from nudge_worker._private_jobs j
                                where exists (select from json_array_elements(j.payload -> 'runs') r
                                               where (r ->> 'id')::bigint in (${idOf(lost)}, ${idOf(executing)})))`;
    await db.sql`
      update nudge_engine.action_runs set status = 'retrying', attempts = 2,
             updated_at = now() - interval '1 hour'
       where key in ${db.sql([lost, waiting, executing])}`;

    // executing: a worker holds the run's row for the length of its attempt.
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = db.sql.begin(async (tx) => {
      await tx`select from nudge_engine.action_runs where key = ${executing} for update`;
      locked();
      await held;
    });
    await isLocked;
    try {
      expect(await recoverActions(db.sql, { staleAfterMs: 60_000 })).toBe(1);
    } finally {
      release();
      await holder;
    }
    const jobs = await jobsFor([lost, waiting, executing]);
    expect(jobs.map((j) => [j.key, j.payload.attempt])).toEqual([[`action:${lost}`, 2]]);
    // The waiting run still has the job it was enqueued with.
    expect((await batchJobsFor([idOf(waiting)])).map((j) => j.payload.runs)).toEqual([
      [{ id: idOf(waiting), attempt: 0 }],
    ]);
    // Released, the executing run is recoverable too; the lost one was touched and is not.
    expect(await recoverActions(db.sql, { staleAfterMs: 60_000 })).toBe(1);
    expect(await recoverActions(db.sql, { staleAfterMs: 60_000 })).toBe(0);
  });
});
