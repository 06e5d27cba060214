// POST /v1/sync answers once the first sync it starts holds its lock: a
// `nudge sync` (here the test's own session, taking the lock as
// checkpoint.ts does) that takes it after the start's check, while the
// start's session opens, makes the start the 409 the check gives, with
// nothing run and that run's row untouched. A queued sync whose lock another
// process takes while the one before it runs here is left to that process
// (its row untouched, shown as its run), and the syncs after it still run.
// A start over a run whose process died shows none of that run until its
// own run saves its start, then the run it continues as its own.
// Runs are held mid-way by locks the test holds, never by timing.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SyncInfo, SyncOverview } from '../../src/client/index.js';
import type { LoadedConfig } from '../../src/config/load.js';
import { heldNamedLocks } from '../../src/db/locks.js';
import { createApiKey } from '../../src/server/api/keys.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';
import { startTestServer, type TestServer } from '../server/helpers.js';
import {
  hold,
  holdMigrate,
  insertRunningRow,
  nudgeSessions,
  takeSyncLock,
  USERS_AND_ORDERS,
  userId,
  usersAndOrdersProject,
  waitingOn,
} from '../sync/fixture.js';
import { requestWith } from './helpers.js';

const db = useDatabase();
const MASTER = randomBytes(32);
/** Users, orders as events, then customers as attributes: three syncs, in that order. */
const THREE_SYNCS = `${USERS_AND_ORDERS}      customers: { email: email, company: COMPANY }\n`;

let project: LoadedConfig;
let key: string;
let server: TestServer;
/** The other process: a session of the test's own that takes syncs' locks and writes their rows. */
let other: postgres.Sql;

beforeAll(async () => {
  ({ project } = await usersAndOrdersProject(db, { users: 20, orders: 5 }, THREE_SYNCS));
  await db.sql`
    insert into public.customers (email, company)
    values ('user1@example.com', 'Acme'), ('someone@example.com', 'Initech')`;
  key = (await createApiKey(db.sql, 'sync-start', 'write')).key;
  server = await startTestServer(db.sql, project, MASTER);
  other = postgres(db.url, { max: 1, onnotice: () => {} });
});

afterAll(async () => {
  await other?.end();
  await server?.close();
});

beforeEach(async () => {
  await db.sql`truncate nudge_engine.contacts, nudge_engine.events, nudge_engine.sync_state cascade`;
});

afterEach(async () => {
  await other`select pg_advisory_unlock_all()`;
});

