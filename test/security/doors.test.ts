// Every door of the HTTP server, found by walking the router's route table, so
// a route added later without a credential check fails here: no credential and
// a revoked API key are refused (401) everywhere but /health; a read key never
// writes, and an API key never opens /ingest; /metrics is open to loopback
// peers only; a declared or streamed body over ingest.max_body_bytes is a 413
// on every route that reads one; /v1 keys are rate limited with Retry-After;
// a method a path does not take is a 405 with Allow, an unknown path a 404.
import { inspectRoutes } from 'hono/dev';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeRateLimiter } from '../../src/server/api/rate-limit.js';
import { HttpError } from '../../src/server/http-error.js';
import { useDatabase } from '../harness/db.js';
import { concretePath, type SecurityServer, startSecurityServer } from './helpers.js';

const db = useDatabase();
const LIMIT = 4096;
const OPEN = new Set(['/health']);
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

let nudge: SecurityServer;
let doors: { method: string; path: string }[];

beforeAll(async () => {
  nudge = await startSecurityServer(db, (config) => {
    config.ingest.max_body_bytes = LIMIT;
  });
  const seen = new Set<string>();
  doors = [];
  for (const route of inspectRoutes(nudge.server.app)) {
    if (route.isMiddleware) continue;
    const methods = route.method === 'ALL' ? ['GET', 'POST'] : [route.method];
    for (const method of methods) {
      const door = `${method} ${route.path}`;
      if (seen.has(door)) continue;
      seen.add(door);
      doors.push({ method, path: route.path });
    }
  }
});

async function ask(method: string, path: string, headers: Record<string, string> = {}) {
  const response = await nudge.request(concretePath(path), { method, headers });
  const json = (await response.json().catch(() => ({}))) as { error?: string };
  return { status: response.status, error: json.error };
}

