// Engine-store migrations: numbered .sql files in ./migrations, forward-only,
// applied in one transaction under an advisory lock so two processes starting
// at once migrate once. graphile-worker's own schema is migrated alongside.
import { readdirSync, readFileSync } from 'node:fs';
import { Logger, runMigrations } from 'graphile-worker';
import pg from 'pg';
import type postgres from 'postgres';
import { lockKey } from './locks.js';
import { literal } from './quote.js';
import { ENGINE_SCHEMA, WORKER_SCHEMA } from './schemas.js';
import { pgConnection } from './tls-pg.js';

export { ENGINE_SCHEMA, WORKER_SCHEMA };

const DIR = new URL('./migrations/', import.meta.url);

export function engineMigrations() {
  return readdirSync(DIR)
    .filter((file) => /^\d{3}_.+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 3)),
      name: file.slice(4, -4),
      sql: readFileSync(new URL(file, DIR), 'utf8'),
    }));
}

/** Brings the engine store up to date; returns the versions it applied. */
export async function migrateEngine(sql: postgres.Sql, url: string): Promise<number[]> {
  const applied = await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${tx.unsafe(lockKey('migrate'))})`;
    await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS ${ENGINE_SCHEMA};
      CREATE TABLE IF NOT EXISTS ${ENGINE_SCHEMA}.migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set(
      (await tx<{ version: number }[]>`select version from nudge_engine.migrations`).map(
        (r) => r.version,
      ),
    );
    const versions: number[] = [];
    for (const migration of engineMigrations()) {
      if (done.has(migration.version)) continue;
      await tx.unsafe(migration.sql);
      await tx.unsafe(
        `INSERT INTO ${ENGINE_SCHEMA}.migrations (version, name) VALUES (${migration.version}, ${literal(migration.name)})`,
      );
      versions.push(migration.version);
    }
    return versions;
  });
  // On a pool of its own, to give node-postgres the URL's TLS (tls-pg.ts).
  const pool = new pg.Pool({ ...(await pgConnection(url)), max: 2 });
  const ignore = () => {}; // a failure reaches runMigrations' caller as its rejection
  pool.on('error', ignore);
  pool.on('connect', (client) => client.on('error', ignore));
  try {
    await runMigrations({ pgPool: pool, schema: WORKER_SCHEMA, logger: quietLogger() });
  } finally {
    await pool.end();
  }
  return applied;
}

/** graphile-worker logs through this; warnings and errors only. */
export function quietLogger(onLine?: (level: string, message: string) => void): Logger {
  return new Logger(() => (level, message) => {
    if (level === 'error' || level === 'warning') onLine?.(level, message);
  });
}
