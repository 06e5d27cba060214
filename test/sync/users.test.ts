// `nudge sync users` in database mode against the Supabase-shaped fixture:
// the mapping's attributes, incremental runs by updated_at, resuming an
// interrupted run, deleted users, rows that cannot be used, progress lines.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { syncUsersCommand } from '../../src/cli/sync.js';
import { withSyncLock } from '../../src/contacts/sync/checkpoint.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';
import {
  contacts,
  expectOk,
  hold,
  insertUsers,
  projectDir,
  resetEngine,
  runCommand,
  syncState,
  userId,
  waitingOn,
} from './fixture.js';

const db = useDatabase();
const env = () => ({ DATABASE_URL: db.url });

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
});

beforeEach(async () => {
  await resetEngine(db.sql);
  await db.sql`delete from auth.users`;
});

const MAPPING = `connectors:
  supabase:
    batch_size: 10
    user_mapping:
      phone: SMS
      user_metadata.full_name: FIRSTNAME
      created_at: SIGNUP_DATE
`;

describe('full sync', () => {
  it('maps users to contacts with the defaults and the user mapping', async () => {
    await insertUsers(db.sql, 25);
    const cwd = await projectDir(MAPPING);
    const ran = await runCommand(syncUsersCommand, cwd, env());
    expect(ran.err).not.toContain('✗');
    expectOk(ran);
    expect(ran.out).toContain('users: full sync done');
    expect(ran.out).toMatch(/25 rows read/);
    expect(ran.out).toContain('synced 25 (created 25, updated 0) · skipped 0 · deleted 0');
    const rows = await contacts(db.sql);
    expect(rows).toHaveLength(25);
    const third = rows.find((r) => r.auth_user_id === userId(3))!;
    expect(third).toEqual({
      auth_user_id: userId(3),
      email: 'user3@example.com',
      phone: '+15550000003',
      deleted: false,
      attributes: {
        SMS: '+15550000003',
        FIRSTNAME: 'User 3',
        avatar_url: 'https://img.example.com/3.png',
        SIGNUP_DATE: '2024-01-01T00:03:00.000Z',
        last_sign_in_at: null,
        provider: 'email',
        confirmed_at: '2024-01-01T00:03:00.123Z',
      },
    });
    expect(rows.find((r) => r.auth_user_id === userId(4))!.attributes.last_sign_in_at).toBe(
      '2024-02-01T00:00:04.000Z',
    );
    const state = await syncState(db.sql, 'users');
    expect(state?.status).toBe('done');

    // A second run with nothing changed reads only the overlap window (nothing here) and changes nothing.
    const again = await runCommand(syncUsersCommand, cwd, env());
    expectOk(again);
    expect(again.out).toContain('users: incremental sync done');
    expect(again.out).toMatch(/ 0 rows read/);
    expect(await contacts(db.sql)).toEqual(rows);
  });
});

describe('incremental sync', () => {
  it('after a full sync reads only users changed since (by updated_at), and --since picks the time', async () => {
    await insertUsers(db.sql, 30);
    const cwd = await projectDir(MAPPING);
    expect((await runCommand(syncUsersCommand, cwd, env())).code).toBe(0);

    await db.sql`
      update auth.users set raw_user_meta_data = raw_user_meta_data || '{"full_name": "Renamed"}',
                            updated_at = now()
       where id in (${userId(4)}, ${userId(17)})`;
    await insertUsers(db.sql, 31, 31);
    await db.sql`update auth.users set updated_at = now() where id = ${userId(31)}`;

    const ran = await runCommand(syncUsersCommand, cwd, env());
    expectOk(ran);
    expect(ran.err).toContain('users: incremental sync — changes since the last sync (3 rows)');
    expect(ran.out).toContain('users: incremental sync done');
    expect(ran.out).toContain('synced 3 (created 1, updated 2)');
    const rows = await contacts(db.sql);
    expect(rows).toHaveLength(31);
    const renamed = rows
      .filter((r) => r.attributes.FIRSTNAME === 'Renamed')
      .map((r) => r.auth_user_id);
    expect(renamed).toEqual([userId(4), userId(17)]);

    // --since: users 21..31 changed at or after 00:21 on 2024-01-01 (plus the two renamed ones).
    const since = await runCommand(syncUsersCommand, cwd, env(), { since: '2024-01-01T00:21:00Z' });
    expectOk(since);
    expect(since.out).toMatch(/incremental sync done .* 13 rows read/);
  });

  it('refuses --full with --since, and a --since that is not a time, as usage errors (exit 2)', async () => {
    const cwd = await projectDir(MAPPING);
    // Also where no project is: they are said before it loads.
    const nowhere = await mkdtemp(path.join(tmpdir(), 'nudge-sync-no-project-'));
    for (const dir of [cwd, nowhere]) {
      const both = await runCommand(syncUsersCommand, dir, env(), { full: true, since: '1d' });
      expect([both.code, both.err.split('\n')[0]], dir).toEqual([
        2,
        '✗ --full and --since do not go together',
      ]);
      const bad = await runCommand(syncUsersCommand, dir, env(), { since: 'yesterday' });
      expect(bad.code, dir).toBe(2);
      expect(bad.err, dir).toContain('--since "yesterday" is not a time');
    }
  });
});