describe('the route table', () => {
  it('holds the doors this test knows about, so walking it is not empty', () => {
    const names = doors.map((d) => `${d.method} ${d.path}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'GET /health',
        'GET /metrics',
        'POST /ingest',
        'POST /v1/contacts',
        'GET /v1/contacts',
        'DELETE /v1/contacts/:contact',
        'POST /v1/events',
        'GET /v1/lists/:name/contacts',
        'DELETE /v1/lists/:name/contacts',
      ]),
    );
    expect(doors.length).toBeGreaterThanOrEqual(14);
  });

  it('answers /health without a credential', async () => {
    expect((await ask('GET', '/health')).status).toBe(200);
  });

  it('refuses every other door without a credential, with a wrong one and with a revoked key', async () => {
    const answers: string[] = [];
    for (const { method, path } of doors) {
      if (OPEN.has(path)) continue;
      const none = await ask(method, path);
      const wrong = await ask(method, path, { authorization: 'Bearer nudge_not_a_key' });
      const revoked = await ask(method, path, { authorization: `Bearer ${nudge.revokedKey}` });
      const secretHeader = await ask(method, path, { 'x-nudge-secret': nudge.revokedKey });
      answers.push(
        `${method} ${path}: ${none.status} ${wrong.status} ${revoked.status} ${secretHeader.status}`,
      );
    }
    expect(answers).toEqual(answers.map((line) => `${line.split(': ')[0]}: 401 401 401 401`));
  });

  it('marks every /v1 answer, refused or not, as not to be cached nor sniffed', async () => {
    const unmarked: string[] = [];
    const check = async (method: string, path: string, headers: Record<string, string> = {}) => {
      const response = await nudge.request(path, { method, headers });
      await response.body?.cancel();
      const marks = `${response.headers.get('cache-control')} ${response.headers.get('x-content-type-options')}`;
      if (marks !== 'no-store nosniff')
        unmarked.push(`${method} ${path} ${response.status}: ${marks}`);
      return response.status;
    };
    for (const { method, path } of doors) {
      if (path.startsWith('/v1/')) await check(method, concretePath(path));
    }
    const read = { authorization: `Bearer ${nudge.readKey}` };
    expect(await check('GET', '/v1/contacts', read)).toBe(200);
    expect(await check('GET', '/v1/no-such-route', read)).toBe(404);
    expect(unmarked).toEqual([]);
  });

  it('lets a read key write nowhere, no API key into /ingest and the ingest secret nowhere else', async () => {
    const refused: string[] = [];
    for (const { method, path } of doors) {
      if (OPEN.has(path)) continue;
      if (method !== 'GET' && method !== 'HEAD') {
        const read = await ask(method, path, { authorization: `Bearer ${nudge.readKey}` });
        if (![401, 403].includes(read.status)) {
          refused.push(`${method} ${path} read key: ${read.status}`);
        }
      }
      if (path !== '/ingest') {
        // The ingest secret opens /ingest and nothing else.
        for (const headers of [
          { authorization: `Bearer ${nudge.ingestSecret}` } as Record<string, string>,
          { 'x-nudge-secret': nudge.ingestSecret },
        ]) {
          const other = await ask(method, path, headers);
          if (other.status !== 401)
            refused.push(`${method} ${path} ingest secret: ${other.status}`);
        }
      }
      if (path === '/ingest') {
        const write = await ask(method, path, { authorization: `Bearer ${nudge.writeKey}` });
        if (write.status !== 401) refused.push(`${method} ${path} write key: ${write.status}`);
      }
    }
    expect(refused).toEqual([]);
  });
});

describe('a method a path does not take', () => {
  const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

  it('is a 405 naming the methods it takes in Allow, in the API’s error shape, on every path of the route table', async () => {
    const answers: string[] = [];
    const expected: string[] = [];
    for (const path of new Set(doors.map((d) => d.path))) {
      const url = concretePath(path);
      // Every route whose pattern matches the URL: /v1/features/:name also takes /v1/features/backtest.
      const taken = new Set(doors.filter((d) => patternMatches(d.path, url)).map((d) => d.method));
      const takes = (method: string) => taken.has(method === 'HEAD' ? 'GET' : method);
      for (const method of METHODS.filter((m) => !takes(m))) {
        // A write key, so that /v1's credential check lets every method through to routing.
        const response = await nudge.request(url, {
          method,
          headers: { authorization: `Bearer ${nudge.writeKey}` },
        });
        // A HEAD answer has no body.
        const json = (await response.json().catch(() => ({ error: '-' }))) as { error?: string };
        const v1 = path.startsWith('/v1/');
        const marks = v1
          ? ` ${response.headers.get('cache-control')} ${response.headers.get('x-content-type-options')}`
          : '';
        answers.push(
          `${method} ${url}: ${response.status} [${response.headers.get('allow')}] ${json.error}${marks}`,
        );
        expected.push(
          `${method} ${url}: 405 [${METHODS.filter(takes).join(', ')}] ${method === 'HEAD' ? '-' : 'method_not_allowed'}${v1 ? ' no-store nosniff' : ''}`,
        );
      }
    }
    expect(answers).toEqual(expected);
    expect(answers).toEqual(
      expect.arrayContaining([
        'GET /ingest: 405 [POST] method_not_allowed',
        'GET /ingest/resend: 405 [POST] method_not_allowed',
        'GET /v1/events: 405 [POST] method_not_allowed no-store nosniff',
        'HEAD /v1/events: 405 [POST] - no-store nosniff',
        'PUT /v1/contacts/x: 405 [GET, HEAD, DELETE] method_not_allowed no-store nosniff',
      ]),
    );
  });

  it('says which in one sentence, and keeps a path the server does not have a 404', async () => {
    const write = { authorization: `Bearer ${nudge.writeKey}` };
    const wrong = await nudge.request('/v1/events', { headers: write });
    expect(await wrong.json()).toEqual({
      error: 'method_not_allowed',
      detail: '/v1/events does not take GET; it takes POST',
    });
    for (const path of ['/v1/no-such-route', '/v1/events/x', '/ingest/nope', '/no-such-path']) {
      for (const method of ['GET', 'POST']) {
        const response = await nudge.request(path, { method, headers: write });
        expect(`${method} ${path}: ${response.status}`).toBe(`${method} ${path}: 404`);
        expect(response.headers.get('allow')).toBeNull();
        expect(await response.json()).toMatchObject({ error: 'not_found' });
      }
    }
    // HEAD is taken wherever GET is.
    expect((await nudge.request('/v1/lists', { method: 'HEAD', headers: write })).status).toBe(200);
  });
});

/** Whether a route's pattern (`:name` one segment, `*` the rest) matches a URL path. */
function patternMatches(pattern: string, url: string): boolean {
  const source = pattern
    .split(/(:[A-Za-z_][A-Za-z0-9_]*(?:\{[^}]*\})?|\*)/)
    .map((part, i) =>
      i % 2 === 1 ? (part === '*' ? '.*' : '[^/]+') : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${source}$`).test(url);
}

describe('/metrics', () => {
  it('is open to a loopback peer, which may not send a revoked key', async () => {
    const listening = await nudge.server.listen({ host: '127.0.0.1', port: 0 });
    try {
      const open = await fetch(`${listening.url}/metrics`);
      expect(open.status).toBe(200);
      expect(await open.text()).toMatch(/nudge_ingest/);
      const revoked = await fetch(`${listening.url}/metrics`, {
        headers: { authorization: `Bearer ${nudge.revokedKey}` },
      });
      expect(revoked.status).toBe(401);
      const read = await fetch(`${listening.url}/metrics`, {
        headers: { authorization: `Bearer ${nudge.readKey}` },
      });
      expect(read.status).toBe(200);
    } finally {
      await listening.close();
    }
  });

  it('answers anyone else only with a live key', async () => {
    expect((await ask('GET', '/metrics')).status).toBe(401);
    expect(
      (await ask('GET', '/metrics', { authorization: `Bearer ${nudge.readKey}` })).status,
    ).toBe(200);
  });
});

describe('body limits', () => {
  const bodyDoors = () => doors.filter((d) => BODY_METHODS.has(d.method));
  const credentials = (path: string): Record<string, string> =>
    path === '/ingest'
      ? { 'x-nudge-secret': nudge.ingestSecret }
      : { authorization: `Bearer ${nudge.writeKey}` };

  it('refuses a declared length over ingest.max_body_bytes on every door that takes a body, before credentials', async () => {
    expect(bodyDoors().length).toBeGreaterThanOrEqual(7);
    const answers: string[] = [];
    for (const { method, path } of bodyDoors()) {
      for (const headers of [{}, credentials(path)]) {
        const response = await nudge.request(concretePath(path), {
          method,
          headers: {
            ...headers,
            'content-type': 'application/json',
            'content-length': String(LIMIT + 1),
          },
          body: 'x'.repeat(LIMIT + 1),
        });
        const json = (await response.json()) as { error: string; detail: string };
        answers.push(`${method} ${path}: ${response.status} ${json.error} ${json.detail}`);
      }
    }
    const expected = `413 payload_too_large body is larger than ingest.max_body_bytes (${LIMIT} bytes)`;
    expect(answers).toEqual(answers.map((line) => `${line.split(': ')[0]}: ${expected}`));
  });

  it('stops reading a streamed body at the limit on every door, and refuses it where the route reads one', async () => {
    const chunk = 512;
    const answers: string[] = [];
    for (const { method, path } of bodyDoors()) {
      // A list for /v1/lists/:name/... to find (an earlier DELETE door may have removed it).
      const list = await nudge.request('/v1/lists', {
        method: 'POST',
        headers: { authorization: `Bearer ${nudge.writeKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: concretePath(':name') }),
      });
      expect([201, 409]).toContain(list.status);
      let pulled = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pulled >= LIMIT * 4) return controller.close();
          pulled += chunk;
          controller.enqueue(
            new TextEncoder().encode(
              pulled === chunk ? `{"a":"${'x'.repeat(chunk - 6)}` : 'x'.repeat(chunk),
            ),
          );
        },
      });
      const response = await nudge.request(concretePath(path), {
        method,
        headers: { ...credentials(path), 'content-type': 'application/json' },
        body,
        duplex: 'half',
      } as RequestInit);
      await response.arrayBuffer();
      if (pulled > LIMIT + 4 * chunk) answers.push(`${method} ${path}: read ${pulled} bytes`);
      if (method === 'POST' && response.status !== 413) {
        answers.push(`${method} ${path}: ${response.status}`);
      }
    }
    expect(answers).toEqual([]);
  });
});

describe('rate limits', () => {
  it('gives each /v1 key server.rate_limit.per_minute requests, then 429 with Retry-After', async () => {
    const limited = await startSecurityServer(db, (config) => {
      config.server.rate_limit.per_minute = 3;
    });
    const as = (key: string) =>
      limited.request('/v1/lists', { headers: { authorization: `Bearer ${key}` } });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await as(limited.readKey)).status);
    expect(statuses).toEqual([200, 200, 200]);
    const refused = await as(limited.readKey);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(20);
    expect(await refused.json()).toEqual({
      error: 'rate_limited',
      detail: expect.stringMatching(/server\.rate_limit\.per_minute \(3\); retry in \d+s$/),
    });
    // Another key has its own allowance; an unauthenticated caller is not counted.
    expect((await as(limited.writeKey)).status).toBe(200);
    expect((await limited.request('/v1/lists')).status).toBe(401);
  });

  it('refills at per_minute / 60 a second and answers how long until the next request', () => {
    let now = 1_000_000;
    const limiter = makeRateLimiter(3, () => now);
    const key = { id: 'k', name: 'ci' };
    for (let i = 0; i < 3; i++) limiter.take(key);
    const refusal = (() => {
      try {
        limiter.take(key);
      } catch (error) {
        return error;
      }
    })();
    expect(refusal).toBeInstanceOf(HttpError);
    expect((refusal as HttpError).headers).toEqual({ 'retry-after': '20' });
    now += 19_000;
    expect(() => limiter.take(key)).toThrow(/retry in 1s/);
    now += 1_000;
    expect(() => limiter.take(key)).not.toThrow();
    expect(() => limiter.take(key)).toThrow(HttpError);
    now += 60_000;
    for (let i = 0; i < 3; i++) limiter.take(key);
    expect(() => limiter.take(key)).toThrow(HttpError);
  });
});
