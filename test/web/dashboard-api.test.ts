// The dashboard's doors and its /v1 routes, in-process: the token link and
// the login form become an HttpOnly SameSite=Strict session cookie; without
// one every page is the login page; a cookie session reads, and changes only
// what the dashboard may change, with its CSRF value and from its own
// origin; an API key of scope dashboard does the same as a bearer; binding
// beyond loopback needs a configured token. Then what the routes answer:
// features with their machine and hidden secrets, decisions paged and tailed.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Hono } from 'hono';
import { inspectRoutes } from 'hono/dev';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { createList } from '../../src/contacts/lists.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { type Feature, loadFeatures } from '../../src/features/load.js';
import { redactYaml } from '../../src/server/api/features.js';
import { createApiKey, revokeApiKey } from '../../src/server/api/keys.js';
import { makeDashboardAccess } from '../../src/server/dashboard/access.js';
import { makeDashboard } from '../../src/server/dashboard/index.js';
import { makeServer, type NudgeServer } from '../../src/server/index.js';
import { isMounted, MOUNTS } from '../../src/server/mounts.js';
import { useDatabase } from '../harness/db.js';
import { testProject } from '../server/helpers.js';

const db = useDatabase();
let server: NudgeServer;
let features: Feature[];
const ORIGIN = 'http://127.0.0.1:8787';

const DRIP = `name: welcome-drip
trigger:
  table: auth.users
  on: insert
  when: { new.email: not.is.null }
contact: { id: new.id, email: new.email }
stages:
  - name: welcomed
    do: [{ set: { welcomed: true } }]
  - name: nudged
    after: 2d
    unless: { contact.onboarded: is.true }
    do:
      - webhook:
          url: https://example.com/hook
          headers: { Authorization: "Bearer sk_live_123", X-Trace: "kept" }
`;

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  const project = await testProject();
  const dir = project.cwd;
  await mkdir(path.join(dir, 'features'));
  await writeFile(path.join(dir, 'features/welcome-drip.yaml'), DRIP);
  await writeFile(
    path.join(dir, 'features/draft.yaml'),
    'name: later\nstatus: draft\ntrigger: { event: signed_up }\nstages: [{ name: one, do: [] }]\n',
  );
  // No contact mapping on a table trigger: its events run their actions without journeys.
  await writeFile(
    path.join(dir, 'features/pings.yaml'),
    'name: pings\nstatus: draft\ntrigger: { table: public.events, on: insert }\nstages: [{ name: one, do: [] }]\n',
  );
  features = await loadFeatures(path.join(dir, 'features'), {}, dir);
  server = await makeServer({
    sql: db.sql,
    project,
    route: () => 0,
    log: pino({ level: 'silent' }),
    keys: { key: Buffer.alloc(32, 3) },
    dashboard: {
      features,
      sourceUrl: 'postgres://app@db.example.com:6543/postgres',
      movableClock: true,
    },
  });
});

const request = (url: string, init: RequestInit = {}) =>
  server.app.request(new URL(url, ORIGIN).toString(), init);

/** welcome-drip's pauses and resumes in the decision log, oldest first: [outcome, by]. */
const switchMoves = async () =>
  (
    await db.sql<{ outcome: string; by: string }[]>`
      select outcome, detail ->> 'by' as by from nudge_engine.decisions
       where feature = 'welcome-drip' and outcome in ('paused', 'resumed') order by id`
  ).map((move) => [move.outcome, move.by]);

/** Signs in with the link's token; returns the cookie header and the CSRF value. */
async function signIn(): Promise<{ cookie: string; csrf: string }> {
  const response = await request(`/features?token=${server.dashboard.token}`);
  expect(response.status).toBe(303);
  expect(response.headers.get('location')).toBe('/features');
  const set = response.headers.get('set-cookie') ?? '';
  expect(set).toMatch(/^nudge_session=v2\.t\./);
  expect(set).toMatch(/HttpOnly/);
  expect(set).toMatch(/SameSite=Strict/);
  const cookie = set.split(';')[0]!;
  const session = await request('/v1/session', { headers: { cookie } });
  expect(session.status).toBe(200);
  const body = (await session.json()) as { csrf: string; scope: string };
  expect(body.scope).toBe('dashboard');
  return { cookie, csrf: body.csrf };
}

