// plan, deploy, export and teardown as a user runs them: against a
// Supabase-shaped database, with the demo features, bad feature files, and a
// read-only role that lacks CREATE.

import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { captured } from '../capture/outbox.js';
import { useDatabase } from '../harness/db.js';
import { copyDemo } from '../harness/demo-project.js';

const db = useDatabase();
const _DEMO = path.resolve('examples/demo');
const DEMO_SQL = path.resolve('src/dev/demo.sql');

async function project(extraConfig = ''): Promise<string> {
  const dir = await copyDemo({ prefix: 'nudge-cli-', firstFeatures: true });
  if (extraConfig) {
    await writeFile(
      path.join(dir, 'nudge.yaml'),
      `${await readFile(path.join(dir, 'nudge.yaml'), 'utf8')}${extraConfig}`,
    );
  }
  return dir;
}

async function nudge(cwd: string, args: string[], env: Record<string, string> = {}) {
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url, ...env } });
  const code = await run(args, m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

async function nudgeSchemaExists(): Promise<boolean> {
  const [row] = await db.sql<
    { n: number }[]
  >`select count(*)::int as n from pg_namespace where nspname = 'nudge'`;
  return row!.n === 1;
}

beforeAll(async () => {
  await db.sql.unsafe(await readFile(DEMO_SQL, 'utf8'));
});

describe('bad feature files', () => {
  it('fail plan with the file, line and nearest name, and write nothing', async () => {
    const cwd = await project();
    const file = path.join(cwd, 'nudge/features/order-paid.yaml');
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace('new.status: eq.paid', 'new.statuss: eq.paid'),
    );
    const typo = path.join(cwd, 'nudge/features/heartbeat.yaml');
    await writeFile(
      typo,
      (await readFile(typo, 'utf8')).replace('table: public.orders', 'table: public.ordrs'),
    );
    const result = await nudge(cwd, ['plan']);
    expect(result.code).toBe(2);
    expect(result.err).toContain(
      'nudge/features/heartbeat.yaml:6:10 trigger.table: table public.ordrs does not exist (did you mean "public.orders"?)',
    );
    expect(result.err).toContain(
      'nudge/features/order-paid.yaml:11:5 trigger.when["new.statuss"]: column "statuss" does not exist on public.orders (did you mean "status"?)',
    );
    expect(await nudgeSchemaExists()).toBe(false);
    const deployed = await nudge(cwd, ['deploy', '--yes']);
    expect(deployed.code).toBe(2);
    expect(await nudgeSchemaExists()).toBe(false);
  });

  it('report a literal that does not fit the column type and an unknown action', async () => {
    const cwd = await project();
    const file = path.join(cwd, 'nudge/features/welcome-drip.yaml');
    const text = (await readFile(file, 'utf8'))
      .replace('new.is_anonymous: is.false', 'new.created_at: gt.yesterday')
      .replace('- email: { template: day-two', '- emial: { template: day-two');
    await writeFile(file, text);
    const result = await nudge(cwd, ['plan']);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(
      /welcome-drip\.yaml:\d+:\d+ stages\[1\]\.do\[0\]\.emial: unknown action "emial" \(did you mean "email"\?\)/,
    );
  });
});

