// The contact syncs a server runs (POST /v1/sync) stop with it: a server
// closed mid-run leaves the run's row as Ctrl-C leaves a `nudge sync`'s
// (`interrupted`, its checkpoint saved, nobody holding its lock) and has
// waited for it; a start after the stop, or one being checked when it came,
// is refused and begins no run — over HTTP the 503 answered before the
// connection closes, not a reset; and a run's end releases only the names it
// still holds, not those a later start claimed. Runs are held mid-way by a
// lock the test holds on a table they write, never by timing.
import { randomBytes } from 'node:crypto';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { syncUsersCommand } from '../../src/cli/sync.js';
import type { LoadedConfig } from '../../src/config/load.js';
import { makeBackgroundSyncs, SyncsStoppedError } from '../../src/contacts/sync/background.js';
import { readSyncRows } from '../../src/contacts/sync/status.js';
import { heldNamedLocks } from '../../src/db/locks.js';
import { createApiKey } from '../../src/server/api/keys.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';
import { startTestServer, type TestServer } from '../server/helpers.js';
import {
  contacts,
  hold,
  holdMigrate,
  nudgeSessions,
  runCommand,
  usersAndOrdersProject,
  waitingOn,
} from '../sync/fixture.js';

const db = useDatabase();
/** The servers' master key: each server of the file reads the ingest secret the first stored. */
const MASTER = randomBytes(32);
const USERS = 30;

let dir: string;
let project: LoadedConfig;
let key: string;

beforeAll(async () => {
  ({ dir, project } = await usersAndOrdersProject(db, { users: USERS, orders: 5 }));
  key = (await createApiKey(db.sql, 'sync-stop', 'write')).key;
});

beforeEach(async () => {
  await db.sql`truncate nudge_engine.contacts, nudge_engine.events, nudge_engine.sync_state cascade`;
});

/** Begins closing `server` and waits until it no longer listens; closed() says whether close() is done. */
async function beginClosing(server: TestServer) {
  let closed = false;
  const closing = server.close().then(() => {
    closed = true;
  });
  await waitFor(
    () =>
      fetch(server.url).then(
        () => undefined,
        () => true,
      ),
    'the server to stop listening',
  );
  return { closing, closed: () => closed };
}

describe('a server stopped during a sync', () => {
  it('stops the run as Ctrl-C stops nudge sync, waits for its end, and the next run continues', async () => {
    const server = await startTestServer(db.sql, project, MASTER);
    // The run's first batches wait until the test lets the contacts go.
    const contactsHeld = await hold(db, 'lock table nudge_engine.contacts in exclusive mode');
    let stopping: Awaited<ReturnType<typeof beginClosing>> | undefined;
    try {
      const answer = await fetch(`${server.url}/v1/sync`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}` },
      });
      expect(answer.status).toBe(202);
      await waitingOn(db, contactsHeld.pid);
      const [running] = await readSyncRows(db.sql);
      expect(running).toMatchObject({ name: 'users', status: 'running', alive: true });
      expect(await nudgeSessions(db)).toContain('nudge sync lock users');

      stopping = await beginClosing(server);
      // The stop waits for the batches being written, which wait for the test.
      expect(stopping.closed()).toBe(false);
      await contactsHeld.release();
      await stopping.closing;
    } finally {
      await contactsHeld.release();
      if (!stopping?.closed()) await server.close().catch(() => {});
    }

    // As soon as close() is done: the end is saved, the lock free, the sessions closed.
    const rows = await readSyncRows(db.sql);
    expect(rows.map((row) => row.name)).toEqual(['users']); // the orders sync never began
    const users = rows[0]!;
    expect(users).toMatchObject({ status: 'interrupted', alive: null, error: null });
    expect(await heldNamedLocks(db.sql, 'sync', ['users'])).toEqual(new Set());
    expect(await nudgeSessions(db)).toEqual([]);
    // Everything up to the checkpoint is written, nothing after it.
    const after = (users.cursor!.after as { id: string }).id;
    const written = await contacts(db.sql);
    expect(written.length).toBe(users.stats?.synced);
    expect(written.length).toBeLessThan(USERS);
    expect(written.at(-1)?.auth_user_id).toBe(after);

    // `nudge sync` continues it as it continues one stopped by Ctrl-C.
    const next = await runCommand(syncUsersCommand, dir, { DATABASE_URL: db.url });
    expect(next.code, next.err).toBe(0);
    expect(next.err).toContain('continuing the full sync that stopped (interrupted)');
    expect(await contacts(db.sql)).toHaveLength(USERS);
  });

  it('answers a start being checked when it stops over HTTP: 503 server_stopping, not a reset', async () => {
    const server = await startTestServer(db.sql, project, MASTER);
    // The start's session migrates the engine store first: it waits there.
    const migrateHeld = await holdMigrate(db);
    let stopping: Awaited<ReturnType<typeof beginClosing>> | undefined;
    try {
      const answer = fetch(`${server.url}/v1/sync`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}` },
      }).then(
        async (response) => ({
          status: response.status,
          connection: response.headers.get('connection'),
          json: await response.json(),
        }),
        (error: unknown) => ({ error }),
      );
      await waitingOn(db, migrateHeld.pid);
      stopping = await beginClosing(server);
      // close() waits for the start, which waits for the test.
      expect(stopping.closed()).toBe(false);
      await migrateHeld.release();
      expect(await answer).toEqual({
        status: 503,
        // Answered, then its connection closed: no request comes after it.
        connection: 'close',
        json: {
          error: 'server_stopping',
          detail: expect.stringMatching(/^the server is stopping: it starts no sync now: start it/),
        },
      });
      await stopping.closing;
    } finally {
      await migrateHeld.release();
      if (!stopping?.closed()) await server.close().catch(() => {});
    }
    expect(await readSyncRows(db.sql)).toEqual([]);
    expect(await nudgeSessions(db)).toEqual([]);
  });

  it('refuses a start once stopped: 503 server_stopping, and nothing starts', async () => {
    const server = await startTestServer(db.sql, project, MASTER);
    await server.close();
    // A request the closed server's app still gets (one already being read when it stopped).
    const answer = await server.server.app.request('/v1/sync', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
    });
    expect(answer.status).toBe(503);
    expect(await answer.json()).toEqual({
      error: 'server_stopping',
      detail: expect.stringMatching(/^the server is stopping: it starts no sync now: start it/),
    });
    expect(await readSyncRows(db.sql)).toEqual([]);
  });
});

