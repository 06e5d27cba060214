// POST /v1/clock/reset beside /v1/clock/advance: back to real time, as `nudge
// clock reset`, answering the clock's state; refused (409, nothing moved)
// where the dashboard may not move the clock — any store but nudge dev's
// demo; and let in as advance is: a write key, a dashboard key, or the
// dashboard's session with its CSRF value, never a read key or no key.
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClockState } from '../../src/client/index.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { createApiKey } from '../../src/server/api/keys.js';
import { makeServer, type NudgeServer } from '../../src/server/index.js';
import { useDatabase } from '../harness/db.js';
import { testProject } from '../server/helpers.js';

const db = useDatabase();
const TWO_DAYS = 172_800_000;
/** As nudge dev's server (the demo store), and as nudge start's on any other. */
let dev: NudgeServer;
let live: NudgeServer;
const keys: Record<'read' | 'write' | 'dashboard', string> = { read: '', write: '', dashboard: '' };

const serve = async (movableClock: boolean) =>
  makeServer({
    sql: db.sql,
    project: await testProject(),
    route: () => 0,
    log: pino({ level: 'silent' }),
    keys: { key: Buffer.alloc(32, 5) },
    dashboard: { features: [], sourceUrl: db.url, movableClock },
  });

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  dev = await serve(true);
  live = await serve(false);
  for (const scope of ['read', 'write', 'dashboard'] as const) {
    keys[scope] = (await createApiKey(db.sql, `clock-${scope}`, scope)).key;
  }
});