async function call(method: 'GET' | 'POST', body?: unknown) {
  const response = await requestWith(server.server, key, method, '/v1/sync', body);
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function overview(): Promise<Map<string, SyncInfo>> {
  const { json } = await call('GET');
  return new Map((json as unknown as SyncOverview).syncs.map((sync) => [sync.name, sync]));
}

/** The other process's run of `name`: its lock taken, then its start saved as a run saves it. */
async function otherRun(name: string) {
  await takeSyncLock(other, name);
  await insertRunningRow(other, name);
  return row(name);
}

async function row(name: string) {
  const [found] = await db.sql`select * from nudge_engine.sync_state where name = ${name}`;
  return found;
}

describe('a sync whose lock a nudge sync takes after the start’s check', () => {
  it('makes the start the 409 sync_running the check gives, nothing run and the other run’s row untouched', async () => {
    // The start's session migrates the engine store after the check: it waits there.
    const migrateHeld = await holdMigrate(db);
    try {
      const answer = call('POST', { resources: ['users'] });
      await waitingOn(db, migrateHeld.pid);
      const before = await otherRun('users');
      await migrateHeld.release();

      const refused = await answer;
      expect(refused.status).toBe(409);
      expect(refused.json).toEqual({
        error: 'sync_running',
        detail: expect.stringMatching(/^users is running: wait for it to end \(GET \/v1\/sync\)/),
        syncs: ['users'],
      });
      expect(await row('users')).toEqual(before);
      // The start's sessions are closed by the time it is answered.
      expect(await nudgeSessions(db)).toEqual([]);
      expect((await overview()).get('users')).toMatchObject({
        status: 'running',
        alive: true,
        started_at: '2026-01-02T03:04:05.000Z',
        stats: { read: 3 },
      });
      const [written] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from nudge_engine.contacts`;
      expect(written!.n).toBe(0);
    } finally {
      await migrateHeld.release();
    }
  });
});

describe('a queued sync whose lock a nudge sync takes while the one before it runs', () => {
  it('is left to that process, its row untouched, and the syncs after it run', async () => {
    // The users sync's first batch waits until the test lets the contacts go.
    const contactsHeld = await hold(db, 'lock table nudge_engine.contacts in exclusive mode');
    let before: Awaited<ReturnType<typeof row>>;
    try {
      const answer = await call('POST');
      expect(answer.status).toBe(202);
      expect(answer.json.syncs).toEqual([
        expect.objectContaining({ name: 'users', status: 'running', alive: true }),
        expect.objectContaining({ name: 'table:public.orders', status: 'queued' }),
        expect.objectContaining({ name: 'table:public.customers', status: 'queued' }),
      ]);
      expect(await heldNamedLocks(db.sql, 'sync', ['users'])).toEqual(new Set(['users']));
      await waitingOn(db, contactsHeld.pid);
      before = await otherRun('table:public.orders');
    } finally {
      await contactsHeld.release();
    }

    // The server's run has ended once none of its syncs is queued or running here.
    const ended = await waitFor(async () => {
      const syncs = await overview();
      const mine = ['users', 'table:public.customers'].map((name) => syncs.get(name)?.status);
      return mine.some((status) => status === 'queued' || status === 'running') ? undefined : syncs;
    }, 'the server’s run to end');
    expect(ended.get('users')).toMatchObject({ status: 'done', stats: { synced: 20 } });
    expect(ended.get('table:public.customers')).toMatchObject({
      status: 'done',
      stats: { read: 2, synced: 2 },
    });
    // The orders sync is the other process's: its run, as it saved it.
    expect(ended.get('table:public.orders')).toMatchObject({
      status: 'running',
      alive: true,
      started_at: '2026-01-02T03:04:05.000Z',
      error: null,
    });
    expect(await row('table:public.orders')).toEqual(before);
    const [events] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from nudge_engine.events where name = 'order_placed'`;
    expect(events!.n).toBe(0);
    await waitFor(
      async () => ((await nudgeSessions(db)).length === 0 ? true : undefined),
      'the run’s sessions to close',
    );
  });
});

describe('a sync started here over a run whose process died', () => {
  it('shows none of that run until its own saves its start, then the run it continues as its own', async () => {
    // Stored running, and nobody holds its lock: the process died mid-run.
    await insertRunningRow(db.sql, 'users', { after: { id: userId(3) } });
    expect((await overview()).get('users')).toMatchObject({
      status: 'interrupted',
      alive: false,
      started_at: '2026-01-02T03:04:05.000Z',
    });
    // The run saving its start waits for the test's lock on its row; its first batch, for the contacts.
    const rowHeld = await hold(
      db,
      `select from nudge_engine.sync_state where name = 'users' for update`,
    );
    const contactsHeld = await hold(db, 'lock table nudge_engine.contacts in exclusive mode');
    try {
      const answer = await call('POST', { resources: ['users'] });
      expect(answer.status).toBe(202);
      const none = { mode: null, source: null, since: null, started_at: null, stats: null };
      // It holds the lock (alive), and the row is still the dead run's.
      expect(answer.json.syncs).toEqual([
        expect.objectContaining({ name: 'users', status: 'running', alive: true, ...none }),
      ]);
      await waitingOn(db, rowHeld.pid);
      expect((await overview()).get('users')).toMatchObject({ status: 'running', ...none });

      await rowHeld.release();
      await waitingOn(db, contactsHeld.pid);
      // Saved: it continues the dead run, whose mode, start and counts are its own now.
      expect((await overview()).get('users')).toMatchObject({
        status: 'running',
        alive: true,
        mode: 'full',
        source: 'database',
        started_at: '2026-01-02T03:04:05.000Z',
        stats: { read: 3, synced: 3 },
      });
    } finally {
      await rowHeld.release();
      await contactsHeld.release();
    }
    const ended = await waitFor(async () => {
      const users = (await overview()).get('users');
      return users?.status === 'done' ? users : undefined;
    }, 'the run to end');
    expect(ended).toMatchObject({ started_at: '2026-01-02T03:04:05.000Z', stats: { synced: 20 } });
  });
});
