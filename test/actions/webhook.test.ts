// Webhooks through the real worker against a local receiver: the signed
// request (verified with standardwebhooks), Liquid bodies, retries with
// backoff, Retry-After, timeouts, permanent failures, dead runs and replay.
import type { Runner } from 'graphile-worker';
import postgres from 'postgres';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayActions } from '../../src/actions/queue.js';
import { executeRun, executeRuns } from '../../src/actions/task.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';
import { type RecordedRequest, type Recorder, startRecorder } from '../harness/http-recorder.js';
import { waitFor } from '../harness/wait.js';
import {
  enqueue,
  expectNoSecretLeaks,
  makeEnv,
  makeProject,
  newRun,
  nextAttempt,
  type Schedule,
  SECRETS,
  startWorker,
  uniqueKey,
  waitForRun,
} from './setup.js';

const db = useDatabase();
let sql: postgres.Sql;

/**
 * The run's job is gone: graphile-worker deletes a job after its task returns,
 * a moment after the run's own transaction committed (what waitForRun sees).
 */
const noJobLeft = (key: string) =>
  waitFor(
    async () => {
      const [jobs] =
        await sql`select count(*)::int as n from nudge_worker.jobs where key = ${`action:${key}`}`;
      return jobs!.n === 0 ? true : undefined;
    },
    `the job of ${key} to be done with`,
    5_000,
  );
let hooks: Recorder;
let env: ReturnType<typeof makeEnv>;
let runner: Runner;

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  sql = postgres(db.url, { onnotice: () => {}, max: 6 });
  hooks = await startRecorder();
  const project = await makeProject(`
webhooks:
  secret: \${WEBHOOK_SECRET}
  timeout_ms: 1000
connectors:
  supabase:
    project_url: ${hooks.url}
    service_role_key: \${SERVICE_ROLE_KEY}
actions:
  max_attempts: 3
  backoff_base_ms: 80
  backoff_max_ms: 400
`);
  env = makeEnv(sql, project);
  runner = await startWorker(db.url, env);
});

afterAll(async () => {
  await runner?.stop();
  await hooks?.close();
  await sql?.end();
});

/** A webhook run to this test's own path on the receiver. */
function hook(label: string, params: Record<string, unknown> = {}, context = {}) {
  const key = uniqueKey(label);
  const path = `/hooks/${key.replaceAll(':', '-')}`;
  const run = newRun(
    key,
    { kind: 'webhook', params: { url: `${hooks.url}${path}`, method: 'POST', ...params } },
    context,
  );
  const requests = () => hooks.requests.filter((r) => r.path === path);
  return { key, path, run, requests };
}

/** Answers requests to `path` with 200, first reading the schedule of the attempt being made. */
function okAndCaptureSchedule(path: string, key: string) {
  const schedules: (Schedule & { now: Date })[] = [];
  hooks.route('POST', path, async () => {
    const [row] = await sql<{ now: Date }[]>`select now()`;
    schedules.push({ ...(await nextAttempt(sql, key)), now: row!.now });
    return { status: 200, body: { ok: true } };
  });
  return schedules;
}

