// An incremental sync and a transaction that stays open across it: a row
// the transaction writes with the time it began (older than the run's start
// less the overlap) and commits after the run read is synced by the next
// run, for users and for a table. The overlap is shortened to a second so
// the test need not hold a transaction open for a minute. A role that
// cannot see other sessions' transactions is told so, and keeps the overlap.
import postgres from 'postgres';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { compileTableMapping, compileUserMapping } from '../../src/contacts/mapping.js';
import type { SavedCursor } from '../../src/contacts/sync/checkpoint.js';
import { makeSyncLog, type SyncReporter } from '../../src/contacts/sync/report.js';
import type { SyncResult } from '../../src/contacts/sync/runner.js';
import { syncTable } from '../../src/contacts/sync/tables.js';
import { type SyncRunOptions, syncUsers } from '../../src/contacts/sync/users.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';
import { contacts, insertUsers, resetEngine, syncState, userId } from './fixture.js';

const db = useDatabase();
const OVERLAP_MS = 1000;

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  await db.sql`
    create table public.plans (
      id bigint primary key, user_id uuid not null, plan text not null,
      updated_at timestamptz not null default now())`;
});

beforeEach(async () => {
  await resetEngine(db.sql);
  await db.sql`delete from auth.users`;
  await db.sql`delete from public.plans`;
  await insertUsers(db.sql, 5);
  await db.sql`
    insert into public.plans (id, user_id, plan, updated_at)
    select g, ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'free',
           timestamptz '2024-01-01 00:00:00+00'
      from generate_series(1, 5) g`;
});

const USERS = compileUserMapping({ 'user_metadata.full_name': 'FIRSTNAME' });
const PLANS = compileTableMapping(
  'plans',
  { schema: 'public', table: 'plans' },
  { plan: 'PLAN' },
  {
    columns: ['id', 'user_id', 'plan', 'updated_at'].map((name) => ({
      name,
      time: name === 'updated_at',
    })),
    primaryKey: ['id'],
    contact: { by: 'user_id', column: 'user_id' },
  },
);

/** One run, logging at verbose into `log`. */
async function run(
  what: 'users' | 'plans',
  log: string[],
  source: postgres.Sql = db.sql,
): Promise<SyncResult> {
  const { io, stderr } = memoryIo();
  const report: SyncReporter = {
    log: makeSyncLog(io, { log_level: 'verbose' }, []),
    start() {},
    progress() {},
    skipped() {},
    stop() {},
  };
  const options: SyncRunOptions = {
    engine: db.sql,
    engineUrl: db.url,
    source: { kind: 'database', sql: source },
    batchSize: 2,
    report,
    overlapMs: OVERLAP_MS,
  };
  try {
    return what === 'users'
      ? await syncUsers({ ...options, mapping: USERS })
      : await syncTable({ ...options, mapping: PLANS });
  } finally {
    log.push(stderr());
  }
}

async function cursorOf(name: string): Promise<SavedCursor> {
  return (await syncState(db.sql, name))!.cursor as unknown as SavedCursor;
}

/**
 * Opens a transaction, has it write with now() (its start), waits until the
 * database's clock is past that start and the overlap, and returns the
 * commit.
 */
async function lateWriter(write: (tx: postgres.ReservedSql) => Promise<unknown>) {
  const writer = await db.sql.reserve();
  await writer`begin`;
  const [start] = await writer<{ began: Date }[]>`select now() as began`;
  const began = start!.began;
  await write(writer);
  await waitFor(async () => {
    const [clock] = await db.sql<{ past: boolean }[]>`
      select now() > ${began}::timestamptz + ${`${OVERLAP_MS * 2} milliseconds`}::interval as past`;
    return clock!.past || undefined;
  }, 'the clock to pass the open transaction’s start and twice the overlap');
  return async () => {
    await writer`commit`;
    writer.release();
  };
}

describe('a transaction open across an incremental run', () => {
  it('has its users change synced by the next run', async () => {
    const log: string[] = [];
    expect((await run('users', log)).status).toBe('done');
    const commit = await lateWriter(
      (tx) => tx`
        update auth.users set raw_user_meta_data = raw_user_meta_data || '{"full_name": "Late"}',
                              updated_at = now()
         where id = ${userId(2)}`,
    );
    expect((await run('users', log)).status).toBe('done');
    await commit();
    expect((await run('users', log)).status).toBe('done');

    const late = (await contacts(db.sql)).find((c) => c.auth_user_id === userId(2));
    expect(late?.attributes.FIRSTNAME).toBe('Late');
    expect(log[1]).toMatch(
      /users: a transaction open since .* holds back where the next run starts/,
    );
  });

  it('has its table change synced by the next run', async () => {
    const log: string[] = [];
    expect((await run('plans', log)).status).toBe('done');
    const commit = await lateWriter(
      (tx) => tx`update public.plans set plan = 'pro', updated_at = now() where id = 3`,
    );
    expect((await run('plans', log)).status).toBe('done');
    await commit();
    expect((await run('plans', log)).status).toBe('done');

    const late = (await contacts(db.sql)).find((c) => c.auth_user_id === userId(3));
    expect(late?.attributes.PLAN).toBe('pro');
  });

  it('once committed, no longer holds the next run back', async () => {
    const log: string[] = [];
    expect((await run('users', log)).status).toBe('done');
    const commit = await lateWriter((tx) => tx`select 1`);
    await run('users', log);
    const held = (await cursorOf('users')).next_since!;
    await commit();
    await run('users', log);
    const freed = (await cursorOf('users')).next_since!;
    expect(Date.parse(freed) - Date.parse(held)).toBeGreaterThan(OVERLAP_MS);
  });
});

describe('a sync role that cannot see other sessions', () => {
  it('says so and starts the next run at its own start less the overlap', async () => {
    const reader = await db.loginRole(
      'sync_reader',
      'GRANT USAGE ON SCHEMA auth TO {role}; GRANT SELECT ON auth.users TO {role}',
    );
    const source = postgres(reader.url, { onnotice: () => {}, max: 2 });
    try {
      const log: string[] = [];
      expect((await run('users', log, source)).status).toBe('done');
      const hidden = await db.sql.reserve();
      await hidden`begin`;
      await hidden`select 1`;
      try {
        expect((await run('users', log, source)).status).toBe('done');
      } finally {
        await hidden`rollback`;
        hidden.release();
      }
      // Said once per process, not on every run a background sync makes.
      expect(log.filter((line) => line.includes('grant pg_read_all_stats to'))).toHaveLength(1);
      const cursor = await cursorOf('users');
      expect(Date.parse(cursor.next_since!)).toBe(Date.parse(cursor.run_started_at) - OVERLAP_MS);
    } finally {
      await source.end();
    }
  });
});
