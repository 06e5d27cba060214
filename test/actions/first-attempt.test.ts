// First attempts made by the deciding process (src/actions/first-attempt.ts), on a
// real database and a recording receiver, with no job runner: runs are
// recorded without jobs and attempted once after the commit; beyond the limit
// they get jobs; a retry still becomes a job; and a run the process never
// attempted (it died after the commit) is given a job by recovery.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FirstAttempts, firstAttemptsHere } from '../../src/actions/first-attempt.js';
import { RUNS_PER_JOB, type RunRef, recoverActions, runRefs } from '../../src/actions/queue.js';
import { runActions } from '../../src/actions/task.js';
import type { NewActionRun } from '../../src/actions/types.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';
import { makeEnv, makeProject, newRun, uniqueKey, waitForRun } from './setup.js';

const db = useDatabase();
let sql: postgres.Sql;
let hooks: Recorder;
let env: ReturnType<typeof makeEnv>;

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  sql = postgres(db.url, { onnotice: () => {}, max: 6 });
  hooks = await startRecorder();
  hooks.route('POST', '/direct', { status: 200 });
  env = makeEnv(
    sql,
    await makeProject(`
webhooks:
  secret: \${WEBHOOK_SECRET}
  timeout_ms: 10000
actions:
  max_attempts: 3
  backoff_base_ms: 60000
`),
  );
});

afterAll(async () => {
  await hooks?.close();
  await sql?.end();
});

const webhookRun = (key: string) =>
  newRun(key, { kind: 'webhook', params: { url: `${hooks.url}/direct`, method: 'POST' } });

/** The jobs (keyed or batch) that carry the runs with these keys. */
async function jobsOf(keys: string[]) {
  return sql<{ key: string | null; payload: unknown }[]>`
    select p.key, p.payload from nudge_worker._private_jobs p
     where exists (select from nudge_engine.action_runs r
                    where r.key in ${sql(keys)}
                      and (p.key = 'action:' || r.key
                           or exists (select from json_array_elements(p.payload -> 'runs') x
                                       where (x ->> 'id')::bigint = r.id)))`;
}

/** First attempts (limit 1) whose attempts record what they were given and wait for release(). */
function heldAttempts() {
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const attempted: RunRef[][] = [];
  const attempts = firstAttemptsHere({
    attempt: async (refs) => {
      attempted.push(refs);
      await held;
    },
    limit: 1,
    onError: () => {},
  });
  return { attempts, attempted, release };
}

/** What the deciding transaction gets from record(), as finish() reads it (engine/process.ts). */
async function record(
  attempts: FirstAttempts,
  tx: postgres.TransactionSql,
  runs: NewActionRun[],
): Promise<RunRef[]> {
  const recorded = attempts.record(tx, runs);
  if ('insert' in recorded) return runRefs(await recorded.insert);
  await recorded.enqueued;
  return [];
}

const requestsFor = (key: string) =>
  hooks.requests.filter((r) => r.headers['webhook-id'] === key).length;

describe('first attempts in the deciding process', () => {
  it('records runs without jobs and attempts each once after the commit', async () => {
    const attempts = firstAttemptsHere({
      attempt: (refs) => runActions(env, refs),
      limit: 2,
      onError: (error) => {
        throw error;
      },
    });
    const keys = Array.from({ length: RUNS_PER_JOB + 5 }, (_, i) => uniqueKey(`direct-${i}`));
    const refs = await sql.begin((tx) => record(attempts, tx, keys.map(webhookRun)));
    expect(refs).toHaveLength(keys.length);
    expect(refs.every((r) => r.attempt === 0)).toBe(true);
    expect(await jobsOf(keys)).toEqual([]);

    // Started twice (a duplicate): the second attempt of each run waits for
    // the first's row lock, sees it succeeded and sends nothing.
    attempts.start(refs);
    attempts.start(refs);
    for (const key of keys) {
      expect((await waitForRun(sql, key, ['succeeded'])).attempts).toBe(1);
    }
    expect(await attempts.settle(5000)).toBe(0);
    expect(keys.map(requestsFor)).toEqual(keys.map(() => 1));
    expect(await jobsOf(keys)).toEqual([]);
  });

  it('gives runs jobs while the limit of attempts is in flight', async () => {
    const { attempts, attempted, release } = heldAttempts();
    const first = Array.from({ length: RUNS_PER_JOB }, (_, i) => uniqueKey(`full-${i}`));
    attempts.start(await sql.begin((tx) => record(attempts, tx, first.map(webhookRun))));
    const later = [uniqueKey('over-limit')];
    expect(await sql.begin((tx) => record(attempts, tx, later.map(webhookRun)))).toEqual([]);
    expect(await jobsOf(later)).toHaveLength(1);
    release();
    expect(await attempts.settle(5000)).toBe(0);
    expect(attempted.map((batch) => batch.length)).toEqual([RUNS_PER_JOB]);
  });

  it('on stop, waits for the attempts under way and leaves the others to recovery', async () => {
    const { attempts, attempted, release } = heldAttempts();
    const keys = Array.from({ length: RUNS_PER_JOB + 3 }, (_, i) => uniqueKey(`stop-${i}`));
    attempts.start(await sql.begin((tx) => record(attempts, tx, keys.map(webhookRun))));
    const settled = attempts.settle(5000);
    release();
    expect(await settled).toBe(3); // the second batch never started
    expect(attempted.map((batch) => batch.length)).toEqual([RUNS_PER_JOB]);
    // Stopping: new runs get jobs.
    const late = [uniqueKey('after-stop')];
    expect(await sql.begin((tx) => record(attempts, tx, late.map(webhookRun)))).toEqual([]);
    expect(await jobsOf(late)).toHaveLength(1);
  });

  it('schedules a failed first attempt as a job, like any retry', async () => {
    const key = uniqueKey('retry');
    hooks.failNext(1, 503);
    const attempts = firstAttemptsHere({
      attempt: (refs) => runActions(env, refs),
      limit: 1,
      onError: () => {},
    });
    attempts.start(await sql.begin((tx) => record(attempts, tx, [webhookRun(key)])));
    await attempts.settle(5000);
    const run = await waitForRun(sql, key, ['retrying'], 1000);
    expect(run.attempts).toBe(1);
    expect(await jobsOf([key])).toEqual([
      { key: `action:${key}`, payload: { runId: Number(run.id), attempt: 1 } },
    ]);
  });

  it('leaves a run its process never attempted to recovery, which gives it a job', async () => {
    const key = uniqueKey('orphan');
    const attempts = firstAttemptsHere({
      attempt: (refs) => runActions(env, refs),
      limit: 1,
      onError: () => {},
    });
    // Recorded and committed, then the process "dies" before start().
    const [ref] = await sql.begin((tx) => record(attempts, tx, [webhookRun(key)]));
    expect(await jobsOf([key])).toEqual([]);
    expect(await recoverActions(sql, { staleAfterMs: 60_000 })).toBe(0); // not stale yet
    await sql`update nudge_engine.action_runs set updated_at = now() - interval '2 minutes' where key = ${key}`;
    expect(await recoverActions(sql, { staleAfterMs: 60_000 })).toBe(1);
    expect(await jobsOf([key])).toEqual([
      { key: `action:${key}`, payload: { runId: ref!.id, attempt: 0 } },
    ]);
    expect(requestsFor(key)).toBe(0);
  });
});
