// GET and POST /v1/sync against the Supabase-shaped test database: the
// syncs nudge.yaml sets up before any run, a start that runs users then the
// orders table in the server and ends done with its counts, the 409 while
// another process holds a sync (the test holds its lock), a run stored as
// running whose process is gone said to be interrupted, a failed run's
// message, refused bodies naming their field, a read key refused, the
// dashboard's key let in, and a server with no sync set up saying how.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Nudge, NudgeApiError, type SyncInfo, type SyncOverview } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/load.js';
import { saveFailure } from '../../src/contacts/sync/status.js';
import { createApiKey } from '../../src/server/api/keys.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';
import { startTestServer, type TestServer, testProject } from '../server/helpers.js';
import {
  insertRunningRow,
  projectDir,
  takeSyncLock,
  USERS_AND_ORDERS,
  userId,
  usersAndOrdersProject,
} from '../sync/fixture.js';

const db = useDatabase();
/** The servers' master key: each server of the file reads the ingest secret the first stored. */
const MASTER = randomBytes(32);
const USERS = 25;
const ORDERS = 7;

let server: TestServer;
let keys: { write: string; read: string; dashboard: string };
let nudge: Nudge;
/** A session of the test's own: it holds a sync's lock as another process would. */
let other: postgres.Sql;

beforeAll(async () => {
  const { project } = await usersAndOrdersProject(db, { users: USERS, orders: ORDERS });
  server = await startTestServer(db.sql, project, MASTER);
  keys = {
    write: (await createApiKey(db.sql, 'sync-writer', 'write')).key,
    read: (await createApiKey(db.sql, 'sync-reader', 'read')).key,
    dashboard: (await createApiKey(db.sql, 'sync-dashboard', 'dashboard')).key,
  };
  nudge = new Nudge({ url: server.url, apiKey: keys.write });
  other = postgres(db.url, { max: 1, onnotice: () => {} });
});

afterAll(async () => {
  await other?.end();
  await server?.close();
});

