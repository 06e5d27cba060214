// The API-mode HTTP client on its own, against the recorder: the token
// bucket's waits, Retry-After honoured (read by src/retry-after.ts), backoff on
// 5xx, giving up with a clear error, and the key sent but never echoed.
import { afterEach, describe, expect, it } from 'vitest';
import {
  makeSupabaseApi,
  makeTokenBucket,
  SupabaseApiError,
} from '../../src/source/supabase-api.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';

let rec: Recorder | undefined;
afterEach(async () => {
  await rec?.close();
  rec = undefined;
});

const KEY = 'sb_secret_abcdefghijklmnopqrstuvwxyz';
const USERS = { users: [{ id: 'u1' }], aud: 'authenticated' };

/** A client whose waits are recorded instead of slept. */
function client(url: string, extra: Partial<Parameters<typeof makeSupabaseApi>[0]> = {}) {
  const slept: number[] = [];
  const api = makeSupabaseApi({
    projectUrl: url,
    key: KEY,
    rateLimit: { requestsPerSecond: 1000, burst: 1000 },
    sleep: async (ms) => {
      slept.push(ms);
    },
    ...extra,
  });
  return { api, slept };
}

describe('the token bucket', () => {
  it('lets a burst through, then spaces requests at the rate', () => {
    let now = 0;
    const bucket = makeTokenBucket(4, 2, () => now);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([0, 0, 250, 500]);
    now = 2000; // refilled (to the burst, no more)
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([0, 0, 250]);
  });

  it('makes the client wait between requests beyond the burst', async () => {
    rec = await startRecorder();
    rec.route('GET', '/auth/v1/admin/users', { body: USERS });
    const { api, slept } = client(rec.url, {
      rateLimit: { requestsPerSecond: 2, burst: 1 },
      now: () => 1000,
    });
    await api.listUsers(1, 1);
    await api.listUsers(2, 1);
    await api.listUsers(3, 1);
    expect(api.waits.map((w) => w.reason)).toEqual(['rate-limit', 'rate-limit']);
    expect(slept).toEqual([500, 1000]);
  });
});

describe('429 and 5xx', () => {
  it('wait as Retry-After says, then retry the same request', async () => {
    rec = await startRecorder();
    rec.route('GET', '/auth/v1/admin/users', {
      headers: { 'X-Total-Count': '1', Link: '</admin/users?page=1&per_page=1>; rel="last"' },
      body: USERS,
    });
    rec.failNext(1, 429, { 'Retry-After': '3' });
    rec.failNext(1, 429, { 'Retry-After': new Date(Date.now() + 60_000).toUTCString() });
    const { api } = client(rec.url);
    const page = await api.listUsers(1, 50);
    expect(page).toEqual({ users: [{ id: 'u1' }], total: 1, hasNext: false });
    expect(api.waits.map((w) => w.reason)).toEqual(['retry-after', 'retry-after']);
    expect(api.waits[0]!.ms).toBe(3000);
    expect(api.waits[1]!.ms).toBeGreaterThan(55_000);
    expect(rec.requests.map((r) => r.query.page)).toEqual(['1', '1', '1']);
    expect(rec.requests.every((r) => r.headers.apikey === KEY)).toBe(true);
    expect(rec.requests.every((r) => r.headers.authorization === `Bearer ${KEY}`)).toBe(true);
  });

  it('back off on 5xx and give up after the last retry with what the server said', async () => {
    rec = await startRecorder();
    rec.failNext(3, 503, {}, { message: `overloaded, key ${KEY}` });
    const { api } = client(rec.url, { maxRetries: 2 });
    const error = await api.listUsers(1, 10).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SupabaseApiError);
    expect((error as Error).message).toBe(
      'the Auth admin API answered 503 at /auth/v1/admin/users after 3 attempts (server said: "overloaded, key ***")',
    );
    expect(api.waits.map((w) => w.reason)).toEqual(['backoff', 'backoff']);
    expect(api.waits[1]!.ms).toBeGreaterThan(api.waits[0]!.ms);
  });

  it('refuse to wait longer than allowed', async () => {
    rec = await startRecorder();
    rec.failNext(1, 429, { 'Retry-After': '600' });
    const { api } = client(rec.url);
    await expect(api.listUsers(1, 10)).rejects.toThrow(
      'Supabase asked us to wait 600s before more requests (429 Too Many Requests)',
    );
  });
});

describe('PostgREST reads', () => {
  it('send the profile for other schemas, quote odd names, and explain a missing table', async () => {
    rec = await startRecorder();
    rec.route('GET', '/rest/v1/:table', (request) =>
      request.path === '/rest/v1/Order%20Items'
        ? { body: [{ 'order id': 1 }] }
        : { status: 404, body: { code: 'PGRST205', message: 'Could not find the table' } },
    );
    const { api } = client(rec.url);
    const rows = await api.selectRows(
      { schema: 'my-app', table: 'Order Items' },
      {
        select: ['order id', 'line'],
        order: ['order id', 'line'],
        limit: 10,
        filters: [['line', 'gt.2']],
      },
    );
    expect(rows).toEqual([{ 'order id': 1 }]);
    const sent = rec.requests[0]!;
    expect(sent.headers['accept-profile']).toBe('my-app');
    expect(sent.query).toEqual({
      select: '"order id",line',
      order: '"order id".asc,line.asc',
      limit: '10',
      line: 'gt.2',
    });
    const error = await api
      .selectRows({ schema: 'public', table: 'nope' }, { select: ['id'], order: ['id'], limit: 1 })
      .catch((e: unknown) => e);
    expect((error as SupabaseApiError).status).toBe(404);
    expect((error as SupabaseApiError).hint).toContain('Exposed schemas');
  });
});
