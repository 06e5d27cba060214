// Edges of the doors that doors.test.ts does not walk: signing in never leads
// off the server, however the page asked for is spelt, and its cookie is
// Secure behind a proxy that ends TLS; /metrics is open to a
// loopback peer only when it asks for a loopback host (not a rebound name);
// a sender's delivery id too long to key on, and a Resend event with a time
// or an address PostgreSQL cannot keep, are a 4xx naming the field, not a 500;
// the signed token of an email's link is not logged when its request fails.
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import pino from 'pino';
import postgres from 'postgres';
import { Webhook } from 'standardwebhooks';
import { beforeAll, describe, expect, it } from 'vitest';
import { linkUrl } from '../../src/email/links.js';
import { makeServer } from '../../src/server/index.js';
import { useDatabase } from '../harness/db.js';
import { signed, testProject } from '../server/helpers.js';
import { type SecurityServer, startSecurityServer } from './helpers.js';

const db = useDatabase();
const ORIGIN = 'http://127.0.0.1:8787';
const RESEND_SECRET = `whsec_${randomBytes(24).toString('base64')}`;
let nudge: SecurityServer;

beforeAll(async () => {
  nudge = await startSecurityServer(db, (config) => {
    config.email.resend = { ...config.email.resend, webhook_secret: RESEND_SECRET } as never;
  });
});

const request = (path: string, init: RequestInit = {}) =>
  nudge.server.app.request(`${ORIGIN}${path}`, init);

async function answer(response: Response) {
  const text = await response.text();
  let json: { error?: string; detail?: string } = {};
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    // a page
  }
  return { status: response.status, ...json };
}

describe('signing in', () => {
  it('never leads off the server, from the form’s next or the link’s page', async () => {
    const token = nudge.server.dashboard.token;
    const form = (next: string) =>
      request('/login', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN },
        body: new URLSearchParams({ token, next }).toString(),
      });
    const where: string[] = [];
    // Dot segments that resolve to a path starting `//`: another host as a Location.
    for (const next of [
      '/.//evil.example',
      '/..//evil.example/x',
      '/a/..//evil.example',
      '/%2e//evil.example',
    ])
      where.push(`form ${next}: ${(await form(next)).headers.get('location')}`);
    // The link's token on a page whose path is another host's.
    for (const page of ['//evil.example/', '/\\evil.example'])
      where.push(
        `link ${page}: ${(await request(`${page}?token=${token}`, { headers: { accept: 'text/html' } })).headers.get('location')}`,
      );
    expect(where).toEqual([
      'form /.//evil.example: /',
      'form /..//evil.example/x: /',
      'form /a/..//evil.example: /',
      'form /%2e//evil.example: /',
      'link //evil.example/: /',
      'link /\\evil.example: /',
    ]);
    // A page of this server is still where the link leads.
    const kept = await request(`/logs?outcome=skipped&token=${token}`);
    expect([kept.status, kept.headers.get('location')]).toEqual([303, '/logs?outcome=skipped']);
  });
});

describe('the session cookie behind a proxy that ends TLS', () => {
  it('is Secure for server.public_url’s https host, though the server sees http', async () => {
    const proxied = await startSecurityServer(db, (config) => {
      config.server.public_url = 'https://nudge.example.com';
    });
    const signIn = (url: string, origin: string) =>
      proxied.server.app.request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
        body: new URLSearchParams({ token: proxied.server.dashboard.token, next: '/' }).toString(),
      });
    const behind = await signIn('http://nudge.example.com/login', 'https://nudge.example.com');
    expect(behind.status).toBe(303);
    expect(behind.headers.get('set-cookie')).toMatch(/; Secure\b/);
    // Opened on this machine over plain http, it must still be kept.
    const local = await signIn(`${ORIGIN}/login`, ORIGIN);
    expect(local.status).toBe(303);
    expect(local.headers.get('set-cookie')).not.toMatch(/Secure/);
  });
});

describe('/metrics from loopback', () => {
  /** GET /metrics over TCP from 127.0.0.1 with this Host header. */
  function scrape(url: string, host: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const asked = httpRequest(`${url}/metrics`, { headers: { host } }, (response) => {
        let body = '';
        response.on('data', (chunk) => {
          body += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      });
      asked.on('error', reject);
      asked.end();
    });
  }

  it('is open when it asks for a loopback host, and needs a key for a rebound name', async () => {
    const listening = await nudge.server.listen({ host: '127.0.0.1', port: 0 });
    try {
      const port = new URL(listening.url).port;
      const statuses: string[] = [];
      let refused = '';
      for (const host of [
        `127.0.0.1:${port}`,
        `localhost:${port}`,
        `rebind.evil.example:${port}`,
      ]) {
        const { status, body } = await scrape(listening.url, host);
        statuses.push(`${host.split(':')[0]}: ${status}`);
        if (status === 401) refused = body;
      }
      expect(statuses).toEqual(['127.0.0.1: 200', 'localhost: 200', 'rebind.evil.example: 401']);
      // It says why to whoever scrapes this machine by its name.
      expect(JSON.parse(refused)).toMatchObject({
        error: 'missing_api_key',
        detail: expect.stringContaining(
          '/metrics is open without a key from this machine only by a loopback name (127.0.0.1, localhost, [::1]), not by "rebind.evil.example"',
        ),
      });
    } finally {
      await listening.close();
    }
  });
});