describe('makeBackgroundSyncs', () => {
  it('stop() refuses a start being checked, which begins no run, and waits for it', async () => {
    const syncs = makeBackgroundSyncs({ project, sql: db.sql });
    // The start's session migrates the engine store first: it waits there.
    const migrateHeld = await holdMigrate(db);
    let stopped = false;
    try {
      const starting = syncs.start({ users: true, tables: false });
      const refused = starting.then(
        () => undefined,
        (error: unknown) => error,
      );
      await waitingOn(db, migrateHeld.pid);
      expect(syncs.started().get('users')).toBe('queued');
      const stopping = syncs.stop().then(() => {
        stopped = true;
      });
      await expect(syncs.start({ users: true, tables: false })).rejects.toBeInstanceOf(
        SyncsStoppedError,
      );
      expect(stopped).toBe(false);
      await migrateHeld.release();
      expect(await refused).toBeInstanceOf(SyncsStoppedError);
      await stopping;
    } finally {
      await migrateHeld.release();
      await syncs.stop();
    }
    expect(syncs.started().size).toBe(0);
    expect(await readSyncRows(db.sql)).toEqual([]);
    expect(await nudgeSessions(db)).toEqual([]);
  });

  it('keeps the claim of a start made after one of a run’s syncs ended, when that run ends', async () => {
    const syncs = makeBackgroundSyncs({ project, sql: db.sql });
    // The orders sync (events) waits; users, before it, runs to its end.
    const eventsHeld = await hold(db, 'lock table nudge_engine.events in exclusive mode');
    let migrateHeld: Awaited<ReturnType<typeof hold>> | undefined;
    try {
      expect(await syncs.start({ users: true, tables: true })).toEqual([
        'users',
        'table:public.orders',
      ]);
      await waitingOn(db, eventsHeld.pid);
      expect(syncs.started().has('users')).toBe(false);
      expect(syncs.started().get('table:public.orders')).toBe('running');

      // Another start claims users, and waits in its checks until the first run has ended.
      migrateHeld = await holdMigrate(db);
      const again = syncs.start({ users: true, tables: false });
      expect(syncs.started().get('users')).toBe('queued');
      await eventsHeld.release();
      // The first run's end: its last sync released, its other names with it (the same moment).
      await waitFor(
        () => (syncs.started().has('table:public.orders') ? undefined : true),
        'the first run to end',
      );
      expect(syncs.started().get('users')).toBe('queued');
      await expect(syncs.start({ users: true, tables: false })).rejects.toMatchObject({
        name: 'SyncRunningError',
        syncs: ['users'],
      });

      await migrateHeld.release();
      migrateHeld = undefined;
      expect(await again).toEqual(['users']);
      await waitFor(() => (syncs.started().size === 0 ? true : undefined), 'the second run to end');
      const rows = new Map((await readSyncRows(db.sql)).map((row) => [row.name, row.status]));
      expect(rows).toEqual(
        new Map([
          ['users', 'done'],
          ['table:public.orders', 'done'],
        ]),
      );
    } finally {
      await eventsHeld.release();
      await migrateHeld?.release();
      await syncs.stop();
    }
  });
});
