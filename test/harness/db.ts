// A fresh Supabase-shaped database per test file, cloned from the template the
// global setup built: `const db = useDatabase()` then `db.sql` in tests.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, inject } from 'vitest';
import { ident } from '../../src/db/quote.js';
import { createSupabaseDatabase } from '../../src/dev/supabase.js';

export const TEMPLATE = 'nudge_template';

export interface TestDatabase {
  name: string;
  /** Connection URL as the superuser `postgres`. */
  url: string;
  /** URL for database `name` on the same server as another role. */
  urlAs(role: string, password: string): string;
  /** A superuser connection to this database. */
  sql: postgres.Sql;
  /** A superuser connection to the server's `postgres` database. */
  admin: postgres.Sql;
  /**
   * A LOGIN role (password `pw`) that can connect to this database and do
   * only what `grants` (SQL, `{role}` standing for its name) allow. Roles are
   * cluster-wide, so the name is unique; it is dropped with the database.
   */
  loginRole(prefix: string, grants?: string): Promise<{ name: string; url: string }>;
}

export function serverUrl(database = 'postgres'): string {
  return `postgres://postgres:postgres@127.0.0.1:${inject('pgPort')}/${database}`;
}

export async function createTestDatabase(): Promise<TestDatabase & { drop(): Promise<void> }> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = postgres(serverUrl(), { onnotice: () => {}, max: 1 });
  await createSupabaseDatabase(admin, name, {
    template: TEMPLATE,
    connect: (db) => postgres(serverUrl(db)),
  });
  const url = serverUrl(name);
  const sql = postgres(url, { onnotice: () => {}, max: 4 });
  const roles: string[] = [];
  const urlAs = (role: string, password: string) =>
    `postgres://${encodeURIComponent(role)}:${encodeURIComponent(password)}@127.0.0.1:${inject('pgPort')}/${name}`;
  return {
    name,
    url,
    urlAs,
    sql,
    admin,
    async loginRole(prefix, grants = '') {
      const role = `${prefix}_${randomBytes(4).toString('hex')}`;
      roles.push(role);
      await sql.unsafe(`CREATE ROLE ${ident(role)} LOGIN PASSWORD 'pw';
        GRANT CONNECT ON DATABASE ${ident(name)} TO ${ident(role)};
        ${grants.replaceAll('{role}', ident(role))}`);
      return { name: role, url: urlAs(role, 'pw') };
    },
    async drop() {
      await sql.end();
      await admin.unsafe(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
      for (const role of roles) await admin.unsafe(`DROP ROLE IF EXISTS ${ident(role)}`);
      await admin.end();
    },
  };
}

/** Registers a fresh database for the current test file. */
export function useDatabase(): TestDatabase {
  const holder = {} as TestDatabase & { drop(): Promise<void> };
  beforeAll(async () => {
    Object.assign(holder, await createTestDatabase());
  });
  afterAll(async () => {
    await holder.drop?.();
  });
  return holder;
}

/** Past 2^31: where an int4 id would have overflowed (an inbox fed 100 events a second gets there in about eight months). */
export const PAST = 2 ** 31 + 1000;

/**
 * Restarts every sequence of the schemas Nudge writes per event (nudge,
 * nudge_engine) at `at`, so that the ids a test makes next are past it; the
 * sequences' names.
 */
export async function restartSequencesPast(sql: postgres.Sql, at = PAST): Promise<string[]> {
  const sequences = await sql<{ name: string }[]>`
    select format('%I.%I', n.nspname, s.relname) as name
      from pg_class s join pg_namespace n on n.oid = s.relnamespace
     where s.relkind = 'S' and n.nspname in ('nudge', 'nudge_engine')`;
  for (const { name } of sequences) await sql.unsafe(`alter sequence ${name} restart with ${at}`);
  return sequences.map((s) => s.name);
}