async function call(method: string, body?: unknown, key = keys.write) {
  const response = await fetch(`${server.url}/v1/sync`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

const byName = (overview: SyncOverview) => new Map(overview.syncs.map((s) => [s.name, s]));

/** Waits until every sync named has `status` (never a sleep: GET /v1/sync until it says so). */
async function until(status: SyncInfo['status'], names: string[]): Promise<SyncOverview> {
  let last: SyncOverview | undefined;
  return waitFor(
    async () => {
      last = await nudge.sync.state();
      const syncs = byName(last);
      return names.every((name) => syncs.get(name)?.status === status) ? last : undefined;
    },
    () => `${names.join(', ')} ${status}; last: ${JSON.stringify(last?.syncs)}`,
  );
}

/** Holds a sync's advisory lock, taken as checkpoint.ts takes it, on the test's own session. */
async function holding<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const release = await takeSyncLock(other, name);
  try {
    return await fn();
  } finally {
    await release();
  }
}

describe('GET /v1/sync', () => {
  it('lists the syncs nudge.yaml sets up before any has run', async () => {
    const overview = await nudge.sync.state();
    expect(overview).toEqual({
      configured: true,
      hint: null,
      syncs: [
        expect.objectContaining({
          name: 'users',
          resource: 'users',
          table: null,
          configured: true,
          status: 'idle',
          alive: null,
          mode: null,
          started_at: null,
          updated_at: null,
          stats: null,
          error: null,
        }),
        expect.objectContaining({
          name: 'table:public.orders',
          resource: 'table',
          table: 'public.orders',
          status: 'idle',
        }),
      ],
    });
  });

  it('is open to a read key, which may not start a sync', async () => {
    expect((await call('GET', undefined, keys.read)).status).toBe(200);
    const refused = await call('POST', {}, keys.read);
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({
      error: 'insufficient_scope',
      detail: expect.stringContaining('POST /v1/sync needs a write key or a dashboard key'),
    });
    expect((await nudge.sync.state()).syncs.map((s) => s.status)).toEqual(['idle', 'idle']);
  });

  it('says a run stored as running is running while a process holds its lock, else interrupted', async () => {
    const name = 'table:public.gone';
    await insertRunningRow(db.sql, name, {
      stats: { read: 30, synced: 29, created: 29, skipped: 1, reasons: { 'no contact': 1 } },
    });
    try {
      const held = await holding(name, () => nudge.sync.state());
      expect(byName(held).get(name)).toMatchObject({
        status: 'running',
        alive: true,
        configured: false,
        mode: 'full',
        started_at: '2026-01-02T03:04:05.000Z',
        stats: { read: 30, synced: 29, skipped: 1 },
      });
      const gone = byName(await nudge.sync.state()).get(name);
      expect(gone).toMatchObject({ status: 'interrupted', alive: false });
      // Rows nudge.yaml no longer sets up come after the ones it does.
      expect((await nudge.sync.state()).syncs.map((s) => s.name)).toEqual([
        'users',
        'table:public.orders',
        name,
      ]);
    } finally {
      await db.sql`delete from nudge_engine.sync_state where name = ${name}`;
    }
  });
});

describe('POST /v1/sync', () => {
  it('refuses a body it does not take, naming the field, and starts nothing', async () => {
    const refusals: [unknown, string][] = [
      [{ resources: ['people'] }, 'resources[0]: expected "users" or "tables"'],
      [{ resources: [] }, 'resources: expected at least one of "users", "tables"'],
      [{ mode: 'fast' }, 'mode: expected "incremental" or "full"'],
      [{ resource: ['users'] }, 'resource: unknown field (did you mean "resources"?)'],
      [
        { tables: ['ordrs'] },
        'tables[0]: no table_mapping entry for "ordrs" (did you mean "orders"?)',
      ],
      [{ resources: ['users'], tables: ['orders'] }, 'tables: only with "tables" in resources'],
      [{ mode: 'full', since: '7d' }, 'since: not with mode "full"'],
      [{ since: 'yesterday' }, 'since: "yesterday" is not a time'],
      [['users'], '(body): expected a JSON object'],
      [null, '(body): expected a JSON object'],
    ];
    for (const [body, detail] of refusals) {
      const answer = await call('POST', body);
      expect(answer.status, JSON.stringify(body)).toBe(422);
      expect(answer.json.error).toBe('invalid_body');
      expect(String(answer.json.detail)).toContain(detail);
    }
    expect((await nudge.sync.state()).syncs.map((s) => s.status)).toEqual(['idle', 'idle']);
  });

  it('answers 409 naming a sync another process runs, and starts none of those asked', async () => {
    const refused = await holding('users', () => call('POST', {}));
    expect(refused.status).toBe(409);
    expect(refused.json).toEqual({
      error: 'sync_running',
      detail: expect.stringMatching(/^users is running: wait for it to end/),
      syncs: ['users'],
    });
    // The dashboard's key may start one: it is let through to the same 409, not a 403.
    const dashboard = await holding('table:public.orders', () =>
      call('POST', { resources: ['tables'] }, keys.dashboard),
    );
    expect(dashboard.status).toBe(409);
    expect(dashboard.json.syncs).toEqual(['table:public.orders']);
    expect((await nudge.sync.state()).syncs.map((s) => s.status)).toEqual(['idle', 'idle']);
  });

  it('starts users then the mapped tables in the background, which end done with their counts', async () => {
    // No body: what nudge.yaml sets up, as `nudge sync`.
    const answer = await call('POST');
    expect(answer.status).toBe(202);
    expect(answer.json.syncs).toEqual([
      expect.objectContaining({ name: 'users', status: 'running', alive: true }),
      expect.objectContaining({ name: 'table:public.orders', status: 'queued' }),
    ]);
    const done = byName(await until('done', ['users', 'table:public.orders']));
    expect(done.get('users')).toMatchObject({
      mode: 'full',
      source: 'database',
      alive: null,
      error: null,
      stats: { read: USERS, synced: USERS, created: USERS, updated: 0, skipped: 0, deleted: 0 },
    });
    const users = done.get('users')!;
    expect(Date.parse(users.updated_at!)).toBeGreaterThanOrEqual(Date.parse(users.started_at!));
    expect(done.get('table:public.orders')).toMatchObject({
      mode: 'full',
      stats: { read: ORDERS, synced: ORDERS, created: ORDERS },
    });
    const [counts] = await db.sql<{ contacts: number; orders: number }[]>`
      select (select count(*)::int from nudge_engine.contacts where auth_user_id is not null) as contacts,
             (select count(*)::int from nudge_engine.events where name = 'order_placed') as orders`;
    expect(counts).toEqual({ contacts: USERS, orders: ORDERS });
  });

  it('runs the next one incrementally, or full when asked, with the typed client', async () => {
    await db.sql`update auth.users set updated_at = now(), email = 'renamed@example.com' where id = ${userId(5)}`;
    const { syncs } = await nudge.sync.start({ resources: ['users'] });
    expect(syncs.map((s) => s.name)).toEqual(['users']);
    const incremental = byName(await until('done', ['users'])).get('users')!;
    expect(incremental).toMatchObject({ mode: 'incremental', stats: { read: 1, updated: 1 } });
    expect(incremental.since).not.toBeNull();
    const [renamed] =
      await db.sql`select email from nudge_engine.contacts where auth_user_id = ${userId(5)}`;
    expect(renamed?.email).toBe('renamed@example.com');

    await nudge.sync.start({ resources: ['users'], mode: 'full' });
    const full = byName(await until('done', ['users'])).get('users')!;
    expect(full).toMatchObject({ mode: 'full', stats: { read: USERS, created: 0 } });
    expect(Date.parse(full.started_at!)).toBeGreaterThan(Date.parse(incremental.started_at!));
  });

  it("answers a start with none of the last run's mode, times and counts before the run saves its own", async () => {
    const last = byName(await nudge.sync.state()).get('users')!;
    expect(last).toMatchObject({ status: 'done', mode: 'full', stats: { read: USERS } });
    // The run saving its start waits for the test's lock on its row.
    let answer: Awaited<ReturnType<typeof call>> | undefined;
    await other.begin(async (tx) => {
      await tx`select from nudge_engine.sync_state where name = 'users' for update`;
      answer = await call('POST', { resources: ['users'], since: '1d' });
    });
    expect(answer!.status).toBe(202);
    expect(answer!.json.syncs).toEqual([
      expect.objectContaining({
        name: 'users',
        status: 'running',
        mode: null,
        since: null,
        started_at: null,
        stats: null,
      }),
    ]);
    const next = byName(await until('done', ['users'])).get('users')!;
    // Its own since (a day back), which the answer did not show as the full run's none.
    expect(next).toMatchObject({ mode: 'incremental' });
    expect(Date.parse(next.since!)).toBeLessThan(Date.now() - 23 * 3600_000);
    expect(Date.parse(next.started_at!)).toBeGreaterThan(Date.parse(last.started_at!));
  });

  it('ends a run that fails in status failed, with its message', async () => {
    await db.sql.unsafe(`
      CREATE FUNCTION public.refuse_events() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'events are frozen for this test'; END $$;
      CREATE TRIGGER refuse_events BEFORE INSERT ON nudge_engine.events
        FOR EACH ROW EXECUTE FUNCTION public.refuse_events();`);
    try {
      await db.sql`insert into public.orders (user_id, amount) values (${userId(9)}, 99)`;
      const answer = await call('POST', { tables: ['orders'] });
      expect(answer.status).toBe(202);
      const failed = byName(await until('failed', ['table:public.orders'])).get(
        'table:public.orders',
      )!;
      expect(failed.error).toContain('events are frozen for this test');
      expect(byName(await nudge.sync.state()).get('users')?.status).toBe('done');
    } finally {
      await db.sql.unsafe(`DROP TRIGGER refuse_events ON nudge_engine.events;
        DROP FUNCTION public.refuse_events();`);
    }
    // The next run continues; the message goes with the failure.
    await nudge.sync.start({ tables: ['orders'] });
    const again = byName(await until('done', ['table:public.orders'])).get('table:public.orders')!;
    expect(again.error).toBeNull();
    expect(again.stats).toMatchObject({ created: 1 });
  });

  it('shows an error before a run began as failed, and keeps where the next run starts', async () => {
    // What a run records when the source's clock does not answer, before its first page.
    await saveFailure(db.sql, 'users', 'the source did not answer', { ran: false });
    const failed = byName(await nudge.sync.state()).get('users')!;
    expect(failed).toMatchObject({ status: 'failed', error: 'the source did not answer' });
    // The last run's checkpoint stands: the next run is incremental from it, not a resumed one.
    await db.sql`update auth.users set updated_at = now(), email = 'again@example.com' where id = ${userId(6)}`;
    await nudge.sync.start({ resources: ['users'] });
    const next = byName(await until('done', ['users'])).get('users')!;
    expect(next).toMatchObject({ mode: 'incremental', error: null });
    expect(next.stats?.read).toBeLessThan(USERS);
    const [again] =
      await db.sql`select email from nudge_engine.contacts where auth_user_id = ${userId(6)}`;
    expect(again?.email).toBe('again@example.com');
  });

  it('throws NudgeApiError with the code in the typed client', async () => {
    const error = await holding('users', () =>
      nudge.sync.start({ resources: ['users'] }).catch((e: unknown) => e),
    );
    expect(error).toBeInstanceOf(NudgeApiError);
    expect(error).toMatchObject({ status: 409, code: 'sync_running' });
  });
});

describe('a server with no sync set up', () => {
  let bare: TestServer;
  let bareNudge: Nudge;
  beforeAll(async () => {
    bare = await startTestServer(db.sql, await testProject(), MASTER);
    bareNudge = new Nudge({ url: bare.url, apiKey: keys.write });
  });
  afterAll(async () => {
    await bare?.close();
  });

  it('says how to set one up, and refuses a start with the same words', async () => {
    const overview = await bareNudge.sync.state();
    expect(overview.configured).toBe(false);
    expect(overview.hint).toContain('connectors.supabase.sync.users: true');
    // The rows of earlier runs are still listed, as syncs nudge.yaml does not set up.
    expect(overview.syncs.every((s) => !s.configured)).toBe(true);
    const refused = await bareNudge.sync.start().catch((e: unknown) => e);
    expect(refused).toMatchObject({
      status: 409,
      code: 'sync_not_configured',
      detail: overview.hint,
    });
    const tables = await bareNudge.sync.start({ resources: ['tables'] }).catch((e: unknown) => e);
    expect(tables).toMatchObject({
      status: 409,
      code: 'sync_not_configured',
      detail: expect.stringContaining('nudge.yaml has no connectors.supabase.table_mapping'),
    });
  });
});

describe('a mapping the database does not have', () => {
  it('is a 422 naming nudge.yaml’s line, and nothing starts', async () => {
    const dir = await projectDir(USERS_AND_ORDERS.replace('total: amount', 'total: amont'));
    const project = await loadConfig({ cwd: dir, env: { DATABASE_URL: db.url } });
    const bad = await startTestServer(db.sql, project, MASTER);
    try {
      const before = await db.sql`select name, status, updated_at from nudge_engine.sync_state`;
      const refused = await new Nudge({ url: bad.url, apiKey: keys.write }).sync
        .start({ resources: ['tables'] })
        .catch((e: unknown) => e);
      expect(refused).toMatchObject({ status: 422, code: 'sync_config' });
      expect((refused as NudgeApiError).detail).toMatch(
        /nudge\.yaml:\d+:\d+ connectors\.supabase\.table_mapping\.orders\.properties\.total: .*"amont"/,
      );
      expect(await db.sql`select name, status, updated_at from nudge_engine.sync_state`).toEqual(
        before,
      );
    } finally {
      await bad.close();
    }
  });
});
