// `access: read-only` proved by the server, not by reading the SQL we send:
// a login event trigger tries a write in every session the role opens and
// reports the outcome. The role may create and insert, so only the read-only
// mode Nudge asks for when it connects (default_transaction_read_only) can
// stop that write: every command that connects must see it fail with 25006,
// and a write disguised as a read (a writing CTE, a function that writes)
// fails the same way.

import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { withSource } from '../../src/cli/project.js';
import { loadConfig } from '../../src/config/load.js';
import { createTestDatabase, type TestDatabase, useDatabase } from '../harness/db.js';
import { copyDemo } from '../harness/demo-project.js';
import { waitFor } from '../harness/wait.js';
import { READ_ONLY_COMMANDS } from './read-only-commands.js';

const db = useDatabase();
let engineDb: TestDatabase & { drop(): Promise<void> };
let role: string;
let roleUrl: string;
let cwd: string;
/** What the login probe reported, one entry per session of the role: a SQLSTATE, or `wrote`. */
const reports: string[] = [];

// The probe: in every session of one role, at login, try an INSERT; report
// the SQLSTATE it failed with (pg_notify works in a read-only transaction).
const PROBE = (name: string) => `
  CREATE SCHEMA probe;
  CREATE TABLE probe.writes (pid int, at timestamptz DEFAULT clock_timestamp());
  GRANT USAGE ON SCHEMA probe TO ${name};
  GRANT INSERT, SELECT ON probe.writes TO ${name};
  CREATE FUNCTION probe.on_login() RETURNS event_trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF session_user <> '${name}' THEN RETURN; END IF;
    BEGIN
      INSERT INTO probe.writes (pid) VALUES (pg_backend_pid());
      PERFORM pg_notify('read_only_probe', 'wrote');
    EXCEPTION WHEN OTHERS THEN
      PERFORM pg_notify('read_only_probe', SQLSTATE);
    END;
  END $$;
  CREATE EVENT TRIGGER read_only_probe ON login EXECUTE FUNCTION probe.on_login();
  -- A write that looks like a read: SELECT probe.note('...').
  CREATE FUNCTION probe.note(what text) RETURNS int LANGUAGE sql AS
    $$ INSERT INTO probe.writes (pid) VALUES (length(what)) RETURNING pid $$;
  GRANT EXECUTE ON FUNCTION probe.note(text) TO ${name};`;

async function setAccess(access: 'read-only' | 'read-write'): Promise<void> {
  const file = path.join(cwd, 'nudge.yaml');
  const text = (await readFile(file, 'utf8')).replace(/^access: .*$/m, `access: ${access}`);
  await writeFile(file, text);
}

