// `access: read-only` through a session pooler (PgBouncer in session mode in
// front of the test server, as Supabase's session pooler is). PgBouncer
// refuses the startup parameter default_transaction_read_only that makes a
// direct session read-only, so there every statement runs in its own
// BEGIN READ ONLY transaction (src/source/connect.ts). Proved by the server:
// writes dressed as reads fail with 25006 through such a session (the role
// is PgBouncer's superuser, which may write anything), also after its
// connections were dropped and made again, and through a transaction pooler;
// and the commands that read the source (analyze, plan, doctor,
// deploy --sql, export, sync) work through it and write nothing.

import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { withSource } from '../../src/cli/project.js';
import { loadConfig } from '../../src/config/load.js';
import { makeSyncLog } from '../../src/contacts/sync/report.js';
import { openSyncSession } from '../../src/contacts/sync/session.js';
import { connectSource, openSource, type Sql } from '../../src/source/connect.js';
import { createTestDatabase, type TestDatabase, useDatabase } from '../harness/db.js';
import { copyDemo } from '../harness/demo-project.js';
import { usePgbouncer } from '../harness/pgbouncer.js';
import { waitFor } from '../harness/wait.js';
import { READ_ONLY_COMMANDS } from './read-only-commands.js';

const db = useDatabase();
const session = usePgbouncer('session');
const transaction = usePgbouncer('transaction');
let engineDb: TestDatabase & { drop(): Promise<void> };
let cwd: string;

const SETUP = `
  CREATE SCHEMA probe;
  CREATE TABLE probe.writes (n int);
  -- A write that looks like a read: SELECT probe.note('...').
  CREATE FUNCTION probe.note(what text) RETURNS int LANGUAGE sql AS
    $$ INSERT INTO probe.writes (n) VALUES (length(what)) RETURNING n $$;`;

/** Every way of writing the tests know, each answered by its SQLSTATE (or `applied`). */
async function tryWrites(sql: Sql): Promise<(string | undefined)[]> {
  const attempts = [
    () =>
      sql`with written as (insert into probe.writes (n) values (1) returning n) select n from written`,
    () => sql`select probe.note('looks like a read')`,
    () => sql.unsafe(`do $$ begin insert into probe.writes (n) values (2); end $$`),
    () => sql.unsafe('create table public.sneaky (id int)'),
    () => sql`insert into probe.writes (n) values (${3})`,
    () => sql.begin((tx) => tx`insert into probe.writes (n) values (4)`),
    // A session setting does not undo it: each statement has its own read-only transaction.
    async () => {
      await sql.unsafe('set default_transaction_read_only = off');
      return sql`insert into probe.writes (n) values (5)`;
    },
    // Nor can a statement end that transaction and write after it: one statement per query.
    () => sql.unsafe('commit; insert into probe.writes (n) values (6)'),
    () =>
      sql.unsafe('set default_transaction_read_only = off; insert into probe.writes values (7)'),
  ];
  const codes: (string | undefined)[] = [];
  for (const attempt of attempts) {
    codes.push(
      await attempt().then(
        () => 'applied',
        (error: { code?: string }) => error.code,
      ),
    );
  }
  return codes;
}

/** 25006 for each write; 42601 (several statements in one query) for the last two. */
const REFUSED = [...Array(7).fill('25006'), '42601', '42601'];

async function probeWrites(): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from probe.writes`;
  return row!.n;
}

/** Every attempt refused, and nothing written. */
async function expectRefused(sql: Sql): Promise<void> {
  const before = await probeWrites();
  expect(await tryWrites(sql)).toEqual(REFUSED);
  expect(await probeWrites()).toBe(before);
}

async function setYaml(lines: { access: 'read-only' | 'read-write'; engine: boolean }) {
  const file = path.join(cwd, 'nudge.yaml');
  const base = (await readFile(file, 'utf8')).split('# test:')[0]!;
  const access = base.replace(/^access: .*$/m, `access: ${lines.access}`);
  await writeFile(
    file,
    `${access}# test:\n${lines.engine ? 'engine: { database_url: "${ENGINE_URL}" }\n' : ''}connectors:
  supabase:
    batch_size: 2
    log_level: verbose
    sync: { users: true }
    table_mapping:
      orders:
        sync_as: events
        event_name: order_placed