describe('getting in', () => {
  it('shows the login page, and nothing else, without a valid token or session', async () => {
    for (const url of ['/', '/features', '/logs', '/?token=wrong', '/assets/index.js']) {
      const response = await request(url, {
        headers: { cookie: 'nudge_session=v1.t.-.9999999999.forged' },
      });
      expect(response.status, url).toBe(401);
      const html = await response.text();
      expect(html).toContain('Nudge dashboard');
      expect(html).not.toContain('<script');
      expect(html).not.toContain('welcome-drip');
      expect(response.headers.get('set-cookie')).toBeNull();
    }
    // An old link, from before a restart: where the new one is, not "again".
    expect(await (await request('/?token=wrong')).text()).toContain(
      'That link’s token is not valid for this Nudge: open the link printed at its latest start (nudge dev and nudge start print a new one at each start, unless NUDGE_DASHBOARD_TOKEN is set).',
    );
    // A cookie that no longer opens it (a restart made a new token): said, not a bare form.
    const ended = await request('/logs', {
      headers: { cookie: 'nudge_session=v1.t.-.9999999999.forged' },
    });
    expect(await ended.text()).toContain('Your session has ended: it expired, you signed out');
    expect(await (await request('/logs')).text()).not.toContain('Your session has ended');
    expect((await request('/v1/features')).status).toBe(401);
    const forged = await request('/v1/features', {
      headers: { cookie: 'nudge_session=v1.t.-.9999999999.forged' },
    });
    expect(forged.status).toBe(401);
    expect(await forged.json()).toEqual({
      error: 'invalid_session',
      detail:
        'the dashboard session expired or is no longer valid: open the dashboard link printed at Nudge’s latest start (nudge dev and nudge start print a new one at each start, unless NUDGE_DASHBOARD_TOKEN is set)',
    });
  });

  it('turns the link’s token into a session that opens pages and /v1', async () => {
    const { cookie } = await signIn();
    const page = await request('/features/welcome-drip', { headers: { cookie } });
    expect([200, 503]).toContain(page.status); // 503 only when the web app is not built
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    // No Referer to another origin (the link's token); same-origin keeps the
    // forms' Origin real, where no-referrer made it "null".
    expect(page.headers.get('referrer-policy')).toBe('same-origin');
    const list = await request('/v1/features', { headers: { cookie } });
    expect(list.status).toBe(200);
  });

  it("answers a browser's load of an unknown page with the app and a 404, and the API's with JSON", async () => {
    const { cookie } = await signIn();
    const html = { cookie, accept: 'text/html,application/xhtml+xml' };
    const page = await request('/no/such/page', { headers: html });
    expect(page.status).toBe(404);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const signedOut = await request('/no/such/page', { headers: { accept: 'text/html' } });
    expect(signedOut.status).toBe(401);
    expect(await signedOut.text()).toContain('Nudge dashboard');
    for (const [path, headers] of [
      ['/v1/no-such', html],
      ['/no/such/page', { cookie }],
    ] as const) {
      const api = await request(path, { headers });
      expect(api.status).toBe(404);
      expect(await api.json()).toMatchObject({ error: 'not_found' });
    }
  });

  it('mounts every route but the dashboard’s at a path of mounts.ts, where an unknown one answers JSON', async () => {
    // A mount point added without its place in MOUNTS would get the app's Not found page.
    const routes = (app: Hono) =>
      inspectRoutes(app)
        .filter((route) => !route.isMiddleware)
        .map((route) => `${route.method} ${route.path}`);
    const dashboard = new Set(
      routes(makeDashboard({ access: makeDashboardAccess(db.sql, {}), maxBodyBytes: 1024 }).routes),
    );
    const outside = routes(server.app).filter(
      (route) => !dashboard.has(route) && !isMounted(route.slice(route.indexOf(' ') + 1)),
    );
    expect(outside).toEqual([]);
    expect(routes(server.app)).toEqual(expect.arrayContaining(['GET /health', 'POST /ingest']));

    const { cookie } = await signIn();
    for (const mount of Object.values(MOUNTS)) {
      const answer = await request(`${mount}/no-such`, {
        headers: { cookie, accept: 'text/html' },
      });
      expect(answer.status, mount).toBe(404);
      expect(await answer.json(), mount).toMatchObject({ error: 'not_found' });
    }
    // A prefix is not a mount point: /v1x and /logs/ingest are the dashboard's.
    expect([isMounted('/v1x'), isMounted('/ingestion'), isMounted('/logs/ingest')]).toEqual([
      false,
      false,
      false,
    ]);
    const page = await request('/v1x', { headers: { cookie, accept: 'text/html' } });
    expect(page.status).toBe(404);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('lets a session change only what the dashboard may, with its CSRF value, from its origin', async () => {
    const { cookie, csrf } = await signIn();
    const pause = (headers: Record<string, string>) =>
      request('/v1/features/welcome-drip/pause', {
        method: 'POST',
        headers: { cookie, ...headers },
      });
    expect(await (await pause({})).json()).toMatchObject({ error: 'csrf_failed' });
    expect((await pause({ 'x-nudge-csrf': 'x'.repeat(csrf.length) })).status).toBe(403);
    expect((await pause({ 'x-nudge-csrf': csrf, origin: 'https://evil.example' })).status).toBe(
      403,
    );
    expect(await db.sql`select * from nudge_engine.feature_pauses`).toHaveLength(0);
    const done = await pause({ 'x-nudge-csrf': csrf, origin: ORIGIN });
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({
      name: 'welcome-drip',
      status: 'paused',
      paused_live: { by: 'dashboard' },
    });
    const contact = await request('/v1/contacts', {
      method: 'POST',
      headers: { cookie, 'x-nudge-csrf': csrf, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'no@example.com' }),
    });
    expect(contact.status).toBe(403);
    expect(await contact.json()).toMatchObject({ error: 'insufficient_scope' });
    const resumed = await request('/v1/features/welcome-drip/resume', {
      method: 'POST',
      headers: { cookie, 'x-nudge-csrf': csrf },
    });
    expect(await resumed.json()).toMatchObject({ status: 'active', paused_live: null });
    // Each move is in the decision log, by the dashboard: the refused ones are not.
    expect(await switchMoves()).toEqual([
      ['paused', 'dashboard'],
      ['resumed', 'dashboard'],
    ]);
  });

  it('deletes a segment for a session only with its CSRF value, and never a static list', async () => {
    const { cookie, csrf } = await signIn();
    await createList(db.sql, 'csrf-segment', 'plan=eq.pro');
    await createList(db.sql, 'csrf-static', null);
    const remove = (name: string, headers: Record<string, string>) =>
      request(`/v1/lists/${name}`, { method: 'DELETE', headers: { cookie, ...headers } });
    const names = async () =>
      (
        await db.sql<{ name: string }[]>`
          select name from nudge_engine.lists where name like 'csrf-%' order by name`
      ).map((list) => list.name);

    const forged = await remove('csrf-segment', {});
    expect(forged.status).toBe(403);
    expect(await forged.json()).toMatchObject({ error: 'csrf_failed' });
    expect(await names()).toEqual(['csrf-segment', 'csrf-static']);

    const done = await remove('csrf-segment', { 'x-nudge-csrf': csrf });
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({ name: 'csrf-segment', deleted: true });
    expect(await names()).toEqual(['csrf-static']);

    const kept = await remove('csrf-static', { 'x-nudge-csrf': csrf });
    expect(kept.status).toBe(403);
    expect(await kept.json()).toMatchObject({ error: 'insufficient_scope' });
    expect(await names()).toEqual(['csrf-static']);
  });

  it('leads back to the page asked for, query included, after a wrong token too; never off the server or to /login', async () => {
    const nextOf = async (response: Response) =>
      /name="next" value="([^"]*)"/.exec(await response.text())?.[1]?.replaceAll('&amp;', '&');
    const asked = await request('/actions?status=dead&feature=welcome-drip');
    expect(asked.status).toBe(401);
    expect(await nextOf(asked)).toBe('/actions?status=dead&feature=welcome-drip');
    // The link's wrong token is not kept.
    expect(await nextOf(await request('/logs?token=wrong&outcome=skipped'))).toBe(
      '/logs?outcome=skipped',
    );
    const post = (token: string, next: string) =>
      request('/login', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN },
        body: new URLSearchParams({ token, next }).toString(),
      });
    const wrong = await post('wrong', '/actions?status=dead');
    expect(wrong.status).toBe(401);
    expect(await nextOf(wrong)).toBe('/actions?status=dead');
    const right = await post(server.dashboard.token, '/actions?status=dead');
    expect([right.status, right.headers.get('location')]).toEqual([303, '/actions?status=dead']);
    for (const next of [
      '/login',
      '/login?x=1',
      '/logout',
      '/login/',
      '//evil.example/',
      'https://evil.example/',
      // A browser drops the tab: //evil.example.
      '/\t/evil.example',
      '/\\evil.example',
      // No header may carry a newline: once a 500 after the cookie was set.
      '/logs\r\nSet-Cookie: x=1',
    ])
      expect((await post(server.dashboard.token, next)).headers.get('location'), next).toBe('/');
  });

  it('takes an API key of scope dashboard, as a bearer or through the login form, until it is revoked', async () => {
    const { key } = await createApiKey(db.sql, 'board', 'dashboard');
    const bearer = { authorization: `Bearer ${key}` };
    expect((await request('/v1/features', { headers: bearer })).status).toBe(200);
    const paused = await request('/v1/features/welcome-drip/pause', {
      method: 'POST',
      headers: bearer,
    });
    expect(await paused.json()).toMatchObject({ paused_live: { by: 'api key board' } });
    await request('/v1/features/welcome-drip/resume', { method: 'POST', headers: bearer });
    // The resume is the key's, as the pause is.
    expect((await switchMoves()).slice(-2)).toEqual([
      ['paused', 'api key board'],
      ['resumed', 'api key board'],
    ]);
    const write = await request('/v1/contacts', {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'no@example.com' }),
    });
    expect(write.status).toBe(403);

    const form = (token: string, origin = ORIGIN) =>
      request('/login', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
        body: new URLSearchParams({ token, next: '/logs' }).toString(),
      });
    const { key: readKey } = await createApiKey(db.sql, 'reader', 'read');
    expect((await form(readKey)).status).toBe(401);
    expect((await form(key, 'https://evil.example')).status).toBe(401);
    // Origin "null": Sec-Fetch-Site decides; a sandboxed frame elsewhere sends null alone.
    const nullOrigin = (site?: string) =>
      request('/login', {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          origin: 'null',
          ...(site ? { 'sec-fetch-site': site } : {}),
        },
        body: new URLSearchParams({ token: key, next: '/logs' }).toString(),
      });
    expect((await nullOrigin()).status).toBe(401);
    expect((await nullOrigin('cross-site')).status).toBe(401);
    expect((await nullOrigin('same-origin')).status).toBe(303);
    const signedIn = await form(key);
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get('location')).toBe('/logs');
    const cookie = signedIn.headers.get('set-cookie')!.split(';')[0]!;
    expect((await request('/v1/session', { headers: { cookie } })).status).toBe(200);
    await revokeApiKey(db.sql, 'board');
    expect((await request('/v1/session', { headers: { cookie } })).status).toBe(401);
    expect((await request('/logs', { headers: { cookie } })).status).toBe(401);
  });

  it('refuses to listen beyond loopback without a configured token, and says why', async () => {
    await expect(server.listen({ host: '0.0.0.0', port: 0 })).rejects.toThrow(
      /refusing to listen on 0\.0\.0\.0/,
    );
    expect(() => makeDashboardAccess(db.sql, { NUDGE_DASHBOARD_TOKEN: 'short' })).toThrow(
      /at least 24/,
    );
    const configured = makeDashboardAccess(db.sql, { NUDGE_DASHBOARD_TOKEN: 'x'.repeat(32) });
    expect(() => configured.checkBind('0.0.0.0')).not.toThrow();
    expect(configured.link('http://10.0.0.5:8787')).toBe(
      `http://10.0.0.5:8787/?token=${'x'.repeat(32)}`,
    );
  });
});