describe('plan and deploy', () => {
  let cwd: string;
  beforeAll(async () => {
    cwd = await project();
  });

  it('plans the schema and one trigger per table and operation', async () => {
    const result = await nudge(cwd, ['plan']);
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    expect(result.out).toContain('4 features in nudge/features/: 4 active');
    expect(result.out).toMatch(/\+ schema nudge\s+outbox event_log/);
    expect(result.out).toMatch(
      /\+ capture auth\.users insert\s+statement trigger · typed rows · used by welcome-drip/,
    );
    expect(result.out).toMatch(
      /\+ capture public\.orders insert\s+statement trigger · typed rows · used by heartbeat/,
    );
    expect(result.out).toMatch(
      /\+ capture public\.orders update\s+row trigger · used by order-paid/,
    );
    expect(result.out).toMatch(/\+ enrichment public\.orders → profile/);
    expect(result.out).toContain('Plan: 5 to create, 0 to replace, 0 to drop, 0 unchanged.');
    expect(await nudgeSchemaExists()).toBe(false);
  });

  it('makes doctor say the features are not deployed yet', async () => {
    const result = await nudge(cwd, ['doctor']);
    expect(result.out).toContain(
      '⚠ Features           5 changes not deployed (5 to create): a feature gets no events from a capture to create or replace until it is deployed',
    );
    expect(result.out).toContain('  fix: run nudge plan, then nudge deploy');
  });

  it('refuses to deploy without a terminal unless --yes', async () => {
    const result = await nudge(cwd, ['deploy']);
    expect(result.code).toBe(1);
    expect(result.err).toContain('deploy needs confirmation');
    expect(await nudgeSchemaExists()).toBe(false);
  });

  it('deploys, then captures a sign-up and a paid order into the outbox', async () => {
    const result = await nudge(cwd, ['deploy', '--yes']);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(
      /✓ Deployment #1: 5 created \(1 schema, 3 triggers \(2 with a rows table\), 1 enrichment\), 0 replaced, 0 dropped\./,
    );
    const [user] = await db.sql`
      insert into auth.users (id, email, is_anonymous) values (gen_random_uuid(), 'ada@example.com', false) returning id`;
    await db.sql`insert into auth.users (id, email, is_anonymous) values (gen_random_uuid(), null, true)`;
    await db.sql`insert into profiles (id, full_name, plan) values (${user!.id}, 'Ada', 'pro')`;
    const [order] =
      await db.sql`insert into orders (user_id, total) values (${user!.id}, 42) returning id`;
    await db.sql`update orders set currency = 'eur' where id = ${order!.id}`; // status unchanged: not captured
    await db.sql`update orders set status = 'paid' where id = ${order!.id}`;
    const events = await captured(db.sql);
    expect(events.map((e) => `${e.table_name} ${e.operation} ${e.new_rows?.length}`)).toEqual([
      'users insert 1', // the anonymous user without an email is filtered out in the trigger
      'orders insert 1',
      'orders update 1',
    ]);
    expect(events[2]!.enrichment).toEqual([{ profile: { plan: 'pro', full_name: 'Ada' } }]);
  });

  it('is idempotent: plan and a second deploy report no changes', async () => {
    const planned = await nudge(cwd, ['plan']);
    expect(planned.out).toContain('No changes. The database matches the features (5 unchanged).');
    const again = await nudge(cwd, ['deploy', '--yes']);
    expect(again.code).toBe(0);
    const [count] = await db.sql<{ n: number }[]>`select count(*)::int as n from nudge.deployments`;
    expect(count!.n).toBe(1);
  });

  it('reports drift and repairs it', async () => {
    expect((await nudge(cwd, ['doctor'])).out).toContain(
      '✓ Features           4 active features in nudge/features/, deployed and up to date',
    );
    await db.sql`alter table auth.users disable trigger nudge_capture_insert`;
    const doctor = await nudge(cwd, ['doctor']);
    expect(doctor.code).toBe(1);
    expect(doctor.out).toContain(
      '✗ Features           changed by hand: auth.users insert: trigger was disabled by hand',
    );
    const planned = await nudge(cwd, ['plan']);
    expect(planned.out).toMatch(/~ capture auth\.users insert/);
    expect(planned.out).toContain('! drift: trigger was disabled by hand');
    expect(planned.out).toContain('Drift repaired: 1.');
    await nudge(cwd, ['deploy', '--yes']);
    expect((await nudge(cwd, ['plan'])).out).toContain('No changes.');
  });

  it('drops the triggers of a removed feature as orphans', async () => {
    const file = path.join(cwd, 'nudge/features/order-paid.yaml');
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace('name: order-paid', 'name: order-paid\nstatus: draft'),
    );
    const planned = await nudge(cwd, ['plan']);
    expect(planned.out).toMatch(
      /- capture public\.orders update\s+orphan: no active feature uses it/,
    );
    expect(planned.out).toMatch(/- enrichment public\.orders → profile/);
    expect(planned.out).toContain('3 active, 1 draft (not deployed)');
    await nudge(cwd, ['deploy', '--yes']);
    const triggers =
      await db.sql`select tgname from pg_trigger where tgrelid = 'public.orders'::regclass and not tgisinternal`;
    expect(triggers.map((t) => t.tgname)).toEqual(['nudge_capture_insert']);
  });

  it('prints the change as SQL and exports a Supabase migration', async () => {
    const file = path.join(cwd, 'nudge/features/order-paid.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('status: draft\n', ''));
    const printed = await nudge(cwd, ['deploy', '--sql']);
    expect(printed.code).toBe(0);
    expect(printed.out).toContain('BEGIN;');
    expect(printed.out).toContain(
      'CREATE TRIGGER "nudge_capture_update" AFTER UPDATE ON "public"."orders"',
    );
    expect(printed.out).toContain('COMMIT;');
    const exported = await nudge(cwd, ['export', '--supabase']);
    expect(exported.out).toMatch(
      /✓ Wrote supabase\/migrations\/\d{14}_nudge_deploy\.sql|✓ Wrote .*supabase\/migrations\/\d{14}_nudge_deploy\.sql/,
    );
    const files = await readdir(path.join(cwd, 'supabase/migrations'));
    expect(files).toHaveLength(1);
    const migration = await readFile(path.join(cwd, 'supabase/migrations', files[0]!), 'utf8');
    expect(migration).not.toContain('BEGIN;');
    // Applying the exported migration gives the same result as deploy.
    await db.sql.unsafe(migration);
    expect((await nudge(cwd, ['plan'])).out).toContain('No changes.');
  });

  it('tears everything down', async () => {
    // The outbox still holds this project's captured changes (no engine ran): dropped only when asked.
    expect((await nudge(cwd, ['teardown', '--yes'])).code).toBe(1);
    const result = await nudge(cwd, ['teardown', '--yes', '--discard-unread']);
    expect(result.code).toBe(0);
    expect(result.out).toContain('Removed 3 triggers and schema nudge');
    expect(await nudgeSchemaExists()).toBe(false);
  });
});

