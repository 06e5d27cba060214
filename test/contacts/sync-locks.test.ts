// Reading who holds a sync's lock (db/locks.ts heldNamedLocks, 'sync'): the
// lock as withSyncLock takes it is seen, by its name only; a negative key is
// matched through the oid wrap; and the same numbers under another lock, as
// one bigint key, or in another database are not taken for it.
import postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { withSyncLock } from '../../src/contacts/sync/checkpoint.js';
import { heldNamedLocks } from '../../src/db/locks.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
});

/** Runs `fn` while a session of its own (on `url`) holds the lock `take` takes. */
async function holding<T>(url: string, take: string, fn: () => Promise<T>): Promise<T> {
  const session = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await session.unsafe(take);
    return await fn();
  } finally {
    await session.end();
  }
}

describe('heldNamedLocks of a sync', () => {
  it('sees a sync’s lock as withSyncLock takes it, and only that sync’s', async () => {
    const names = ['users', 'table:public.orders', 'table:public."Order Items"'];
    expect(await heldNamedLocks(db.sql, 'sync', [])).toEqual(new Set());
    expect(await heldNamedLocks(db.sql, 'sync', names)).toEqual(new Set());
    for (const name of names) {
      const seen = await withSyncLock(db.url, name, () => heldNamedLocks(db.sql, 'sync', names));
      expect(seen).toEqual(new Set([name]));
    }
    expect(await heldNamedLocks(db.sql, 'sync', names)).toEqual(new Set());
  });

  it('matches a name whose key is negative (the int4 → oid wrap)', async () => {
    const [row] = await db.sql<{ name: string }[]>`
      select name from unnest(array['users', 'a', 'b', 'c', 'd', 'e', 'f']) as name
       where hashtext(name) < 0 limit 1`;
    const name = row!.name;
    expect(await withSyncLock(db.url, name, () => heldNamedLocks(db.sql, 'sync', [name]))).toEqual(
      new Set([name]),
    );
  });

  it('does not take the same numbers under another lock, as one bigint key, or in another database for it', async () => {
    const replication = `select pg_advisory_lock(hashtext('nudge replication'), hashtext('users'))`;
    await holding(db.url, replication, async () => {
      expect(await heldNamedLocks(db.sql, 'sync', ['users'])).toEqual(new Set());
      expect(await heldNamedLocks(db.sql, 'replication', ['users'])).toEqual(new Set(['users']));
    });
    // One bigint key whose halves are the sync lock's two keys: pg_locks shows it with objsubid 1.
    const bigint = `select pg_advisory_lock((hashtext('nudge sync')::oid::bigint << 32) | hashtext('users')::oid::bigint)`;
    await holding(db.url, bigint, async () => {
      expect(await heldNamedLocks(db.sql, 'sync', ['users'])).toEqual(new Set());
    });
    const sync = `select pg_advisory_lock(hashtext('nudge sync'), hashtext('users'))`;
    const otherDatabase = db.url.replace(/\/[^/]+$/, '/postgres');
    await holding(otherDatabase, sync, async () => {
      expect(await heldNamedLocks(db.sql, 'sync', ['users'])).toEqual(new Set());
    });
    await holding(db.url, sync, async () => {
      expect(await heldNamedLocks(db.sql, 'sync', ['users'])).toEqual(new Set(['users']));
    });
  });
});