describe('/v1/features', () => {
  it('gives each feature its status, trigger, machine and YAML, secrets hidden', async () => {
    const { cookie } = await signIn();
    const list = (await (await request('/v1/features', { headers: { cookie } })).json()) as {
      name: string;
      status: string;
      trigger: string;
      journeys: boolean;
    }[];
    expect(list.map((f) => [f.name, f.status, f.journeys])).toEqual([
      ['later', 'draft', true],
      ['pings', 'draft', false],
      ['welcome-drip', 'active', true],
    ]);
    const detail = (await (
      await request('/v1/features/welcome-drip', { headers: { cookie } })
    ).json()) as Record<string, unknown>;
    expect(detail).toMatchObject({
      trigger: 'insert on auth.users when new.email not.is.null',
      initial: 'welcomed',
      stages: [
        {
          name: 'welcomed',
          guard: null,
          actions: ['set'],
          transitions: [{ to: 'nudged', after: '2d' }],
        },
        {
          name: 'nudged',
          guard: 'not (contact.onboarded is.true)',
          actions: ['webhook'],
          transitions: [],
        },
      ],
    });
    expect(detail.yaml).toMatch(/Authorization: "\(hidden\)"/);
    expect(detail.yaml).toContain('X-Trace: "kept"');
    expect(detail.yaml).not.toContain('sk_live_123');
    expect((await request('/v1/features/nope', { headers: { cookie } })).status).toBe(404);
  });

  it('pauses and resumes with no body or {}, refusing any other body as every write does', async () => {
    const { key } = await createApiKey(db.sql, 'switch', 'dashboard');
    const post = (what: string, body?: string) =>
      request(`/v1/features/welcome-drip/${what}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body }),
      });
    for (const what of ['pause', 'resume'])
      for (const [body, status, error, detail] of [
        ['{not json', 400, 'malformed_json', /^body is not JSON: /],
        ['{"reason":"x"}', 422, 'invalid_body', /^reason: unknown field; expected no fields$/],
        ['{"":1}', 422, 'invalid_body', /^\(a field with no name\): unknown field/],
        ['[]', 422, 'invalid_body', /^\(body\): expected no body, or \{\}/],
        ['null', 422, 'invalid_body', /^\(body\): expected no body, or \{\}/],
        ['"now"', 422, 'invalid_body', /^\(body\): expected no body, or \{\}/],
      ] as const) {
        const response = await post(what, body);
        const answer = (await response.json()) as { error: string; detail: string };
        expect([response.status, answer.error], `${what} ${body}`).toEqual([status, error]);
        expect(answer.detail, `${what} ${body}`).toMatch(detail);
        expect(await db.sql`select * from nudge_engine.feature_pauses`).toHaveLength(0);
      }
    for (const body of [undefined, '', '{}', ' { } ']) {
      const paused = await post('pause', body);
      expect([paused.status, await paused.json()], String(body)).toMatchObject([
        200,
        { status: 'paused' },
      ]);
      const resumed = await post('resume', body);
      expect([resumed.status, await resumed.json()], String(body)).toMatchObject([
        200,
        { status: 'active' },
      ]);
    }
  });

  it('names the feature a name no file has likely is, as replay and the decisions do', async () => {
    const { key } = await createApiKey(db.sql, 'typo', 'dashboard');
    const names = features.map((f) => f.name).join(', ');
    for (const [method, url] of [
      ['POST', '/v1/features/welcom-drip/pause'],
      ['POST', '/v1/features/welcom-drip/resume'],
      ['GET', '/v1/features/welcom-drip'],
    ]) {
      const response = await request(url!, {
        method,
        headers: { authorization: `Bearer ${key}` },
      });
      expect(response.status, url).toBe(404);
      expect(await response.json(), url).toEqual({
        error: 'feature_not_found',
        detail: `no feature named "welcom-drip" in nudge/features (did you mean "welcome-drip"?) (features: ${names})`,
      });
    }
    expect(await db.sql`select * from nudge_engine.feature_pauses`).toHaveLength(0);
  });

  it('keeps ${ENV} references and files without secrets as written', () => {
    expect(redactYaml('secret: ${HOOK_SECRET}\n')).toBe('secret: ${HOOK_SECRET}\n');
    expect(redactYaml('# hi\nname: x\n')).toBe('# hi\nname: x\n');
    expect(redactYaml('api_key: abc\n')).toBe('api_key: (hidden)\n');
  });
});

describe('/v1/decisions', () => {
  it('pages newest first by id, filters, and splits rows of skips per feature', async () => {
    const { cookie } = await signIn();
    await db.sql`insert into nudge_engine.decisions (feature, outcome, reason)
      select 'welcome-drip', case when i % 2 = 0 then 'matched' else 'skipped' end, 'reason ' || i
        from generate_series(1, 5) i`;
    await db.sql`insert into nudge_engine.decisions (feature, outcome, reason, detail)
      values (null, 'skipped', '2 features skipped', '{"skipped": {"welcome-drip": "paused", "later": "paused"}}')`;
    const get = async (query: string) =>
      (await (await request(`/v1/decisions?${query}`, { headers: { cookie } })).json()) as {
        items: { feature: string; reason: string; outcome: string; key: string }[];
        next: string | null;
      };
    const first = await get('limit=2');
    expect(first.items.map((i) => [i.feature, i.reason])).toEqual([
      ['later', 'paused'], // jsonb keeps keys shortest first
      ['welcome-drip', 'paused'],
      ['welcome-drip', 'reason 5'],
    ]);
    expect(first.next).not.toBeNull();
    const second = await get(`limit=2&before=${first.next}`);
    expect(second.items.map((i) => i.reason)).toEqual(['reason 4', 'reason 3']);
    const matched = await get('outcome=matched');
    expect(matched.items.map((i) => i.reason)).toEqual(['reason 4', 'reason 2']);
    const later = await get('feature=later');
    expect(later.items.map((i) => [i.feature, i.reason])).toEqual([['later', 'paused']]);
    const bad = await request('/v1/decisions?outcome=won', { headers: { cookie } });
    expect(bad.status).toBe(400);
  });

  it('tails new decisions as server-sent events', async () => {
    const { cookie } = await signIn();
    const response = await request('/v1/decisions/stream?feature=welcome-drip', {
      headers: { cookie },
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const until = async (pattern: RegExp) => {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${pattern}: ${text}`);
        text += decoder.decode(value);
      }
    };
    await until(/event: ready/);
    await db.sql`insert into nudge_engine.decisions (feature, outcome, reason)
      values ('later', 'matched', 'not this one'), ('welcome-drip', 'matched', 'tailed')`;
    await until(/"reason":"tailed"/);
    expect(text).not.toContain('not this one');
    await reader.cancel();
  });
});

