// POST /v1/actions/replay with a filter, as `nudge replay` takes it (one
// replayFilter for both): the dead runs of a feature and/or created within a
// time go back to pending with a job each; nothing else moves; a filter that
// says nothing, or a bad time, is refused naming the field; a key whose run is
// not dead is a 409 unless forced. GET /v1/actions
// lists what such a filter matches, and a replayed run's earlier attempts.
import { beforeAll, describe, expect, it } from 'vitest';
import type { ActionPage } from '../../src/client/index.js';
import { useDatabase } from '../harness/db.js';
import { type DashboardServer, dashboardServer } from './dashboard-server.js';

const db = useDatabase();
let call: DashboardServer['call'];

beforeAll(async () => {
  ({ call } = await dashboardServer(db));
  // Dead runs of two features, some from 3 days ago; one succeeded run.
  await db.sql`
    insert into nudge_engine.action_runs (key, feature, kind, params, status, attempts, last_error, created_at)
    select 'run-' || g, (array['drip', 'paid'])[1 + g % 2], 'webhook', '{}',
           case when g = 10 then 'succeeded' else 'dead' end, 5, 'HTTP 503',
           case when g <= 4 then now() - interval '3 days' else now() - interval '10 minutes' end
      from generate_series(1, 10) g`;
});

const statuses = async () =>
  Object.fromEntries(
    (
      await db.sql<{ key: string; status: string }[]>`
        select key, status from nudge_engine.action_runs order by id`
    ).map((r) => [r.key, r.status]),
  );

describe('Replay all matching a filter', () => {
  it('lists, then replays, the dead runs of a feature created within a time', async () => {
    const listed = (await (
      await call('GET', '/v1/actions?status=dead&feature=paid&since=24h')
    ).json()) as ActionPage;
    expect(listed.items.map((r) => r.key).sort()).toEqual(['run-5', 'run-7', 'run-9']);

    const response = await call('POST', '/v1/actions/replay', { feature: 'paid', since: '24h' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ queued: 3 });
    const after = await statuses();
    expect(
      Object.entries(after)
        .filter(([, s]) => s === 'pending')
        .map(([k]) => k)
        .sort(),
    ).toEqual(['run-5', 'run-7', 'run-9']);
    expect(after['run-1']).toBe('dead');
    expect(after['run-3']).toBe('dead');
    expect(after['run-10']).toBe('succeeded');
    // The attempts start again from zero; the list says what came before.
    const replayed = (await (
      await call('GET', '/v1/actions?feature=paid&since=24h')
    ).json()) as ActionPage;
    expect(
      replayed.items.map(({ key, attempts, replays, attempts_before_replay }) => ({
        key,
        attempts,
        replays,
        attempts_before_replay,
      })),
    ).toEqual(
      ['run-9', 'run-7', 'run-5'].map((key) => ({
        key,
        attempts: 0,
        replays: 1,
        attempts_before_replay: 5,
      })),
    );
    const [jobs] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from nudge_worker.jobs where key like 'action:run-%'`;
    expect(jobs!.n).toBe(3);
  });

  it('replays every dead run created within a time, whatever the feature', async () => {
    // run-6 and run-8 (run-5, 7 and 9 are pending already; 1 to 4 are older).
    const response = await call('POST', '/v1/actions/replay', { since: '1h' });
    expect(await response.json()).toEqual({ queued: 2 });
    expect((await statuses())['run-6']).toBe('pending');
    expect((await statuses())['run-2']).toBe('dead');
  });

  it('refuses a filter that says nothing, or a bad time, naming the field', async () => {
    const empty = await call('POST', '/v1/actions/replay', {});
    expect(empty.status).toBe(422);
    expect(((await empty.json()) as { detail: string }).detail).toMatch(/say what to replay/);
    const bad = await call('POST', '/v1/actions/replay', { since: 'lately' });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { detail: string }).detail).toBe(
      'since: expected a duration such as 2h or 7d, got "lately"',
    );
    const list = await call('GET', '/v1/actions?since=lately');
    expect(list.status).toBe(400);
  });

  it('refuses a key no run has, as nudge replay does; a known key of no dead run queues nothing', async () => {
    const typo = await call('POST', '/v1/actions/replay', { key: 'run-66' });
    expect(typo.status).toBe(422);
    expect(await typo.json()).toMatchObject({
      error: 'invalid_body',
      detail: 'key: no action run has the key run-66',
    });
    // A key that exists but the filter leaves out (created 10 minutes ago) is no typo.
    const known = await call('POST', '/v1/actions/replay', { key: 'run-5', since: '1m' });
    expect(known.status).toBe(200);
    expect(await known.json()).toEqual({ queued: 0 });
  });

  it('answers 409 for a key whose run is not dead (a second click), and replays it with force', async () => {
    // Replay clicked twice on one dead run: the second finds it queued already.
    const first = await call('POST', '/v1/actions/replay', { key: 'run-1' });
    expect(await first.json()).toEqual({ queued: 1 });
    const second = await call('POST', '/v1/actions/replay', { key: 'run-1' });
    expect(second.status).toBe(409);
    expect(await second.json()).toEqual({
      error: 'not_dead',
      detail:
        'the action run with the key run-1 is pending, not dead: a replay sends dead runs only ({ "key", "force": true } sends it whatever its status)',
    });
    // A succeeded run is not sent again unless asked with force.
    const done = await call('POST', '/v1/actions/replay', { key: 'run-10' });
    expect(done.status).toBe(409);
    expect((await statuses())['run-10']).toBe('succeeded');
    const all = await call('POST', '/v1/actions/replay', { feature: 'paid', force: true });
    expect(all.status).toBe(422);
    expect(((await all.json()) as { detail: string }).detail).toBe(
      'force: only with a key: it replays one run whatever its status',
    );
    const forced = await call('POST', '/v1/actions/replay', { key: 'run-10', force: true });
    expect(await forced.json()).toEqual({ queued: 1 });
    expect((await statuses())['run-10']).toBe('pending');
  });
});