`,
  );
}

/** The source through the session pooler, the engine store directly. */
const env = () => ({ DATABASE_URL: session.url(db.name), ENGINE_URL: engineDb.url });

async function nudge(args: string[]) {
  const m = memoryIo({ cwd, env: env() });
  const code = await run(args, m.io);
  return { code, out: `${m.stderr()}\n${m.stdout()}` };
}

beforeAll(async () => {
  engineDb = await createTestDatabase();
  // public.orders and public.profiles, as `nudge dev` makes them.
  await db.sql.unsafe(await readFile(path.resolve('src/dev/demo.sql'), 'utf8'));
  await db.sql.unsafe(SETUP);
  const users = await db.sql<{ id: string }[]>`
    insert into auth.users (id, email)
    select gen_random_uuid(), 'reader' || i || '@example.com' from generate_series(1, 5) i
    returning id`;
  for (const [i, user] of users.entries())
    await db.sql`insert into public.orders (user_id, total) values (${user.id}, ${i * 10})`;
  cwd = await copyDemo({ prefix: 'nudge-read-only-pooler-' });
  await setYaml({ access: 'read-only', engine: true });
});

afterAll(async () => {
  await engineDb?.drop();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

describe('access: read-only through PgBouncer in session mode', () => {
  it('is needed: PgBouncer refuses the startup parameter that makes a direct session read-only', async () => {
    const sql = connectSource({ url: session.url(db.name), readOnly: true, readOnlyBy: 'startup' });
    try {
      await expect(sql`select 1`).rejects.toMatchObject({
        code: '08P01',
        message: expect.stringMatching(
          /unsupported startup parameter: default_transaction_read_only/,
        ),
      });
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it('refuses writes dressed as reads with 25006', async () => {
    const project = await loadConfig({ cwd, env: env() });
    const before = await probeWrites();
    const codes = await withSource(project, async ({ sql, readOnly }) => {
      expect(readOnly).toBe(true);
      const [setting] = await sql`select current_setting('transaction_read_only') as on`;
      expect(setting!.on).toBe('on');
      return tryWrites(sql);
    });
    expect(codes).toEqual(REFUSED);
    expect(await probeWrites()).toBe(before);
    const [sneaky] = await db.sql`select to_regclass('public.sneaky') as t`;
    expect(sneaky!.t).toBeNull();
  });

  it('stays read-only after its connections are dropped and made again', async () => {
    const sql = await openSource({ url: session.url(db.name), readOnly: true, max: 2 });
    try {
      const pids = async () =>
        new Set(
          (
            await Promise.all(
              [1, 2].map(() => sql<{ pid: number }[]>`select pg_backend_pid() as pid`),
            )
          ).map(([row]) => row!.pid),
        );
      const first = await pids();
      // The server ends every session PgBouncer holds for this client; PgBouncer
      // (session mode) then closes the client's connections, and postgres.js
      // makes new ones for the statements that follow.
      await db.sql`select pg_terminate_backend(pid) from pg_stat_activity
        where pid in ${db.sql([...first])}`;
      const again = await waitFor(async () => {
        const now = await pids().catch(() => undefined);
        return now && ![...now].some((pid) => first.has(pid)) ? now : undefined;
      }, 'statements to run in new server sessions');
      expect([...again].some((pid) => first.has(pid))).toBe(false);
      await expectRefused(sql);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it('holds through a transaction pooler too: nothing is kept in the session', async () => {
    const sql = await openSource({ url: transaction.url(db.name), readOnly: true, max: 2 });
    try {
      await expectRefused(sql);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it('refuses a write through the source session of nudge sync', async () => {
    const project = await loadConfig({ cwd, env: env() });
    const sync = await openSyncSession(project, makeSyncLog(memoryIo({ cwd }).io, {}, []), {
      concurrency: 1,
    });
    try {
      if (sync.source.kind !== 'database') throw new Error('expected the database source');
      await expectRefused(sync.source.sql);
    } finally {
      await sync.close();
    }
  });

  it.each(READ_ONLY_COMMANDS)(
    'nudge $command works, and writes nothing',
    async ({ command, done }) => {
      await setYaml({ access: 'read-only', engine: true });
      const before = await probeWrites();
      const { code, out } = await nudge(command.split(' '));
      expect(out).toMatch(done);
      expect(out).not.toMatch(/startup parameter|✗/);
      expect(code, out).toBe(0);
      expect(await probeWrites()).toBe(before);
      const [schemas] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from pg_namespace where nspname in ('nudge', 'nudge_engine')`;
      expect(schemas!.n).toBe(0);
    },
  );

  it('nudge sync reads users and tables into a separate engine store', async () => {
    await setYaml({ access: 'read-only', engine: true });
    const { code, out } = await nudge(['sync']);
    expect(out).toMatch(/users: full sync done .* 5 rows read/);
    expect(out).toMatch(/orders: full sync done .* 5 rows read/);
    expect(code, out).toBe(0);
    const [synced] = await engineDb.sql<{ contacts: number; events: number }[]>`
      select (select count(*)::int from nudge_engine.contacts) as contacts,
             (select count(*)::int from nudge_engine.events where name = 'order_placed') as events`;
    expect(synced).toEqual({ contacts: 5, events: 5 });
  });
});

describe('read-write access through PgBouncer in session mode', () => {
  it('nudge sync users runs in the database (engine store in the source), reading the source read-only', async () => {
    await setYaml({ access: 'read-write', engine: false });
    try {
      const { code, out } = await nudge(['sync', 'users']);
      expect(out).toMatch(/contacts: schema nudge_engine in the source database/);
      expect(out).toMatch(/users: full sync done .* 5 rows read/);
      expect(code, out).toBe(0);
      const [synced] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from nudge_engine.contacts`;
      expect(synced!.n).toBe(5);
    } finally {
      await db.sql`drop schema if exists nudge_engine cascade`;
    }
  });
});