describe('an interrupted sync', () => {
  it('stops after the batches being written and continues from its checkpoint', async () => {
    await insertUsers(db.sql, 95);
    const cwd = await projectDir(MAPPING);
    const stop = new AbortController();
    const first = await runCommand(syncUsersCommand, cwd, env(), {
      signal: stop.signal,
      onBatch: (committed) => {
        if (committed === 3) stop.abort();
      },
    });
    expect(first.code).toBe(130);
    expect(first.out).toContain('users: full sync stopped');
    expect(first.out).toContain('run the same command again to continue');
    const state = await syncState(db.sql, 'users');
    expect(state?.status).toBe('interrupted');
    const after = (state!.cursor!.after as { id: string }).id;
    const written = await contacts(db.sql);
    // Everything up to the checkpoint is written, nothing after it.
    expect(written.length).toBeGreaterThanOrEqual(30);
    expect(written.length).toBeLessThan(95);
    expect(written.every((c) => c.auth_user_id! <= after)).toBe(true);
    expect(written.at(-1)!.auth_user_id).toBe(after);

    const second = await runCommand(syncUsersCommand, cwd, env());
    expectOk(second);
    expect(second.err).toContain('continuing the full sync that stopped (interrupted)');
    expect(second.err).toContain(`(${95 - written.length} rows)`);
    expect(second.out).toContain(`${95 - written.length} rows read`);
    expect(second.out).toContain(`created ${95 - written.length}, updated 0`);
    const all = await contacts(db.sql);
    expect(all).toHaveLength(95);
    expect(new Set(all.map((c) => c.auth_user_id)).size).toBe(95);
    expect((await syncState(db.sql, 'users'))?.status).toBe('done');
  });

  it('after a crash mid-run (an error after two batches) continues from its checkpoint too', async () => {
    await insertUsers(db.sql, 40);
    const cwd = await projectDir(MAPPING);
    const crashed = await runCommand(syncUsersCommand, cwd, env(), {
      concurrency: 1,
      onBatch: (committed) => {
        if (committed === 2) throw new Error('the process died here');
      },
    });
    expect(crashed.code).toBe(1);
    expect(crashed.err).toContain('the process died here');
    expect(crashed.out).toContain('users: full sync failed');
    expect((await syncState(db.sql, 'users'))?.status).toBe('failed');
    expect(await contacts(db.sql)).toHaveLength(20);
    const resumed = await runCommand(syncUsersCommand, cwd, env());
    expectOk(resumed);
    expect(resumed.out).toContain('20 rows read');
    expect(await contacts(db.sql)).toHaveLength(40);
  });

  it('--full starts over instead of continuing', async () => {
    await insertUsers(db.sql, 30);
    const cwd = await projectDir(MAPPING);
    const stop = new AbortController();
    await runCommand(syncUsersCommand, cwd, env(), {
      signal: stop.signal,
      concurrency: 1,
      onBatch: () => stop.abort(),
    });
    const full = await runCommand(syncUsersCommand, cwd, env(), { full: true });
    expect(full.err).toContain('full sync — --full (30 rows)');
    expect(full.out).toContain('30 rows read');
    expect(full.out).toContain('created 20, updated 10');
  });
});