describe('delivery ids and Resend events PostgreSQL cannot keep', () => {
  // Random, so PostgreSQL cannot compress it into an index entry: 6000 characters.
  const long = randomBytes(4500).toString('base64url');

  it('refuses a webhook-id or idempotency-key over 200 characters: 400 naming the header, nothing stored', async () => {
    const body = JSON.stringify({ event: 'long_id', n: 1 });
    const shared = await request('/ingest', {
      method: 'POST',
      headers: { 'x-nudge-secret': nudge.ingestSecret, 'idempotency-key': long },
      body,
    });
    const signedLong = await request('/ingest', {
      method: 'POST',
      headers: signed(nudge.server.secrets.signing[0]!, body, { id: long }),
      body,
    });
    expect([await answer(shared), await answer(signedLong)]).toEqual([
      {
        status: 400,
        error: 'bad_header',
        detail: 'idempotency-key: expected at most 200 characters, got 6000',
      },
      {
        status: 400,
        error: 'bad_header',
        detail: 'webhook-id: expected at most 200 characters, got 6000',
      },
    ]);
    const stored = await db.sql`select 1 from nudge_engine.inbox where event_name = 'long_id'`;
    expect(stored).toHaveLength(0);
    // Unauthenticated, it is the 401 still: nothing is looked at before the credential.
    const stranger = await request('/ingest', {
      method: 'POST',
      headers: { 'x-nudge-secret': 'nss_wrong', 'idempotency-key': long },
      body,
    });
    expect((await answer(stranger)).status).toBe(401);
  });

  const resend = (body: string, id = `msg_${randomBytes(6).toString('hex')}`) => {
    const at = new Date();
    return request('/ingest/resend', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'svix-id': id,
        'svix-timestamp': String(Math.floor(at.getTime() / 1000)),
        'svix-signature': new Webhook(RESEND_SECRET).sign(id, at, body),
      },
      body,
    });
  };

  it('refuses a Resend svix-id over 200 characters, and an address no index holds, naming them', async () => {
    const delivered = JSON.stringify({ type: 'email.delivered', data: { email_id: 'e1' } });
    expect(await answer(await resend(delivered, long))).toEqual({
      status: 400,
      error: 'bad_header',
      detail: 'svix-id: expected at most 200 characters, got 6000',
    });
    const huge = `${randomBytes(3000).toString('hex')}@example.com`;
    const bounced = JSON.stringify({
      type: 'email.bounced',
      data: { email_id: 'e2', to: ['ok@example.com', huge], bounce: { type: 'Permanent' } },
    });
    expect(await answer(await resend(bounced))).toEqual({
      status: 422,
      error: 'invalid_payload',
      detail: 'data.to[1]: expected an email address of at most 1000 bytes',
    });
  });

  it('takes a created_at PostgreSQL cannot store (year 0, a negative year) as the time it came', async () => {
    const statuses: string[] = [];
    for (const created of ['0000-01-01T00:00:00Z', '-000001-01-01T00:00:00Z']) {
      const body = JSON.stringify({
        type: 'email.delivered',
        created_at: created,
        data: { email_id: `e-${created}`, to: ['someone@example.com'] },
      });
      statuses.push(`${created}: ${(await resend(body)).status}`);
    }
    expect(statuses).toEqual(['0000-01-01T00:00:00Z: 200', '-000001-01-01T00:00:00Z: 200']);
  });
});

describe('a failed request under /email', () => {
  it('is logged with its route, not the link’s token', async () => {
    const lines: string[] = [];
    const project = await testProject((config) => {
      config.email.link_keys = [randomBytes(24).toString('base64')];
    });
    // A store that is gone once the server is made: every query fails, as in an outage.
    const store = postgres(db.url, { max: 1, onnotice: () => {} });
    const server = await makeServer({
      sql: store,
      project,
      route: () => 0,
      log: pino({ level: 'error' }, { write: (line: string) => lines.push(line) }),
      keys: { key: Buffer.alloc(32, 7) },
    });
    await store.end();
    const url = linkUrl(project, {
      purpose: 'unsubscribe',
      contactId: '00000000-0000-4000-8000-000000000001',
      topic: 'news',
    });
    const token = url.split('/').pop()!;
    const response = await server.app.request(new URL(url).pathname, {
      method: 'POST',
      body: 'List-Unsubscribe=One-Click',
    });
    expect(response.status).toBe(500);
    const logged = lines.join('');
    expect(logged).toContain('request failed');
    expect(logged).toContain('/email/unsubscribe/:token');
    expect(logged).not.toContain(token);
  });
});
