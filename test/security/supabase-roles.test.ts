// Supabase's API roles, `anon` and `authenticated`, reach nothing of Nudge's
// own state: not the engine store (nudge_engine) nor the job queue
// (nudge_worker, graphile-worker), on the Supabase-shaped fixture with its
// default privileges (objects the connecting role creates in `public` are
// granted to both roles; the engine store is created by that same role).
// Checked in the catalog and by trying, as each role.
import { beforeAll, describe, expect, it } from 'vitest';
import { ENGINE_SCHEMA, migrateEngine, WORKER_SCHEMA } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();
const ROLES = ['anon', 'authenticated'] as const;
const SCHEMAS = [ENGINE_SCHEMA, WORKER_SCHEMA];

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
});

describe('anon and authenticated', () => {
  it('have the defaults Supabase gives them in public, so the fixture is the real shape', async () => {
    await db.sql`create table public.probe_defaults (id int)`;
    for (const role of ROLES) {
      const [row] = await db.sql<{ select: boolean; insert: boolean }[]>`
        select has_table_privilege(${role}, 'public.probe_defaults', 'SELECT') as select,
               has_table_privilege(${role}, 'public.probe_defaults', 'INSERT') as insert`;
      expect(row).toEqual({ select: true, insert: true });
    }
    await db.sql`drop table public.probe_defaults`;
  });

  it('hold no privilege on the schemas and relations of nudge_engine and nudge_worker', async () => {
    const granted = await db.sql<{ what: string }[]>`
      with roles(name) as (select unnest(${ROLES as unknown as string[]}::text[])),
           schemas(name) as (select unnest(${SCHEMAS}::text[]))
      select r.name || ': ' || s.name || ' ' || p.privilege as what
        from roles r, schemas s, unnest(array['USAGE', 'CREATE']) p(privilege)
       where has_schema_privilege(r.name, s.name, p.privilege)
      union all
      select r.name || ': ' || n.nspname || '.' || c.relname || ' ' || p.privilege
        from roles r
        join pg_class c on c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
        join pg_namespace n on n.oid = c.relnamespace and n.nspname = any(${SCHEMAS})
       cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p(privilege)
       where c.relkind <> 'S' and has_table_privilege(r.name, c.oid, p.privilege)
          or c.relkind = 'S' and p.privilege = 'SELECT'
             and has_sequence_privilege(r.name, c.oid, 'USAGE,SELECT,UPDATE')
      order by 1`;
    expect(granted).toEqual([]);
    // The walk saw the tables it is about.
    const [counted] = await db.sql<{ engine: number; worker: number }[]>`
      select count(*) filter (where relnamespace = ${ENGINE_SCHEMA}::regnamespace)::int as engine,
             count(*) filter (where relnamespace = ${WORKER_SCHEMA}::regnamespace)::int as worker
        from pg_class where relkind in ('r', 'p')`;
    expect(counted!.engine).toBeGreaterThan(10);
    expect(counted!.worker).toBeGreaterThan(2);
  });

  it('are refused reading, writing and calling anything there', async () => {
    const tables = await db.sql<{ name: string }[]>`
      select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as name
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = any(${SCHEMAS}) and c.relkind in ('r', 'p', 'v')
       order by 1`;
    const functions = await db.sql<{ name: string }[]>`
      select p.oid::regprocedure::text as name from pg_proc p
       where p.pronamespace = any(${SCHEMAS}::regnamespace[]) and p.prokind = 'f'
       order by 1`;
    expect(tables.length).toBeGreaterThan(12);
    expect(functions.length).toBeGreaterThan(3);
    const attempts = [
      ...tables.flatMap(({ name }) => [
        `select * from ${name} limit 1`,
        `delete from ${name}`,
        `insert into ${name} default values`,
      ]),
      ...functions.map(({ name }) => `select ${name.replace(/\(.*$/, '')}()`),
    ];
    const allowed: string[] = [];
    for (const role of ROLES) {
      for (const statement of attempts) {
        const outcome = await db.sql
          .begin(async (tx) => {
            await tx.unsafe(`set local role ${role}`);
            await tx.unsafe(statement);
            return 'ran';
          })
          .catch((error: { code?: string }) => error.code);
        if (outcome !== '42501') allowed.push(`${role}: ${statement} → ${outcome}`);
      }
    }
    expect(allowed).toEqual([]);
  });
});
