// `nudge analyze` against the Supabase-shaped fixture plus tables with a foreign
// key to auth.users, RLS, triggers (one of them Nudge's, disabled), publication
// membership and a quoted name; text, JSON, --schema, and a read-only role.
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { useDatabase } from '../harness/db.js';
import { tempProject } from '../harness/project.js';

const db = useDatabase();
let reader: string;

beforeAll(async () => {
  await db.sql.unsafe(`
    create table public.profiles (
      id uuid primary key references auth.users (id) on delete cascade,
      full_name text, plan text default 'free');
    create table public.orders (
      id bigint generated always as identity primary key,
      user_id uuid not null references auth.users (id),
      total numeric(10,2), status text);
    alter table public.orders enable row level security;
    create function public.touch() returns trigger language plpgsql as $$ begin return new; end $$;
    create trigger orders_touch before update on public.orders
      for each row execute function public.touch();
    create schema nudge;
    create function nudge.capture() returns trigger language plpgsql as $$ begin return null; end $$;
    create trigger nudge_capture after insert or update or delete on public.orders
      for each row execute function nudge.capture();
    alter table public.orders disable trigger nudge_capture;
    alter publication supabase_realtime add table public.orders;
    create publication everything for all tables;
    create schema "my-app";
    create table "my-app"."Order Items" ("order id" bigint, "select" text);
    insert into "my-app"."Order Items" values (1, 'a'), (2, 'b');
    insert into auth.users (id, email) select gen_random_uuid(), 'u' || i || '@example.com'
      from generate_series(1, 3) i;
    insert into public.profiles (id) select id from auth.users;
    insert into public.orders (user_id, total) select id, 10 from auth.users;
    insert into public.orders (user_id, total) select id, 20 from auth.users limit 2;
    analyze public.orders;
  `);
  reader = (
    await db.loginRole(
      'analyze_reader',
      'grant usage on schema public to {role}; grant select on public.orders to {role};',
    )
  ).name;
});

async function analyze(args: string[] = [], options: { url?: string; yaml?: string } = {}) {
  const cwd = await tempProject(
    options.yaml ? { 'nudge.yaml': options.yaml } : {},
    'nudge-analyze-',
  );
  const m = memoryIo({ cwd, env: { DATABASE_URL: options.url ?? db.url } });
  const code = await run(['analyze', ...args], m.io);
  return { code, out: m.stdout(), err: m.stderr(), lines: m.stdout().split('\n') };
}

