// Signing out of the dashboard revokes the session in the engine store, not
// only the browser's cookie: a copy of the cookie opens neither a page nor
// /v1 afterwards, in this process or another sharing the store, while other
// sessions go on; and the revocations do not pile up past their expiry.
import { beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/server/api/keys.js';
import { makeDashboardAccess } from '../../src/server/dashboard/access.js';
import { useDatabase } from '../harness/db.js';
import { type SecurityServer, startSecurityServer } from './helpers.js';

const db = useDatabase();
const ORIGIN = 'http://localhost';
let nudge: SecurityServer;

beforeAll(async () => {
  nudge = await startSecurityServer(db);
});

/** Signs in through the login form; the cookie header a browser would send. */
async function signIn(credential = nudge.server.dashboard.token): Promise<string> {
  const response = await nudge.request('/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN },
    body: new URLSearchParams({ token: credential, next: '/logs' }).toString(),
  });
  expect(response.status).toBe(303);
  return response.headers.get('set-cookie')!.split(';')[0]!;
}

const signOut = (cookie: string) =>
  nudge.request('/logout', {
    method: 'POST',
    headers: { cookie, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
    body: '',
  });

/** What a cookie opens now: /v1/session's status and a page's. */
async function opens(cookie: string): Promise<string> {
  const session = await nudge.request('/v1/session', { headers: { cookie } });
  const page = await nudge.request('/logs', { headers: { cookie } });
  const text = await page.text();
  return `v1 ${session.status}, page ${page.status}${text.includes('Your session has ended') ? ' (session ended)' : ''}`;
}

describe('signing out of the dashboard', () => {
  it('revokes the session: a copy of its cookie opens nothing, another session goes on', async () => {
    const cookie = await signIn();
    const other = await signIn();
    expect(await opens(cookie)).toBe('v1 200, page 200');
    const out = await signOut(cookie);
    expect([out.status, out.headers.get('location')]).toEqual([303, '/']);
    expect(out.headers.get('set-cookie')).toMatch(/^nudge_session=;/);
    // The cookie as copied before the sign-out.
    expect(await opens(cookie)).toBe('v1 401, page 401 (session ended)');
    const refused = await nudge.request('/v1/session', { headers: { cookie } });
    expect(await refused.json()).toMatchObject({ error: 'invalid_session' });
    // Signing out again with it is the sign-in page, nothing revoked anew.
    expect((await signOut(cookie)).status).toBe(401);
    expect(await opens(other)).toBe('v1 200, page 200');
  });

  it('revokes a session opened with an API key of scope dashboard, and leaves the key alone', async () => {
    const { key } = await createApiKey(db.sql, 'board', 'dashboard');
    const cookie = await signIn(key);
    expect(await opens(cookie)).toBe('v1 200, page 200');
    expect((await signOut(cookie)).status).toBe(303);
    expect(await opens(cookie)).toBe('v1 401, page 401 (session ended)');
    const bearer = await nudge.request('/v1/session', {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(bearer.status).toBe(200);
    expect(await opens(await signIn(key))).toBe('v1 200, page 200');
  });

  it('ends a live tail opened before the sign-out, and one whose key is revoked', async () => {
    /** Opens the tail with `headers`, runs `revoke`, and reads the stream to its end. */
    const tailAcross = async (headers: Record<string, string>, revoke: () => Promise<unknown>) => {
      const tail = await nudge.request('/v1/decisions/stream', { headers });
      expect(tail.status).toBe(200);
      const reader = tail.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      while (!text.includes('event: ready')) text += decoder.decode((await reader.read()).value);
      await revoke();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
        text += decoder.decode(chunk.value);
      return text;
    };
    const cookie = await signIn();
    const ended = await tailAcross({ cookie }, () => signOut(cookie));
    expect(ended).toMatch(
      /event: ended\ndata: \{"reason":"the key was revoked or the session ended"\}/,
    );
    const { key, id } = await createApiKey(db.sql, 'tailing', 'read');
    const revoked = await tailAcross(
      { authorization: `Bearer ${key}` },
      () => db.sql`update nudge_engine.api_keys set revoked_at = now() where id = ${id}`,
    );
    expect(revoked).toMatch(/event: ended/);
  }, 60_000);

  it('holds in every process that shares the engine store', async () => {
    // Two processes with the same configured token: a cookie of one opens the other.
    const env = { NUDGE_DASHBOARD_TOKEN: 'a-configured-token-of-enough-length-0123' };
    const here = makeDashboardAccess(db.sql, env);
    const there = makeDashboardAccess(db.sql, env);
    const cookie = (await here.login(env.NUDGE_DASHBOARD_TOKEN))!;
    expect(await there.session(cookie)).toMatchObject({ scope: 'dashboard' });
    await here.logout(cookie);
    expect(await there.session(cookie)).toBeUndefined();
    expect(await here.session(cookie)).toBeUndefined();
  });

  it('keeps a revocation until a day past the cookie’s expiry, then drops it at a later sign-out', async () => {
    await db.sql`
      insert into nudge_engine.dashboard_signouts (session, expires_at) values
        ('00000000-0000-4000-8000-000000000001', now() - interval '2 days'),
        ('00000000-0000-4000-8000-000000000002', now() - interval '1 hour')`;
    await signOut(await signIn());
    const kept = await db.sql<{ session: string }[]>`
      select session from nudge_engine.dashboard_signouts
       where session::text like '00000000-%' order by session`;
    expect(kept.map((row) => row.session)).toEqual(['00000000-0000-4000-8000-000000000002']);
  });
});