describe('webhook action', () => {
  it('POSTs the default body, signed per Standard Webhooks with the run key as webhook-id', async () => {
    const context = {
      contact: { id: 'c1', email: 'ada@example.com', name: 'Zoë 🎉' }, // signed as UTF-8
      new: { id: 7, status: 'paid' },
      old: { id: 7, status: 'open' },
      event: { schema: 'public', table: 'orders', operation: 'update' },
    };
    const { key, path, run, requests } = hook('signed', {}, context);
    hooks.route('POST', path, { status: 202, body: { received: true } });
    expect(await enqueue(sql, [run])).toBe(1);

    const done = await waitForRun(sql, key, ['succeeded', 'dead']);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 1, last_error: null });
    expect(done.result).toEqual({ status: 202, body: { received: true } });
    expect(done.completed_at?.toISOString()).toBe('2026-03-01T12:00:00.000Z');

    const [request] = requests() as [RecordedRequest];
    expect(request.method).toBe('POST');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['webhook-id']).toBe(key);
    expect(request.json).toEqual({ ...context, feature: 'test-feature', stage: 'first' });
    const verified = new Webhook(SECRETS.WEBHOOK_SECRET).verify(request.body, {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    });
    expect(verified).toEqual(request.json);
    expect(() =>
      new Webhook(`whsec_${Buffer.from('another secret').toString('base64')}`).verify(
        request.body,
        request.headers as Record<string, string>,
      ),
    ).toThrow();
  });

  it('renders url, headers and body with Liquid and sends PUT', async () => {
    const { key, path, run, requests } = hook(
      'liquid',
      {
        method: 'PUT',
        headers: { 'X-Plan': '{{ enrichment.profile.plan }}' },
        body: {
          order: '{{ new.id }}',
          total: '{{ new.total }}',
          line: 'Order {{ new.id }} for {{ contact.first_name | default: "friend" }}',
        },
      },
      { new: { id: 9, total: 120.5 }, enrichment: { profile: { plan: 'pro' } } },
    );
    hooks.route('PUT', path, { status: 200 });
    await enqueue(sql, [run]);
    await waitForRun(sql, key, ['succeeded']);
    const [request] = requests() as [RecordedRequest];
    expect(request.method).toBe('PUT');
    expect(request.headers['x-plan']).toBe('pro');
    expect(request.json).toEqual({ order: 9, total: 120.5, line: 'Order 9 for friend' });
  });

  it('retries a 5xx with exponential backoff, then succeeds', async () => {
    const { key, path, run, requests } = hook('5xx');
    const schedules = okAndCaptureSchedule(path, key);
    hooks.failNext(2, 503);
    await enqueue(sql, [run]);
    const done = await waitForRun(sql, key, ['succeeded', 'dead']);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 3 });
    expect(requests()).toHaveLength(3);
    // The third attempt's job was scheduled after the second failure: base·2¹ = 160 ms,
    // drawn from its upper half; and it did not run before its run_at.
    const [third] = schedules as [Schedule & { now: Date }];
    expect(third.attempts).toBe(2);
    expect(third.lastError).toBe('webhook answered 503: scripted 503');
    expect(third.delayMs).toBeGreaterThanOrEqual(80);
    expect(third.delayMs).toBeLessThanOrEqual(160);
    expect(third.now.getTime()).toBeGreaterThanOrEqual(third.runAt.getTime());
  });

  it('waits as long as a 429 says in Retry-After', async () => {
    const { key, path, run } = hook('429');
    const schedules = okAndCaptureSchedule(path, key);
    hooks.failNext(1, 429, { 'Retry-After': '1' });
    await enqueue(sql, [run]);
    await waitForRun(sql, key, ['succeeded', 'dead']);
    expect(schedules).toHaveLength(1);
    expect(schedules[0]!.delayMs).toBe(1000);
    expect(schedules[0]!.lastError).toBe('webhook answered 429: scripted 429');
  });

  it('retries a request that times out', async () => {
    const { key, path, run, requests } = hook('timeout');
    const schedules = okAndCaptureSchedule(path, key);
    hooks.failNext(1, 'hang');
    await enqueue(sql, [run]);
    expect(await waitForRun(sql, key, ['succeeded', 'dead'])).toMatchObject({
      status: 'succeeded',
      attempts: 2,
    });
    expect(requests()).toHaveLength(2);
    expect(schedules[0]!.lastError).toMatch(
      /^webhook at 127\.0\.0\.1:\d+ did not answer within 1000 ms$/,
    );
  });

  it('gives up at once on a 4xx: dead after one attempt', async () => {
    const { key, path, run, requests } = hook('400');
    hooks.route('POST', path, { status: 422, body: { message: 'order is unknown' } });
    await enqueue(sql, [run]);
    const dead = await waitForRun(sql, key, ['succeeded', 'dead']);
    expect(dead).toMatchObject({
      status: 'dead',
      attempts: 1,
      last_error: 'webhook answered 422: order is unknown',
    });
    expect(requests()).toHaveLength(1);
    expect(env.logs.some((l) => l.level === 'error' && l.fields?.key === key)).toBe(true);
  });

  it('is dead after max_attempts, and a replay delivers it once', async () => {
    const { key, path, run, requests } = hook('max');
    hooks.route('POST', path, { status: 500, body: 'boom' });
    await enqueue(sql, [run]);
    const dead = await waitForRun(sql, key, ['succeeded', 'dead']);
    expect(dead).toMatchObject({
      status: 'dead',
      attempts: 3,
      last_error: 'webhook answered 500: boom',
    });
    expect(requests()).toHaveLength(3);
    await noJobLeft(key);

    hooks.route('POST', path, { status: 200 });
    expect(await replayActions(sql, { key })).toBe(1);
    expect(await waitForRun(sql, key, ['succeeded', 'dead'])).toMatchObject({
      status: 'succeeded',
      attempts: 1,
    });
    expect(requests()).toHaveLength(4);
    expect(requests().every((r) => r.headers['webhook-id'] === key)).toBe(true);
  });

  it('sends one request for a key enqueued twice', async () => {
    const { key, path, run, requests } = hook('twice');
    hooks.route('POST', path, { status: 200 });
    expect(await enqueue(sql, [run])).toBe(1);
    expect(await enqueue(sql, [{ ...run, context: { contact: null, new: { other: 1 } } }])).toBe(0);
    await waitForRun(sql, key, ['succeeded']);
    await noJobLeft(key);
    expect(requests()).toHaveLength(1);
  });

  it('runs a run once when two tasks execute it at the same time', async () => {
    const { key, path, run, requests } = hook('concurrent');
    hooks.route('POST', path, { status: 200 });
    await enqueue(sql, [run], { runAt: new Date(Date.now() + 3_600_000) });
    const [{ id }] = (await sql`select id from nudge_engine.action_runs where key = ${key}`) as [
      { id: string },
    ];
    const outcomes = await Promise.all([
      executeRun(env, Number(id), 0),
      executeRun(env, Number(id), 0),
    ]);
    expect(outcomes.sort()).toEqual(['skipped', 'succeeded']);
    expect(requests()).toHaveLength(1);
    expect(await executeRun(env, Number(id))).toBe('skipped');
  });

  it("keeps a receiver's NUL characters out of the store, and a job's other runs unaffected", async () => {
    const plain = hook('nul-plain');
    const nulOk = hook('nul-ok');
    const nul500 = hook('nul-500');
    hooks.route('POST', plain.path, { status: 200, body: { ok: true } });
    hooks.route('POST', nulOk.path, { status: 200, body: { note: 'a\u0000b' } });
    hooks.route('POST', nul500.path, { status: 500, body: 'broken\u0000answer' });
    await enqueue(sql, [plain.run, nulOk.run, nul500.run], {
      runAt: new Date(Date.now() + 3_600_000),
    });
    const rows = await sql<{ id: string; key: string }[]>`
      select id, key from nudge_engine.action_runs
       where key in ${sql([plain.key, nulOk.key, nul500.key])} order by id`;
    // One job's worth of runs, executed together; one attempt each, so no
    // retry is left behind to reach the receiver during the next tests.
    const once = makeEnv(sql, await makeProject('actions: { max_attempts: 1 }\n'));
    const outcomes = await executeRuns(
      once,
      rows.map((r) => ({ id: Number(r.id), attempt: 0 })),
    );
    const outcomeOf = (key: string) => outcomes.get(Number(rows.find((r) => r.key === key)!.id));
    expect([outcomeOf(plain.key), outcomeOf(nulOk.key), outcomeOf(nul500.key)]).toEqual([
      'succeeded',
      'succeeded',
      'dead',
    ]);
    const [ok] = await sql`select result from nudge_engine.action_runs where key = ${nulOk.key}`;
    expect(ok!.result).toEqual({ status: 200, body: { note: 'ab' } });
    const [failed] =
      await sql`select last_error from nudge_engine.action_runs where key = ${nul500.key}`;
    expect(failed!.last_error).toBe('webhook answered 500: brokenanswer');
  });

  it('sends unsigned when webhooks.secret is not set, warning once', async () => {
    const unsigned = makeEnv(sql, await makeProject('actions: { max_attempts: 2 }\n'));
    const first = hook('unsigned-1');
    const second = hook('unsigned-2');
    for (const { path } of [first, second]) hooks.route('POST', path, { status: 200 });
    await enqueue(sql, [first.run, second.run], { runAt: new Date(Date.now() + 3_600_000) });
    const ids = await sql<{ id: string }[]>`
      select id from nudge_engine.action_runs where key in ${sql([first.key, second.key])}`;
    for (const { id } of ids) expect(await executeRun(unsigned, Number(id))).toBe('succeeded');
    for (const { requests, key } of [first, second]) {
      const [request] = requests() as [RecordedRequest];
      expect(request.headers['webhook-id']).toBe(key);
      expect(request.headers['webhook-signature']).toBeUndefined();
    }
    expect(unsigned.logs.filter((l) => l.level === 'warn')).toEqual([
      expect.objectContaining({ message: expect.stringMatching(/webhooks\.secret is not set/) }),
    ]);
  });

  it('calls an Edge Function with the service role key and the run key as Idempotency-Key', async () => {
    const key = uniqueKey('edge');
    hooks.route('POST', '/functions/v1/:name', (_request, params) => ({
      status: 200,
      body: { ran: params.name },
    }));
    await enqueue(sql, [
      newRun(
        key,
        {
          kind: 'function',
          params: { name: 'welcome-{{ new.plan }}', body: { id: '{{ new.id }}' } },
        },
        { new: { id: 5, plan: 'pro' } },
      ),
    ]);
    const done = await waitForRun(sql, key, ['succeeded', 'dead']);
    expect(done).toMatchObject({
      status: 'succeeded',
      result: { status: 200, body: { ran: 'welcome-pro' } },
    });
    const request = await hooks.waitFor((r) => r.headers['idempotency-key'] === key);
    expect(request.path).toBe('/functions/v1/welcome-pro');
    expect(request.headers.authorization).toBe(`Bearer ${SECRETS.SERVICE_ROLE_KEY}`);
    expect(request.headers.apikey).toBe(SECRETS.SERVICE_ROLE_KEY);
    expect(request.json).toEqual({ id: 5 });
  });

  it('retries an Edge Function 5xx, and says what to configure when Supabase is not set up', async () => {
    const key = uniqueKey('edge-retry');
    hooks.failNext(1, 502);
    hooks.route('POST', '/functions/v1/flaky', { status: 204 });
    await enqueue(sql, [newRun(key, { kind: 'function', params: { name: 'flaky' } })]);
    expect(await waitForRun(sql, key, ['succeeded', 'dead'])).toMatchObject({
      status: 'succeeded',
      attempts: 2,
    });

    const bare = makeEnv(sql, await makeProject('webhooks: { timeout_ms: 1000 }\n'));
    const unconfigured = uniqueKey('edge-unconfigured');
    await enqueue(sql, [newRun(unconfigured, { kind: 'function', params: { name: 'x' } })], {
      runAt: new Date(Date.now() + 3_600_000),
    });
    const [{ id }] = (await sql`
      select id from nudge_engine.action_runs where key = ${unconfigured}`) as [{ id: string }];
    expect(await executeRun(bare, Number(id))).toBe('dead');
    const dead = await waitForRun(sql, unconfigured, ['dead']);
    expect(dead.last_error).toBe(
      'the function action needs connectors.supabase.project_url and service_role_key (or api_key) in nudge.yaml',
    );
  });

  it('never logs or records a secret', async () => {
    await expectNoSecretLeaks(sql, env.logs);
  });
});