describe('nudge analyze', () => {
  it('prints tables by schema with keys, RLS, rows, triggers and publications', async () => {
    const { code, out, lines, err } = await analyze();
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(lines[0]).toMatch(
      /^Database t_\w+ {2}PostgreSQL \d+\.\d+, role postgres \(superuser\) {2}postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/t_\w+$/,
    );
    expect(lines).toContain('public  2 tables');
    expect(lines).toContain('  public.orders  table · RLS on · ~5 rows · owner postgres');
    expect(lines).toContain(
      '  public.profiles  table · RLS off · 3 rows (counted) · owner postgres',
    );
    expect(lines).toContain('    id         uuid  primary key, → auth.users(id) on delete cascade');
    expect(lines).toContain(
      '    user_id  uuid           not null, → auth.users(id) on delete no action',
    );
    expect(lines).toContain('    total    numeric(10,2)');
    expect(lines).toContain(
      '      nudge_capture  AFTER INSERT OR UPDATE OR DELETE  FOR EACH ROW  nudge.capture()  disabled  Nudge',
    );
    expect(lines).toContain(
      '      orders_touch   BEFORE UPDATE                     FOR EACH ROW  public.touch()   enabled',
    );
    expect(lines).toContain('    publications everything, supabase_realtime');
    expect(lines).toContain(
      '  "my-app"."Order Items"  table · RLS off · 2 rows (counted) · owner postgres',
    );
    expect(lines).toContain('    order id  bigint');
    expect(lines).toContain('graphql_public  no tables');
    // Nudge's own schema is not the user's: its triggers show on user tables, the schema does not.
    expect(lines.some((line) => line.startsWith('nudge'))).toBe(false);
    expect(lines).toContain('  wal_level  logical');
    expect(lines).toContain(
      '  publication everything         INSERT, UPDATE, DELETE, TRUNCATE  FOR ALL TABLES',
    );
    expect(lines).toContain(
      '  publication supabase_realtime  INSERT, UPDATE, DELETE, TRUNCATE  1 table: public.orders',
    );
    expect(out).toMatch(
      /\n {2}pg_net\s+-\s+not installed; not available on this server \(needed only for capture: webhook\)\n/,
    );
    expect(lines.at(-1)).toBe(
      'Summary  6 schemas · 7 tables (3 without RLS) · 3 tables referencing auth.users · ' +
        '4 triggers (1 Nudge), 1 disabled · pg_net not installed · wal_level logical · supabase_realtime: 1 table',
    );
  });

  it('prints one JSON document with the documented shape', async () => {
    const { code, out } = await analyze(['--json']);
    expect(code).toBe(0);
    const doc = JSON.parse(out);
    expect(doc.version).toBe(1);
    expect(doc.url).not.toContain(':postgres@');
    expect(doc.schemas.map((s: { name: string }) => s.name)).toEqual([
      'auth',
      'extensions',
      'graphql_public',
      'my-app',
      'public',
      'storage',
    ]);
    const publicSchema = doc.schemas.find((s: { name: string }) => s.name === 'public');
    const orders = publicSchema.tables.find((t: { table: string }) => t.table === 'orders');
    expect(orders).toMatchObject({
      schema: 'public',
      table: 'orders',
      kind: 'table',
      rls: true,
      owner: 'postgres',
      primaryKey: ['id'],
      rows: { value: 5, source: 'estimate' },
      authUserReferences: [
        {
          constraint: 'orders_user_id_fkey',
          columns: ['user_id'],
          references: ['id'],
          onDelete: 'no action',
        },
      ],
      publications: ['everything', 'supabase_realtime'],
      access: { select: true, trigger: true, rlsApplies: false },
    });
    expect(orders.columns[2]).toEqual({
      name: 'total',
      type: 'numeric(10,2)',
      typeName: 'numeric',
      notNull: false,
      generated: false,
    });
    expect(orders.triggers).toEqual([
      {
        name: 'nudge_capture',
        timing: 'AFTER',
        events: ['INSERT', 'UPDATE', 'DELETE'],
        level: 'ROW',
        function: { schema: 'nudge', name: 'capture' },
        state: 'disabled',
        fires: false,
        nudge: true,
      },
      {
        name: 'orders_touch',
        timing: 'BEFORE',
        events: ['UPDATE'],
        level: 'ROW',
        function: { schema: 'public', name: 'touch' },
        state: 'enabled',
        fires: true,
        nudge: false,
      },
    ]);
    const users = doc.schemas[0].tables.find((t: { table: string }) => t.table === 'users');
    expect(users.rows).toEqual({ value: 3, source: 'count' });
    expect(doc.pgNet).toEqual({ installed: false, version: null, available: false });
    expect(doc.extensions.map((e: { name: string }) => e.name)).toEqual([
      'pgcrypto',
      'plpgsql',
      'uuid-ossp',
    ]);
    expect(doc.database).toMatchObject({ role: 'postgres', superuser: true, walLevel: 'logical' });
    expect(doc.publications).toEqual([
      {
        name: 'everything',
        allTables: true,
        operations: ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'],
        tables: [],
      },
      {
        name: 'supabase_realtime',
        allTables: false,
        operations: ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'],
        tables: [{ schema: 'public', table: 'orders' }],
      },
    ]);
    expect(doc.nudgeSchema).toEqual({ exists: true, owner: 'postgres', usable: true });
    expect(doc.summary).toMatchObject({
      tables: 7,
      nudgeTriggers: 1,
      disabledTriggers: 1,
      realtime: 1,
    });
  });

  it('limits the output to --schema and names an unknown schema', async () => {
    const only = await analyze(['--schema', 'public', '--json']);
    expect(JSON.parse(only.out).schemas.map((s: { name: string }) => s.name)).toEqual(['public']);

    const typo = await analyze(['--schema', 'pubic']);
    expect(typo.code).toBe(1);
    expect(typo.err).toContain('✗ no schema "pubic" (did you mean "public"?)');
    expect(typo.err).toMatch(
      /hint: schemas in this database: auth, extensions, graphql_public, my-app, public, storage/,
    );
  });

  it('works read-only as a role without CREATE, reporting what it cannot read', async () => {
    const yaml = 'access: read-only\n';
    const url = db.urlAs(reader, 'pw');
    const json = await analyze(['--json'], { url, yaml });
    expect(json.err).toBe('');
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.out);
    expect(doc.database).toMatchObject({ role: reader, superuser: false, canCreateSchema: false });
    const tables = doc.schemas.find((s: { name: string }) => s.name === 'public').tables;
    expect(tables.find((t: { table: string }) => t.table === 'orders').access).toEqual({
      select: true,
      trigger: false,
      rlsApplies: true,
    });
    expect(tables.find((t: { table: string }) => t.table === 'profiles').rows).toEqual({
      value: null,
      source: 'unknown',
    });

    const text = await analyze([], { url, yaml });
    expect(text.code).toBe(0);
    expect(text.lines).toContain(
      `  public.profiles  table · RLS off · rows unknown (never analyzed, not readable) · owner postgres · not readable by ${reader}`,
    );
    expect(text.lines).toContain('  public.orders  table · RLS on · ~5 rows · owner postgres');
  });
});
