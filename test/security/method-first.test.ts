// A method a path does not take is a 405 with Allow whoever asks: a read key,
// a key of scope dashboard, the dashboard's session cookie (without its CSRF
// value) or no credential at all hear what a write key hears, not that the
// route needs a write key, a CSRF header or a key. Walks the route table, as
// doors.test.ts does; the credentials still decide on a method the path takes.
// A path no route has is the 404 the same way (docs/api.md says why a 404
// and not a 401 without a key), while a record a route names stays behind
// the credential.
import { inspectRoutes } from 'hono/dev';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/server/api/keys.js';
import { useDatabase } from '../harness/db.js';
import { concretePath, type SecurityServer, startSecurityServer } from './helpers.js';

const db = useDatabase();
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

let nudge: SecurityServer;
/** Each /v1 path of the route table (`:name` as `x`), with the methods its routes take. */
let paths: Map<string, Set<string>>;
let callers: Record<string, Record<string, string>>;

beforeAll(async () => {
  nudge = await startSecurityServer(db);
  paths = new Map();
  for (const route of inspectRoutes(nudge.server.app)) {
    if (route.isMiddleware || !route.path.startsWith('/v1/')) continue;
    const url = concretePath(route.path);
    const taken = paths.get(url) ?? new Set<string>();
    taken.add(route.method);
    if (route.method === 'GET') taken.add('HEAD');
    paths.set(url, taken);
  }
  const dashboardKey = (await createApiKey(db.sql, 'board', 'dashboard')).key;
  const session = await nudge.server.dashboard.login(nudge.server.dashboard.token);
  callers = {
    'read key': { authorization: `Bearer ${nudge.readKey}` },
    'dashboard key': { authorization: `Bearer ${dashboardKey}` },
    'session cookie': { cookie: `nudge_session=${session}`, origin: 'http://localhost' },
    'no credential': {},
  };
});

/** `${status} [${allow}] ${error}` of a request (a HEAD answer has no body: `-`). */
async function answer(url: string, method: string, headers: Record<string, string>) {
  const response = await nudge.request(url, { method, headers });
  if (response.status !== 405) {
    // Not read: a live tail's answer never ends.
    await response.body?.cancel();
    return `${response.status}`;
  }
  const json = (await response.json().catch(() => ({ error: '-' }))) as { error?: string };
  return `${response.status} [${response.headers.get('allow')}] ${json.error}`;
}

describe('a method a /v1 path does not take', () => {
  it('is the 405 a write key gets, before any credential or scope check', async () => {
    const answers: string[] = [];
    const expected: string[] = [];
    let refused = 0;
    for (const [url, taken] of paths) {
      for (const method of METHODS.filter((m) => !taken.has(m))) {
        const written = await answer(url, method, { authorization: `Bearer ${nudge.writeKey}` });
        if (!written.startsWith('405 ')) continue;
        refused++;
        for (const [who, headers] of Object.entries(callers)) {
          answers.push(`${method} ${url} ${who}: ${await answer(url, method, headers)}`);
          expected.push(`${method} ${url} ${who}: ${written}`);
        }
      }
    }
    expect(answers).toEqual(expected);
    expect(refused).toBeGreaterThan(20);
    expect(answers).toEqual(
      expect.arrayContaining([
        'POST /v1/decisions read key: 405 [GET, HEAD] method_not_allowed',
        'DELETE /v1/overview session cookie: 405 [GET, HEAD] method_not_allowed',
        'GET /v1/events no credential: 405 [POST] method_not_allowed',
      ]),
    );
  });

  it('says which, and leaves a method the path takes to the credentials', async () => {
    const read = { authorization: `Bearer ${nudge.readKey}` };
    const wrong = await nudge.request('/v1/decisions', { method: 'POST', headers: read });
    expect([wrong.status, wrong.headers.get('allow'), await wrong.json()]).toEqual([
      405,
      'GET, HEAD',
      {
        error: 'method_not_allowed',
        detail: '/v1/decisions does not take POST; it takes GET, HEAD',
      },
    ]);
    expect(wrong.headers.get('cache-control')).toBe('no-store');
    const write = await nudge.request('/v1/contacts', { method: 'POST', headers: read });
    expect([write.status, ((await write.json()) as { error: string }).error]).toEqual([
      403,
      'insufficient_scope',
    ]);
    const none = await nudge.request('/v1/contacts', { method: 'POST' });
    expect(none.status).toBe(401);
  });
});

describe('a /v1 path the server does not have', () => {
  it('is the 404 a write key gets, before any credential or scope check', async () => {
    const everyone = {
      'write key': { authorization: `Bearer ${nudge.writeKey}` },
      ...callers,
      'unknown key': { authorization: 'Bearer nudge_nosuchkey' },
      'revoked key': { authorization: `Bearer ${nudge.revokedKey}` },
    };
    const answers: string[] = [];
    const expected: string[] = [];
    for (const url of ['/v1/no-such-route', '/v1/events/x', '/v1/contacts/x/y', '/v1/sync/x']) {
      // The path has no route for any method: it is not one the walk above saw.
      expect(paths.has(url)).toBe(false);
      for (const method of ['GET', 'POST', 'PUT', 'DELETE']) {
        for (const [who, headers] of Object.entries(everyone)) {
          const response = await nudge.request(url, { method, headers });
          answers.push(
            `${method} ${url} ${who}: ${response.status} ${JSON.stringify(await response.json())} ${response.headers.get('cache-control')}`,
          );
          expected.push(
            `${method} ${url} ${who}: 404 ${JSON.stringify({ error: 'not_found', detail: `no route for ${method} ${url}` })} no-store`,
          );
        }
      }
    }
    expect(answers).toEqual(expected);
  });

  it('is a path, not a record: a contact no one is stays behind the credential', async () => {
    const read = { authorization: `Bearer ${nudge.readKey}` };
    const url = '/v1/contacts/nobody@example.com';
    expect((await nudge.request(url)).status).toBe(401);
    const found = await nudge.request(url, { headers: read });
    expect([found.status, ((await found.json()) as { error: string }).error]).toEqual([
      404,
      'contact_not_found',
    ]);
  });
});
