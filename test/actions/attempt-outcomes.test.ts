// What one attempt of a batch records when a run's answer is odd, made
// directly (runActions, no worker) against a local receiver: a 2xx body the
// database could not store as it came, a recording that fails after the
// requests left, a Retry-After past any sensible wait, a header value HTTP
// cannot carry, and a job for a run its admission withheld for good.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRuns, type RunRef, runRefs } from '../../src/actions/queue.js';
import { runActions } from '../../src/actions/task.js';
import type { NewActionRun } from '../../src/actions/types.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';
import { makeEnv, makeProject, newRun, nextAttempt, uniqueKey } from './setup.js';

const db = useDatabase();
let sql: postgres.Sql;
let hooks: Recorder;
let env: ReturnType<typeof makeEnv>;

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  sql = postgres(db.url, { onnotice: () => {}, max: 6 });
  hooks = await startRecorder();
  const project = await makeProject(`
webhooks:
  timeout_ms: 2000
actions:
  max_attempts: 3
  backoff_base_ms: 80
  backoff_max_ms: 400
`);
  env = makeEnv(sql, project);
});

afterAll(async () => {
  await hooks?.close();
  await sql?.end();
});

/** A webhook run to a path of its own, answered with `reply`, and the requests it received. */
function hook(
  label: string,
  reply: Parameters<Recorder['route']>[2],
  params: Record<string, unknown> = {},
  context = {},
) {
  const key = uniqueKey(label);
  const path = `/hooks/${key.replaceAll(':', '-')}`;
  hooks.route('POST', path, reply);
  const run = newRun(
    key,
    { kind: 'webhook', params: { url: `${hooks.url}${path}`, method: 'POST', ...params } },
    context,
  );
  const requests = () => hooks.requests.filter((r) => r.path === path);
  return { key, run, requests };
}

/** The runs recorded without jobs (as the deciding process records them), as references for an attempt. */
async function insert(...runs: NewActionRun[]): Promise<RunRef[]> {
  return runRefs(await sql.begin((tx) => newRuns(tx, runs)));
}

async function runOf(key: string) {
  const [row] = await sql<
    { id: string; status: string; attempts: number; last_error: string | null; result: unknown }[]
  >`select id, status, attempts, last_error, result from nudge_engine.action_runs where key = ${key}`;
  return row!;
}

describe('a 2xx answer the database cannot store as it came', () => {
  it('records each delivery once, the body made storable, beside the rest of the batch', async () => {
    // 1999 + 2×10 UTF-16 units: cut at 2000, the first emoji would be half a pair.
    const long = hook('long', { status: 200, body: `${'a'.repeat(1999)}${'🎉'.repeat(10)}` });
    // A lone surrogate, escaped in JSON: no jsonb can hold it.
    const lone = hook('lone', { status: 200, body: '{"note":"\\ud800","\\udfff":["ok\\ud83c"]}' });
    const plain = hook('plain', { status: 200, body: { ok: true } });
    const refs = await insert(long.run, lone.run, plain.run);

    const outcomes = await runActions(env, refs);
    expect([...outcomes.values()]).toEqual(['succeeded', 'succeeded', 'succeeded']);
    for (const { requests } of [long, lone, plain]) expect(requests()).toHaveLength(1);
    expect(await runOf(long.key)).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      result: { status: 200, body: `${'a'.repeat(1999)}...` },
    });
    expect((await runOf(lone.key)).result).toEqual({
      status: 200,
      body: { note: '\ufffd', '\ufffd': ['ok\ufffd'] },
    });
    expect((await runOf(plain.key)).result).toEqual({ status: 200, body: { ok: true } });
    // Nothing left to attempt: no job for any of them.
    const [jobs] = await sql<{ n: number }[]>`
      select count(*)::int as n from nudge_worker.jobs
       where key in ${sql([long.key, lone.key, plain.key].map((k) => `action:${k}`))}`;
    expect(jobs!.n).toBe(0);
  });

  it('keeps delivered runs succeeded when recording the batch fails, even on their last attempt', async () => {
    // The results of these runs cannot be written (as a result PostgreSQL
    // refuses would be): the batch's transaction fails after every request left.
    const [a, b] = [hook('unrecorded-a', { status: 200 }), hook('unrecorded-b', { status: 200 })];
    await sql`
      create function refuse_unrecorded_result() returns trigger language plpgsql as $$
      begin
        raise exception 'invalid input syntax for type json' using errcode = '22P02';
      end $$`;
    await sql`
      create trigger refuse_result before update on nudge_engine.action_runs for each row
        when (new.status = 'succeeded' and new.result is not null and new.key like '%:unrecorded-%')
        execute function refuse_unrecorded_result()`;
    try {
      // A store effect in the same batch, undone with it: that run is retried.
      const tracked = uniqueKey('tracked');
      const refs = await insert(
        a.run,
        b.run,
        newRun(tracked, { kind: 'track', params: { event: 'tracked' } }),
      );
      // Both webhooks are on their last attempt.
      await sql`update nudge_engine.action_runs set attempts = 2
                 where key in ${sql([a.key, b.key])}`;
      const ids = new Map(refs.map((r) => [r.id, r]));
      for (const key of [a.key, b.key]) ids.get(Number((await runOf(key)).id))!.attempt = 2;

      const outcomes = await runActions(env, refs);
      expect(env.logs.map((l) => l.message)).toContain(
        'recording action attempts failed; scheduling others',
      );
      for (const key of [a.key, b.key]) {
        const run = await runOf(key);
        expect(outcomes.get(Number(run.id))).toBe('succeeded');
        expect(run).toMatchObject({ status: 'succeeded', attempts: 3, result: null });
      }
      expect(a.requests()).toHaveLength(1);
      expect(b.requests()).toHaveLength(1);
      const undone = await runOf(tracked);
      expect(outcomes.get(Number(undone.id))).toBe('retrying');
      expect(undone).toMatchObject({ status: 'retrying', attempts: 1 });
      const [events] = await sql<{ n: number }[]>`
        select count(*)::int as n from nudge_engine.events where idempotency_key = ${tracked}`;
      expect(events!.n).toBe(0);
      // The decision log says what happened to each webhook: delivered.
      const logged = await sql<{ status: string }[]>`
        select detail ->> 'status' as status from nudge_engine.decisions
         where outcome = 'attempt' and detail ->> 'key' in ${sql([a.key, b.key])}`;
      expect(logged.map((d) => d.status)).toEqual(['succeeded', 'succeeded']);
    } finally {
      await sql`drop trigger refuse_result on nudge_engine.action_runs`;
      await sql`drop function refuse_unrecorded_result()`;
    }
  });
});