describe('read-only access', () => {
  it('lets a role without CREATE analyze and plan, writes nothing, and makes deploy refuse', async () => {
    const { name: role, url: readerUrl } = await db.loginRole(
      'reader',
      'GRANT USAGE ON SCHEMA auth, storage TO {role}; REVOKE CREATE ON SCHEMA public FROM PUBLIC;',
    );
    const cwd = await project(
      'database_url: ${READER_URL}\naccess: read-only\n'.replace('access: read-only\n', ''),
    );
    await writeFile(
      path.join(cwd, 'nudge.yaml'),
      (await readFile(path.join(cwd, 'nudge.yaml'), 'utf8')).replace(
        'access: read-write',
        'access: read-only',
      ),
    );
    const env = { READER_URL: readerUrl };
    const [privileges] = await db.sql<{ create: boolean }[]>`
      select has_database_privilege(${role}, current_database(), 'CREATE') as create`;
    expect(privileges!.create).toBe(false);

    expect((await nudge(cwd, ['analyze'], env)).code).toBe(0);
    const planned = await nudge(cwd, ['plan'], env);
    expect(planned.err).toBe('');
    expect(planned.out).toContain('(read-only)');
    expect(planned.out).toContain('`nudge deploy --sql` prints this change');

    const refused = await nudge(cwd, ['deploy', '--yes'], env);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/access is read-only \(nudge\.yaml:\d+\): deploy refuses to write/);
    expect(await nudgeSchemaExists()).toBe(false);
    // That the server refuses any write these commands might send, even one
    // that looks like a read, is test/cli/read-only.test.ts.
  });
});