describe('/v1/actions and /v1/clock', () => {
  it('lists dead runs with their last error, and replays one by key as nudge replay does', async () => {
    const { cookie, csrf } = await signIn();
    await db.sql`insert into nudge_engine.action_runs (key, feature, kind, params, status, attempts, last_error)
      values ('k-dead', 'welcome-drip', 'webhook', '{}', 'dead', 5, 'HTTP 500 from https://example.com/hook'),
             ('k-done', 'welcome-drip', 'webhook', '{}', 'succeeded', 1, null)`;
    const dead = (await (
      await request('/v1/actions?status=dead', { headers: { cookie } })
    ).json()) as {
      items: { key: string; last_error: string; attempts: number }[];
    };
    expect(dead.items).toEqual([
      expect.objectContaining({
        key: 'k-dead',
        attempts: 5,
        last_error: 'HTTP 500 from https://example.com/hook',
      }),
    ]);
    expect((await request('/v1/actions?status=gone', { headers: { cookie } })).status).toBe(400);
    // The Features page says it beside the journeys, which complete whatever became of their actions.
    const features = (await (await request('/v1/features', { headers: { cookie } })).json()) as {
      name: string;
      failing: { dead: number; retrying: number };
    }[];
    expect(features.find((f) => f.name === 'welcome-drip')?.failing).toEqual({
      dead: 1,
      retrying: 0,
    });
    expect(features.filter((f) => f.failing.dead + f.failing.retrying > 0)).toHaveLength(1);
    const one = (await (
      await request('/v1/features/welcome-drip', { headers: { cookie } })
    ).json()) as { failing: { dead: number } };
    expect(one.failing).toEqual({ dead: 1, retrying: 0 });
    const replay = (body: unknown) =>
      request('/v1/actions/replay', {
        method: 'POST',
        headers: { cookie, 'x-nudge-csrf': csrf, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await replay({})).status).toBe(422);
    const replayed = await replay({ key: 'k-dead' });
    expect(await replayed.json()).toEqual({ queued: 1 });
    // A feature no file has is a typo, said with the ones there are, as `nudge replay` says it.
    const unknown = await replay({ feature: 'nope' });
    expect(unknown.status).toBe(422);
    const refusal = (await unknown.json()) as { error: string; detail: string };
    expect(refusal.error).toBe('invalid_body');
    expect(refusal.detail).toBe(
      `feature: no feature named "nope" in nudge/features (features: ${features.map((f) => f.name).join(', ')})`,
    );
    // A known feature with nothing dead is not an error.
    expect(await (await replay({ feature: 'welcome-drip' })).json()).toEqual({ queued: 0 });
    const [run] =
      await db.sql`select status, attempts, last_error from nudge_engine.action_runs where key = 'k-dead'`;
    expect(run).toEqual({ status: 'pending', attempts: 0, last_error: null });
  });

  it('moves the engine clock in dev, as nudge clock advance does', async () => {
    const { cookie, csrf } = await signIn();
    const before = (await (await request('/v1/clock', { headers: { cookie } })).json()) as {
      offset_ms: number;
      movable: boolean;
    };
    expect(before).toMatchObject({ offset_ms: 0, movable: true });
    const advance = (by: string) =>
      request('/v1/clock/advance', {
        method: 'POST',
        headers: { cookie, 'x-nudge-csrf': csrf, 'content-type': 'application/json' },
        body: JSON.stringify({ by }),
      });
    expect((await advance('soon')).status).toBe(422);
    // Bounded as nudge clock advance is: positive, at most 36500d a move and in all.
    const refused = async (by: string) =>
      ((await (await advance(by)).json()) as { detail: string }).detail;
    expect(await refused('-1d')).toBe('by: durations are positive, got "-1d"');
    expect(await refused('1000000d')).toBe('by: expected at most 36500d, got "1000000d"');
    expect(await (await advance('2d')).json()).toMatchObject({ offset_ms: 172_800_000 });
    expect(await refused('36500d')).toBe(
      'by: the engine clock is 2 days ahead of real time; moving it 36500 days more would put it past 36500d ahead (nudge clock reset goes back to real time)',
    );
    const [row] = await db.sql`select offset_ms::int as offset_ms from nudge_engine.clock`;
    expect(row!.offset_ms).toBe(172_800_000);
    await db.sql`update nudge_engine.clock set offset_ms = 0`;
  });
});

describe('/v1/mailbox', () => {
  it('lists the dev mailbox and serves an email’s HTML sandboxed, scripts and remote loads refused', async () => {
    const { cookie } = await signIn();
    await db.sql`insert into nudge_engine.action_runs (key, feature, stage, kind, params, status)
      values ('m1', 'welcome-drip', 'welcomed', 'email', '{}', 'succeeded')`;
    const [mail] = await db.sql<{ id: number }[]>`
      insert into nudge_engine.mailbox (key, to_address, subject, html, text, headers)
      values ('m1', 'ada@example.com', 'Hi', '<p>Hello <script>alert(1)</script></p>', 'Hello',
              '{"List-Unsubscribe": "<https://example.com/u>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}')
      returning id::int as id`;
    const list = (await (await request('/v1/mailbox', { headers: { cookie } })).json()) as {
      items: { id: number; to: string; subject: string }[];
    };
    expect(list.items[0]).toMatchObject({ id: mail!.id, to: 'ada@example.com', subject: 'Hi' });
    const one = await request(`/v1/mailbox/${mail!.id}`, { headers: { cookie } });
    // Its headers, and the run that sent it.
    expect(await one.json()).toMatchObject({
      text: 'Hello',
      has_html: true,
      headers: {
        'List-Unsubscribe': '<https://example.com/u>',
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      },
      feature: 'welcome-drip',
      stage: 'welcomed',
      contact_id: null,
    });
    const html = await request(`/v1/mailbox/${mail!.id}/html`, { headers: { cookie } });
    const csp = html.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/^sandbox;/);
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('script-src');
    expect(await html.text()).toContain('<p>Hello');
    expect((await request(`/v1/mailbox/${mail!.id}/html`)).status).toBe(401);
    expect((await request('/v1/mailbox/999999', { headers: { cookie } })).status).toBe(404);
  });
});