describe('users deleted in Supabase', () => {
  it('are marked deleted on their contact: hard deletes by a full sync, soft deletes by deleted_at', async () => {
    await insertUsers(db.sql, 35);
    const cwd = await projectDir(MAPPING);
    expect((await runCommand(syncUsersCommand, cwd, env())).code).toBe(0);
    // Gone: one in the middle of a page, one at a page boundary, and the last one (after every page).
    await db.sql`delete from auth.users where id in (${userId(7)}, ${userId(20)}, ${userId(35)})`;
    await db.sql`update auth.users set deleted_at = now(), updated_at = now() where id = ${userId(12)}`;

    const ran = await runCommand(syncUsersCommand, cwd, env(), { full: true });
    expectOk(ran);
    expect(ran.out).toContain('deleted 4');
    const rows = await contacts(db.sql);
    expect(rows).toHaveLength(35);
    expect(rows.filter((r) => r.deleted).map((r) => r.auth_user_id)).toEqual([
      userId(7),
      userId(12),
      userId(20),
      userId(35),
    ]);
    // Nothing changed since: a second full sync marks nothing new.
    const again = await runCommand(syncUsersCommand, cwd, env(), { full: true });
    expect(again.out).toContain('deleted 0');
  });

  it('are never users who signed up after the full sync read their part of the ids', async () => {
    // Users 1, 2, 3, 5 in pages of two; 4 and 6 sign up (and live sync gives
    // them a contact) after the pages around them were read, before they are
    // written: after page {3, 5}, and after the last read found no more.
    const signUp = async (n: number) => {
      await db.sql`
        insert into auth.users (id, aud, role, email, created_at, updated_at)
        values (${userId(n)}, 'authenticated', 'authenticated', ${`user${n}@example.com`}, now(), now())`;
      await db.sql`insert into nudge_engine.contacts (auth_user_id, email) values (${userId(n)}, ${`user${n}@example.com`})`;
    };
    await insertUsers(db.sql, 3);
    await insertUsers(db.sql, 5, 5);
    // A declared type keeps the path through JavaScript, which reads each page before writing it.
    const cwd = await projectDir(`contacts:
  attributes:
    provider: text
connectors:
  supabase:
    batch_size: 2
    sync: { users: true }
`);
    expectOk(await runCommand(syncUsersCommand, cwd, env()));
    const first = await hold(
      db,
      `select * from nudge_engine.contacts where auth_user_id = '${userId(1)}' for update`,
    );
    const last = await hold(
      db,
      `select * from nudge_engine.contacts where auth_user_id = '${userId(5)}' for update`,
    );
    const [start] = await db.sql<{ now: string }[]>`select clock_timestamp()::text as now`;
    const run = runCommand(syncUsersCommand, cwd, env(), { full: true, concurrency: 1 });
    await waitingOn(db, first.pid);
    const pageTwo = await keysetRead(start!.now); // read ahead while page one waits
    await signUp(4);
    await first.release();
    await waitingOn(db, last.pid);
    await keysetRead(pageTwo); // the read after page two: the end
    await signUp(6);
    await last.release();
    const ran = await run;
    expectOk(ran);
    expect(ran.out).toContain('deleted 0');
    const rows = await contacts(db.sql);
    expect(rows.filter((r) => r.deleted)).toEqual([]);
    expect(rows.map((r) => r.auth_user_id)).toEqual([1, 2, 3, 4, 5, 6].map(userId));

    // The next full run reads them, and still marks a user who is gone.
    await db.sql`delete from auth.users where id = ${userId(4)}`;
    const again = await runCommand(syncUsersCommand, cwd, env(), { full: true });
    expectOk(again);
    expect(again.out).toContain('deleted 1');
  });
});

/**
 * Waits until a users sync's keyset read of auth.users (a page after the
 * first) that started after `after` has finished; returns when it started
 * (as text: microseconds).
 */
function keysetRead(after: string): Promise<string> {
  return waitFor(async () => {
    const [row] = await db.sql<{ started: string }[]>`
      select query_start::text as started from pg_stat_activity
       where datname = current_database() and application_name like 'nudge%'
         and state = 'idle' and query like '%from auth.users where id > %'
         and query_start > ${after}::timestamptz
       order by query_start desc limit 1`;
    return row?.started;
  }, 'a keyset read of auth.users');
}