async function nudge(args: string[]) {
  const m = memoryIo({ cwd, env: { DATABASE_URL: roleUrl, ENGINE_URL: engineDb.url } });
  const code = await run(args, m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

async function probeWrites(): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from probe.writes`;
  return row!.n;
}

/** Runs a command and returns what the probe reported for the sessions it opened. */
async function sessionsOf(
  args: string[],
): Promise<{ reports: string[]; out: string; code: number }> {
  reports.length = 0;
  const ran = await nudge(args);
  // Each session's report is sent when its login transaction ends, before
  // its first query: the command has sent at least one by now.
  const seen = await waitFor(
    () => (reports.length > 0 ? [...reports] : undefined),
    () => `a probe report from the sessions of nudge ${args.join(' ')}:\n${ran.err}\n${ran.out}`,
    10_000,
  );
  return { reports: seen, out: `${ran.err}\n${ran.out}`, code: ran.code };
}

beforeAll(async () => {
  engineDb = await createTestDatabase();
  await db.sql.unsafe(await readFile(path.resolve('src/dev/demo.sql'), 'utf8'));
  const login = await db.loginRole(
    'writer',
    `ALTER ROLE {role} BYPASSRLS;
     GRANT CREATE ON DATABASE ${db.name} TO {role};
     GRANT USAGE, CREATE ON SCHEMA public TO {role};
     GRANT USAGE ON SCHEMA auth, storage TO {role};
     GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public, auth, storage TO {role};`,
  );
  role = login.name;
  roleUrl = login.url;
  await db.sql.unsafe(PROBE(role));
  await db.sql.listen('read_only_probe', (payload) => {
    reports.push(payload);
  });
  await db.sql`insert into auth.users (id, email) values (gen_random_uuid(), 'reader@example.com')`;
  cwd = await copyDemo({ prefix: 'nudge-read-only-' });
  const file = path.join(cwd, 'nudge.yaml');
  await writeFile(
    file,
    `${await readFile(file, 'utf8')}engine: { database_url: "\${ENGINE_URL}" }\nconnectors:\n  supabase:\n    batch_size: 10\n`,
  );
});

afterAll(async () => {
  await engineDb?.drop();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

describe('access: read-only', () => {
  it('is all that stops the role: with read-write its session writes', async () => {
    const [rights] = await db.sql<{ create: boolean; insert: boolean }[]>`
      select has_database_privilege(${role}, current_database(), 'CREATE') as create,
             has_table_privilege(${role}, 'probe.writes', 'INSERT') as insert`;
    expect(rights).toEqual({ create: true, insert: true });
    await setAccess('read-write');
    const before = await probeWrites();
    const analyzed = await sessionsOf(['analyze']);
    expect(analyzed.reports).toContain('wrote');
    expect(await probeWrites()).toBeGreaterThan(before);
  });

  it.each([
    ...READ_ONLY_COMMANDS,
    { command: 'sync users', done: /users: full sync done .* 1 rows read/ },
  ])(
    'makes every session of nudge $command refuse a write with 25006',
    async ({ command, done }) => {
      await setAccess('read-only');
      const before = await probeWrites();
      const { reports: seen, out, code } = await sessionsOf(command.split(' '));
      expect(code, out).toBe(0);
      expect(out).toMatch(done);
      expect(seen, out).not.toContain('wrote');
      expect(new Set(seen), out).toEqual(new Set(['25006']));
      expect(await probeWrites()).toBe(before);
      const [nudgeSchema] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from pg_namespace where nspname in ('nudge', 'nudge_engine')`;
      expect(nudgeSchema!.n).toBe(0);
    },
  );

  it.each([['logs'], ['clock', 'show'], ['secret', 'ingest']])(
    'keeps Nudge’s state out of the source database: nudge %s refuses without engine.database_url',
    async (...args) => {
      await setAccess('read-only');
      const file = path.join(cwd, 'nudge.yaml');
      const yaml = await readFile(file, 'utf8');
      await writeFile(file, yaml.replace(/^engine: .*\n/m, ''));
      let ran: Awaited<ReturnType<typeof nudge>>;
      try {
        ran = await nudge(args);
      } finally {
        await writeFile(file, yaml);
      }
      expect(ran.code).toBe(1);
      expect(ran.err).toContain(
        'access is read-only, and Nudge’s state would live in the source database (schema nudge_engine)',
      );
      const [schema] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from pg_namespace where nspname = 'nudge_engine'`;
      expect(schema!.n).toBe(0);
    },
  );

  it('refuses writes dressed as reads: a writing CTE, a function that writes, a DO block', async () => {
    await setAccess('read-only');
    const project = await loadConfig({
      cwd,
      env: { DATABASE_URL: roleUrl, ENGINE_URL: engineDb.url },
    });
    const before = await probeWrites();
    const codes = await withSource(project, async ({ sql, readOnly }) => {
      expect(readOnly).toBe(true);
      const attempts = [
        sql`with written as (insert into probe.writes (pid) values (1) returning pid)
            select pid from written`,
        sql`select probe.note('looks like a read')`,
        sql.unsafe(`do $$ begin insert into probe.writes (pid) values (2); end $$`),
        sql.unsafe(`create table public.sneaky (id int)`),
      ];
      return Promise.all(
        attempts.map((attempt) =>
          attempt.then(
            () => 'sent and applied',
            (error: { code?: string }) => error.code,
          ),
        ),
      );
    });
    expect(codes).toEqual(['25006', '25006', '25006', '25006']);
    expect(await probeWrites()).toBe(before);
  });
});