interface Call {
  key?: string;
  /** Sent as written (a string), or as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
}

async function post(server: NudgeServer, path: string, call: Call = {}) {
  const headers: Record<string, string> = { ...call.headers };
  if (call.key) headers.authorization = `Bearer ${call.key}`;
  let body: string | undefined;
  if (call.body !== undefined) {
    body = typeof call.body === 'string' ? call.body : JSON.stringify(call.body);
    headers['content-type'] = 'application/json';
  }
  const response = await server.app.request(`http://127.0.0.1${path}`, {
    method: 'POST',
    headers,
    ...(body === undefined ? {} : { body }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

const offset = async () =>
  Number(
    (await db.sql<{ offset_ms: string }[]>`select offset_ms from nudge_engine.clock`)[0]!.offset_ms,
  );
const setOffset = (ms: number) => db.sql`update nudge_engine.clock set offset_ms = ${ms}`;

describe('POST /v1/clock/reset', () => {
  it('goes back to real time and answers the state GET /v1/clock does, offset 0', async () => {
    const advanced = await post(dev, '/v1/clock/advance', { key: keys.write, body: { by: '2d' } });
    expect(advanced.json).toMatchObject({ offset_ms: TWO_DAYS });
    const before = Date.now();
    const reset = await post(dev, '/v1/clock/reset', { key: keys.write });
    expect(reset.status, JSON.stringify(reset.json)).toBe(200);
    const state = reset.json as unknown as ClockState;
    expect(state).toEqual({ now: expect.any(String), offset_ms: 0, movable: true });
    // Engine time is real time again, not two days ahead.
    expect(Math.abs(Date.parse(state.now) - before)).toBeLessThan(60_000);
    expect(await offset()).toBe(0);

    // Already on real time, it stays there; `{}` is no body too.
    const again = await post(dev, '/v1/clock/reset', { key: keys.write, body: {} });
    expect(again).toMatchObject({ status: 200, json: { offset_ms: 0, movable: true } });
  });

  it('takes no fields: { "by": "2d" } sent to reset by mistake moves nothing', async () => {
    await setOffset(TWO_DAYS);
    const wrong = await post(dev, '/v1/clock/reset', { key: keys.write, body: { by: '2d' } });
    expect(wrong).toMatchObject({ status: 422, json: { error: 'invalid_body' } });
    // Said as what it likely is: an advance sent to the wrong route.
    expect(wrong.json.detail).toBe(
      'by: reset takes no body (it goes back to real time); to move the clock ahead, POST /v1/clock/advance {"by":"2d"}',
    );
    const notJson = await post(dev, '/v1/clock/reset', { key: keys.write, body: 'reset' });
    expect(notJson.status).toBe(400);
    expect(await offset()).toBe(TWO_DAYS);
    await setOffset(0);
  });

  it('is refused as advance is where the clock is not movable, and moves nothing', async () => {
    await setOffset(TWO_DAYS);
    const advance = await post(live, '/v1/clock/advance', { key: keys.write, body: { by: '1d' } });
    const reset = await post(live, '/v1/clock/reset', { key: keys.write });
    for (const [refused, command] of [
      [advance, 'nudge clock advance'],
      [reset, 'nudge clock reset'],
    ] as const) {
      expect(refused.status).toBe(409);
      expect(refused.json).toMatchObject({ error: 'clock_not_movable' });
      expect(refused.json.detail).toBe(
        `the dashboard moves the clock only in dev (nudge dev); use \`${command}\` on purpose`,
      );
    }
    expect(await offset()).toBe(TWO_DAYS);
    await setOffset(0);
  });

  it('needs what advance needs: a write or dashboard key, or the session with its CSRF value', async () => {
    const moves = [
      ['/v1/clock/advance', { by: '1h' }],
      ['/v1/clock/reset', undefined],
    ] as const;
    for (const [path, body] of moves) {
      await setOffset(TWO_DAYS);
      expect((await post(dev, path, { body })).status, path).toBe(401);
      expect((await post(dev, path, { key: 'nk_not_a_key', body })).status, path).toBe(401);
      const read = await post(dev, path, { key: keys.read, body });
      expect(read, path).toMatchObject({ status: 403, json: { error: 'insufficient_scope' } });
      // A dashboard key may make this move too: said, as the key that works.
      expect(read.json.detail, path).toMatch(/needs a write key or a dashboard key$/);
      expect(await offset(), path).toBe(TWO_DAYS);
      for (const scope of ['dashboard', 'write'] as const) {
        expect((await post(dev, path, { key: keys[scope], body })).status, `${path} ${scope}`).toBe(
          200,
        );
      }
    }

    // The dashboard's own session: with its CSRF value only.
    const signIn = await dev.app.request(`http://127.0.0.1/clock?token=${dev.dashboard.token}`);
    expect(signIn.status).toBe(303);
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0]!;
    const session = (await (
      await dev.app.request('http://127.0.0.1/v1/session', { headers: { cookie } })
    ).json()) as { csrf: string };
    for (const [path, body] of moves) {
      await setOffset(TWO_DAYS);
      const forged = await post(dev, path, { body, headers: { cookie } });
      expect(forged, path).toMatchObject({ status: 403, json: { error: 'csrf_failed' } });
      expect(await offset(), path).toBe(TWO_DAYS);
      const made = await post(dev, path, {
        body,
        headers: { cookie, 'x-nudge-csrf': session.csrf },
      });
      expect(made.status, path).toBe(200);
    }
    expect(await offset()).toBe(0);
  });
});

describe('POST /v1/clock/advance', () => {
  it('refuses what nudge clock advance refuses, in the words of ?since=, and moves nothing', async () => {
    await setOffset(0);
    for (const [by, detail] of [
      ['2days', 'by: expected a duration such as 2h or 7d (did you mean "2d"?), got "2days"'],
      ['0d', 'by: durations are positive, got "0d"'],
      ['-1d', 'by: durations are positive, got "-1d"'],
      ['1000000d', 'by: expected at most 36500d, got "1000000d"'],
    ] as const) {
      const refused = await post(dev, '/v1/clock/advance', { key: keys.write, body: { by } });
      expect(refused, by).toMatchObject({ status: 422, json: { error: 'invalid_body', detail } });
    }
    expect(await offset()).toBe(0);
  });
});
