// GET /v1/overview's Actions and Failures per minute: every attempt counted
// at the minute it was made, on the engine clock, from the decision log — a
// failed attempt stays in the last hour after a replay of its run succeeds.
// The attempts are made by the real action task against a local receiver,
// with the engine clock two days ahead, as the demo leaves it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayActions } from '../../src/actions/queue.js';
import { executeRun } from '../../src/actions/task.js';
import type { Overview } from '../../src/client/index.js';
import { manualClock } from '../../src/engine/wiring/clock.js';
import { enqueue, makeEnv, makeProject, newRun, uniqueKey } from '../actions/setup.js';
import { useDatabase } from '../harness/db.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';
import { type DashboardServer, dashboardServer } from './dashboard-server.js';

const db = useDatabase();
const TWO_DAYS_MS = 2 * 86_400_000;
let dashboard: DashboardServer;
let hooks: Recorder;

beforeAll(async () => {
  dashboard = await dashboardServer(db);
  hooks = await startRecorder();
  await db.sql`update nudge_engine.clock set offset_ms = ${TWO_DAYS_MS}`;
});

afterAll(async () => {
  await hooks?.close();
});

type Activity = Exclude<Overview['activity'], { error: string }>;

async function activity(): Promise<Activity> {
  const overview = await dashboard.get<Overview>('/v1/overview');
  if ('error' in overview.activity) throw new Error(overview.activity.error);
  return overview.activity;
}

/** The engine's time `minutesAgo` minutes before its now (real time two days ahead). */
async function engineTime(minutesAgo: number): Promise<Date> {
  const [row] = await db.sql<{ now: Date }[]>`select now()`;
  return new Date(row!.now.getTime() + TWO_DAYS_MS - minutesAgo * 60_000);
}

describe('GET /v1/overview: actions and failures per minute', () => {
  it('counts each failed attempt at its minute, after a replay of its run succeeded', async () => {
    const project = await makeProject('actions: { max_attempts: 2, backoff_base_ms: 10 }\n');
    const clock = manualClock();
    const env = { ...makeEnv(db.sql, project), clock };
    const key = uniqueKey('replayed');
    const run = newRun(key, {
      kind: 'webhook',
      params: { url: `${hooks.url}/thumbs`, method: 'POST' },
    });
    await enqueue(db.sql, [run]);
    const [row] = await db.sql<{ id: string }[]>`
      select id from nudge_engine.action_runs where key = ${key}`;
    const id = Number(row!.id);

    // Two failed attempts (20 and 15 minutes ago, engine time): dead. A
    // replay, then an attempt that succeeds 5 minutes ago.
    const made: Record<string, Date> = {};
    const at = async (name: string, minutesAgo: number) => {
      made[name] = await engineTime(minutesAgo);
      clock.set(made[name]);
    };
    hooks.route('POST', '/thumbs', { status: 503, body: 'down' });
    await at('failed', 20);
    expect(await executeRun(env, id)).toBe('retrying');
    await at('dead', 15);
    expect(await executeRun(env, id)).toBe('dead');
    expect(await replayActions(db.sql, { key })).toBe(1);
    hooks.route('POST', '/thumbs', { status: 200, body: 'ok' });
    await at('succeeded', 5);
    expect(await executeRun(env, id)).toBe('succeeded');
    // An attempt made before the clock moved ahead is two days before the
    // engine's last hour: not in it.
    await at('before the clock moved', 2 * 24 * 60 + 10);
    const old = uniqueKey('before-the-clock-moved');
    hooks.route('POST', '/old', { status: 503, body: 'down' });
    await enqueue(db.sql, [
      newRun(old, { kind: 'webhook', params: { url: `${hooks.url}/old`, method: 'POST' } }),
    ]);
    const [oldRow] = await db.sql<{ id: string }[]>`
      select id from nudge_engine.action_runs where key = ${old}`;
    expect(await executeRun(env, Number(oldRow!.id))).toBe('retrying');

    const asked = await engineTime(0);
    const { failures, actions, engine_from, from } = await activity();
    expect(failures).toHaveLength(60);
    expect(actions).toHaveLength(60);
    expect(failures.reduce((a, b) => a + b, 0)).toBe(2);
    expect(actions.reduce((a, b) => a + b, 0)).toBe(1);
    // The minutes are the engine clock's: the last is the engine's current
    // minute, and each attempt is counted at the minute it was made.
    const first = Date.parse(engine_from);
    const askedMinute = Math.floor(asked.getTime() / 60_000) * 60_000;
    expect([0, 60_000]).toContain(first - (askedMinute - 59 * 60_000));
    const minute = (name: string) => Math.floor((made[name]!.getTime() - first) / 60_000);
    const failed = failures.flatMap((n, i) => Array(n).fill(i));
    expect(failed).toEqual([minute('failed'), minute('dead')]);
    expect(actions.flatMap((n, i) => Array(n).fill(i))).toEqual([minute('succeeded')]);
    // The events' minutes are real time: two days behind.
    expect(first - Date.parse(from)).toBe(TWO_DAYS_MS);
  });
});