describe('rows that cannot be used', () => {
  it('are skipped with their reason and counted; the rest is synced', async () => {
    await insertUsers(db.sql, 20);
    await db.sql`update auth.users set raw_user_meta_data = '"not an object"' where id = ${userId(3)}`;
    await db.sql`update auth.users set raw_user_meta_data = '[1, 2]' where id = ${userId(9)}`;
    await db.sql`update auth.users set raw_user_meta_data = '{"age": "old"}' where id = ${userId(14)}`;
    await db.sql`update auth.users set raw_user_meta_data = '{"age": 41}' where id = ${userId(15)}`;
    // Someone else's contact already has user 18's email: user 18 is synced
    // without it, and said to be.
    await db.sql`
      insert into nudge_engine.contacts (auth_user_id, email)
      values ('10000000-0000-4000-8000-000000000000', 'user18@example.com')`;
    const cwd = await projectDir(`${MAPPING}      user_metadata.age: AGE
contacts:
  attributes:
    AGE: integer
`);
    const ran = await runCommand(syncUsersCommand, cwd, env());
    expectOk(ran);
    expect(ran.out).toContain('synced 17 (created 17, updated 0) · skipped 3');
    expect(ran.out).toContain('skipped 1: user_metadata is a string, not an object');
    expect(ran.out).toContain('skipped 1: user_metadata is an array, not an object');
    expect(ran.out).toContain('skipped 1: user_metadata.age … is not an integer');
    expect(ran.out).toContain(
      'synced without it 1: its email … belongs to contact … of another user',
    );
    expect(ran.err).toContain(
      `skipped user ${userId(3)}: user_metadata is a string, not an object`,
    );
    expect(ran.err).toContain(
      `skipped user ${userId(9)}: user_metadata is an array, not an object`,
    );
    expect(ran.err).toMatch(
      new RegExp(
        `users: user ${userId(18)}: its email "user18@example.com" belongs to contact "[0-9a-f-]{36}" of another user: synced without it`,
      ),
    );
    const rows = await contacts(db.sql);
    const ids = rows.map((r) => r.auth_user_id);
    for (const n of [3, 9, 14]) expect(ids).not.toContain(userId(n));
    expect(rows.find((r) => r.auth_user_id === userId(18))).toMatchObject({
      email: null,
      attributes: { FIRSTNAME: 'User 18' },
    });
    expect(rows.find((r) => r.auth_user_id === userId(15))!.attributes.AGE).toBe(41);
    // A skipped user is not mistaken for a deleted one.
    expect(rows.filter((r) => r.deleted).map((r) => r.auth_user_id)).toEqual([
      '10000000-0000-4000-8000-000000000000',
    ]);
  });
});

describe('progress without a terminal', () => {
  it('prints a plain line each tenth of the way, with rate and ETA, and a summary', async () => {
    await insertUsers(db.sql, 100);
    const cwd = await projectDir(MAPPING);
    const ran = await runCommand(syncUsersCommand, cwd, env(), {
      progress: { intervalMs: 60_000 },
    });
    expectOk(ran);
    const lines = ran.err.split('\n').filter((l) => /^users: \d+\/100 /.test(l));
    expect(lines.map((l) => l.split(' ')[1])).toEqual([
      '10/100',
      '20/100',
      '30/100',
      '40/100',
      '50/100',
      '60/100',
      '70/100',
      '80/100',
      '90/100',
      '100/100',
    ]);
    expect(lines[4]).toMatch(/^users: 50\/100 \(50%\) · [\d,]+ rows\/s · ETA \d/);
    expect(ran.out).toMatch(
      /✓ users: full sync done in [\d.]+m?s — 100 rows read \([\d,]+ rows\/s\)/,
    );
  });
});

describe('two runs at once', () => {
  it('the second is refused while the first holds the sync', async () => {
    await insertUsers(db.sql, 3);
    const holder = await db.sql.reserve();
    try {
      await holder`select pg_advisory_lock(hashtext('nudge sync'), hashtext('users'))`;
      const ran = await runCommand(syncUsersCommand, await projectDir(MAPPING), env());
      expect(ran.code).toBe(1);
      expect(ran.err).toContain('✗ another sync of users is running');
      expect(await contacts(db.sql)).toHaveLength(0);
    } finally {
      await holder`select pg_advisory_unlock_all()`;
      holder.release();
    }
    expectOk(await runCommand(syncUsersCommand, await projectDir(MAPPING), env()));
  });
  it('goes on when the connection holding the lock is dropped; the next run takes the lock', async () => {
    const ran = await withSyncLock(db.url, 'dropped', async () => {
      const [lock] = await db.sql<{ pid: number }[]>`select pid from pg_stat_activity
        where application_name = 'nudge sync lock dropped'`;
      await db.sql`select pg_terminate_backend(${lock!.pid})`;
      await waitFor(async () => {
        const [row] = await db.sql`select from pg_stat_activity where pid = ${lock!.pid}`;
        return row ? undefined : true;
      }, 'the lock connection to end');
      return 'done';
    });
    expect(ran).toBe('done');
    expect(await withSyncLock(db.url, 'dropped', async () => 'again')).toBe('again');
  });
});
