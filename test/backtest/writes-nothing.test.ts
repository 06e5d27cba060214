// nudge backtest writes nothing, the engine store's schema included: on a
// database Nudge never ran on it makes no nudge_engine or nudge_worker
// schema, and on an engine store behind this version it applies no
// migration — it says which command does (src/backfill/session.ts).
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { engineMigrations } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();
let cwd: string;

beforeAll(async () => {
  await db.sql`create table public.accounts (
    id bigint primary key, email text not null, created_at timestamptz not null default now())`;
  await db.sql`insert into public.accounts (id, email) values (1, 'a@example.com'), (2, 'b@example.com')`;
  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-backtest-writes-'));
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  await writeFile(path.join(cwd, 'nudge.yaml'), '');
  await writeFile(
    path.join(cwd, 'nudge/features/welcome.yaml'),
    `name: welcome
trigger: { table: public.accounts, on: insert }
contact: { email: new.email }
stages:
  - name: hi
    do: [{ email: { template: hi } }]
`,
  );
});

/** Every schema and relation of the database, and the migrations the engine store records. */
async function snapshot() {
  const relations = await db.sql<{ schema: string; name: string; kind: string }[]>`
    select n.nspname as schema, c.relname as name, c.relkind as kind
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
     order by 1, 2`;
  const schemas = await db.sql<{ nspname: string }[]>`
    select nspname from pg_namespace where nspname not like 'pg_t%' order by 1`;
  const [recorded] = await db.sql<{ present: boolean }[]>`
    select to_regclass('nudge_engine.migrations') is not null as present`;
  const migrations = recorded?.present
    ? (
        await db.sql<{ version: number }[]>`select version from nudge_engine.migrations order by 1`
      ).map((r) => r.version)
    : [];
  return { schemas: schemas.map((s) => s.nspname), relations, migrations };
}

async function backtest() {
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  const code = await run(
    ['-c', path.join(cwd, 'nudge.yaml'), 'backtest', 'welcome', '--since', '30d'],
    m.io,
  );
  return { code, out: m.stdout(), err: m.stderr() };
}

describe('nudge backtest writes nothing', () => {
  it('on a database Nudge never ran on: no schema is made, nothing else changes', async () => {
    const before = await snapshot();
    expect(before.schemas).not.toContain('nudge_engine');
    expect(before.schemas).not.toContain('nudge_worker');
    const result = await backtest();
    expect(await snapshot()).toEqual(before);
    // Until src/backtest reads a missing store as empty (no kept events, no
    // contact book, real time: withFeatureSession's whenMissing: 'empty'),
    // the backtest refuses in words; either way it writes nothing.
    expect(result.err.split('\n')[0]).toBe(
      '✗ Nudge has not run on this database yet: there is no schema nudge_engine, and this command writes nothing to make one',
    );
    expect(result.err).toContain('`nudge deploy` or `nudge start` makes it');
    expect(result.err).not.toContain('unexpected');
    expect(result.code).toBe(1);
  });

  it('on an engine store behind this version: applies no migration, and names the command that does', async () => {
    // The store as an older Nudge left it: every migration but the last.
    const all = engineMigrations();
    const last = all.at(-1)!;
    await db.sql.begin(async (tx) => {
      await tx.unsafe(`CREATE SCHEMA nudge_engine;
        CREATE TABLE nudge_engine.migrations (
          version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      for (const migration of all.slice(0, -1)) {
        await tx.unsafe(migration.sql);
        await tx`insert into nudge_engine.migrations (version, name)
                 values (${migration.version}, ${migration.name})`;
      }
    });
    const before = await snapshot();
    const result = await backtest();
    expect(await snapshot()).toEqual(before);
    expect(before.migrations).not.toContain(last.version);
    expect(result.err.split('\n')[0]).toBe(
      `✗ the engine store (schema nudge_engine in the source database) is behind this version of Nudge: migration ${String(last.version).padStart(3, '0')}_${last.name} not applied`,
    );
    expect(result.err).toContain(
      'run `nudge deploy` (or `nudge start`), which brings it up to date',
    );
    expect(result.code).toBe(1);
  });
});