describe('Retry-After', () => {
  for (const asked of ['31536000', '99999999999999999999']) {
    it(`backs off as usual when a 429 asks for ${asked} s, beside a success`, async () => {
      const limited = hook(`ask-${asked.length}`, {
        status: 429,
        headers: { 'Retry-After': asked },
        body: 'slow down',
      });
      const plain = hook(`beside-${asked.length}`, { status: 200 });
      const refs = await insert(limited.run, plain.run);

      await runActions(env, refs);
      expect(await runOf(plain.key)).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect(plain.requests()).toHaveLength(1);
      const next = await nextAttempt(sql, limited.key);
      expect(next).toMatchObject({ attempts: 1, lastError: 'webhook answered 429: slow down' });
      // The first backoff: half to all of backoff_base_ms.
      expect(next.delayMs).toBeGreaterThanOrEqual(40);
      expect(next.delayMs).toBeLessThanOrEqual(80);
      const [decision] = await sql<{ reason: string }[]>`
        select reason from nudge_engine.decisions where detail ->> 'key' = ${limited.key}`;
      expect(decision!.reason).toMatch(/Retry-After .* not honoured/);
    });
  }

  it('honours one up to an hour even past actions.backoff_max_ms', async () => {
    const limited = hook('ask-2', { status: 503, headers: { 'Retry-After': '2' } });
    await runActions(env, await insert(limited.run));
    expect((await nextAttempt(sql, limited.key)).delayMs).toBe(2000);
  });
});

describe('a header value HTTP cannot carry', () => {
  const cases: [string, Record<string, unknown>, Record<string, unknown>, string][] = [
    [
      'emoji',
      { headers: { 'X-Name': '{{ contact.name }}' } },
      { contact: { name: 'Zoë 🎉' } },
      'webhook header x-name',
    ],
    [
      'line-break',
      { headers: { 'x-name': '{{ contact.name }}' } },
      { contact: { name: 'Zoë\r\nx-injected: 1' } },
      'webhook header x-name',
    ],
    ['name', { headers: { 'x name': 'Zoë' } }, {}, 'webhook header name "x name"'],
  ];
  for (const [label, params, context, named] of cases) {
    it(`is dead at once, naming the header and not its value (${label})`, async () => {
      const bad = hook(`header-${label}`, { status: 200 }, params, context);
      const outcomes = await runActions(env, await insert(bad.run));
      expect([...outcomes.values()]).toEqual(['dead']);
      const run = await runOf(bad.key);
      expect(run).toMatchObject({ status: 'dead', attempts: 1 });
      expect(run.last_error).toContain(named);
      expect(run.last_error).not.toContain('Zoë');
      expect(bad.requests()).toHaveLength(0);
    });
  }
});

describe('a run withheld for good', () => {
  it('is not attempted by a job made at its attempt number', async () => {
    const held = hook('withheld', { status: 200 });
    const refs = await insert(held.run);
    await sql`update nudge_engine.action_runs set status = 'skipped', last_error = 'unsubscribed'
               where key = ${held.key}`;
    const outcomes = await runActions(env, refs);
    expect([...outcomes.values()]).toEqual(['skipped']);
    expect(await runOf(held.key)).toMatchObject({
      status: 'skipped',
      attempts: 0,
      last_error: 'unsubscribed',
    });
    expect(held.requests()).toHaveLength(0);
  });
});
