// The demo database `nudge dev` and a URL-less `nudge start` run on: a
// Supabase-shaped database with the demo app's tables, on the embedded server
// under .nudge/. Created once and kept between runs (`fresh` starts it over);
// the app's tables (demo.sql) are brought up to date on every open. And where
// the bundled demo project's nudge.yaml is.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import type { LoadedConfig } from '../config/load.js';
import type { EngineStore } from '../db/engine.js';
import { lockKey } from '../db/locks.js';
import { type HeldLock, holdSessionLock } from '../db/session-lock.js';
import { NudgeError } from '../errors.js';
import { type EmbeddedServer, runningUrl, startEmbedded } from './embedded.js';
import { createSupabaseDatabase, installSupabaseRoles } from './supabase.js';

export const DEMO_DATABASE = 'nudge_demo';

/** The bundled demo project's nudge.yaml, which `nudge dev` runs when the folder has none. */
export const DEMO_CONFIG = fileURLToPath(
  new URL('../../examples/demo/nudge.yaml', import.meta.url),
);

/**
 * Whether the engine store is nudge dev's demo database: the one whose clock
 * moves without asking (`nudge clock advance` and `reset` need no --yes, the
 * dashboard has a clock). Anywhere else a moved clock fires every running
 * engine's waits, cooldowns and schedules early for real contacts.
 *
 * The store is the demo's when it is the source database of the embedded
 * server (a URL-less `nudge start` or command) or of `nudge dev` (its
 * project says so: databaseUrlFrom; the dashboard's tests run a project so
 * marked on a database of another name), or when it is the demo database by
 * name (the URL nudge dev prints, exported for the other commands). A
 * separate store (engine.database_url) counts only by name: that the source
 * is the demo says nothing of the clock kept elsewhere.
 */
export async function isDemoStore(
  store: Pick<EngineStore, 'sql' | 'where'>,
  project: Pick<LoadedConfig, 'databaseUrlFrom'>,
): Promise<boolean> {
  if (store.where === 'embedded') return true;
  if (store.where === 'source') return isDemoSource(store.sql, project);
  return isNamedDemo(store.sql);
}

/**
 * Whether the source database (`sql`) is nudge dev's demo database: `nudge
 * dev`'s own project says so (databaseUrlFrom), or its name does (the URL
 * nudge dev prints, exported for the other commands — `nudge doctor` among
 * them).
 */
export async function isDemoSource(
  sql: postgres.Sql,
  project: Pick<LoadedConfig, 'databaseUrlFrom'>,
): Promise<boolean> {
  return project.databaseUrlFrom === 'nudge dev' || isNamedDemo(sql);
}

async function isNamedDemo(sql: postgres.Sql): Promise<boolean> {
  const [row] = await sql<{ name: string }[]>`select current_database() as name`;
  return row?.name === DEMO_DATABASE;
}

/** The demo database's URL on the server running on `dataDir` (a nudge dev's, say), if one runs there. */
export function runningDemoUrl(dataDir: string): Promise<string | undefined> {
  return runningUrl(dataDir, DEMO_DATABASE);
}

export interface DemoDatabase {
  server: EmbeddedServer;
  url: string;
  /** True when this run created the database. */
  created: boolean;
  /** Lets another `nudge dev` open it (exclusive); nothing to do otherwise. */
  release(): Promise<void>;
}

/**
 * The demo database on the embedded server under `dataDir`, started or
 * reused. `exclusive` (nudge dev): refused while another `nudge dev` has it
 * — two would play the story twice into one database and fight over the
 * stand-ins' port — and held until release(). Checked before `fresh` drops
 * anything, on the server's own database, which `fresh` never drops. Other
 * processes (a URL-less `nudge start`, the CLI's commands) share it freely.
 */
export async function openDemoDatabase(
  dataDir: string,
  port?: number,
  options: { fresh?: boolean; exclusive?: boolean } = {},
): Promise<DemoDatabase> {
  const server = await startEmbedded({
    dataDir: path.resolve(dataDir),
    persistent: true,
    ...(port ? { port } : {}),
  });
  const admin = postgres(server.url(), { onnotice: () => {}, max: 1 });
  let guard: HeldLock | undefined;
  const release = async () => {
    await guard?.release();
  };
  try {
    if (options.exclusive) {
      guard = await holdSessionLock(server.url(), 'dev', { applicationName: 'nudge dev' });
      if (!guard) {
        throw new NudgeError(
          `nudge dev already runs on the embedded PostgreSQL in ${dataDir} (another terminal?)`,
          'use that one (its dashboard link is in its terminal), stop it with Ctrl-C first, or give this one its own server with --data-dir <dir>',
        );
      }
    }
    if (options.fresh) await admin.unsafe(`DROP DATABASE IF EXISTS ${DEMO_DATABASE} WITH (FORCE)`);
    const [exists] = await admin<{ n: number }[]>`
      select count(*)::int as n from pg_database where datname = ${DEMO_DATABASE}`;
    if (!exists?.n) {
      await installSupabaseRoles(admin);
      await createSupabaseDatabase(admin, DEMO_DATABASE, {
        connect: (db) => postgres(server.url(db), { onnotice: () => {}, max: 1 }),
      });
    }
    await applyDemoTables(server.url(DEMO_DATABASE));
    return { server, url: server.url(DEMO_DATABASE), created: !exists?.n, release };
  } catch (error) {
    await release();
    await server.stop();
    throw error;
  } finally {
    await admin.end({ timeout: 1 });
  }
}

/**
 * The demo app's tables (demo.sql), created or brought up to date; one
 * process at a time (an advisory lock), as a `nudge dev` and a URL-less
 * `nudge start` may share a server.
 */
export async function applyDemoTables(url: string): Promise<void> {
  const demo = postgres(url, { onnotice: () => {}, max: 1 });
  try {
    const text = await readFile(new URL('./demo.sql', import.meta.url), 'utf8');
    await demo.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${tx.unsafe(lockKey('demoTables'))})`;
      await tx.unsafe(text);
    });
  } finally {
    await demo.end();
  }
}
