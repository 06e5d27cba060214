// The demo database `nudge dev` and a URL-less `nudge start` run on: a
// Supabase-shaped database with the demo app's tables, on the embedded server
// under .nudge/. Created once and kept between runs (`fresh` starts it over);
// the app's tables (demo.sql) are brought up to date on every open. And the
// bundled demo project's master key, which lives in the folder, not in the
// package beside the demo's nudge.yaml.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import type { LoadedConfig } from '../config/load.js';
import type { EngineStore } from '../db/engine.js';
import { lockKey } from '../db/locks.js';
import { keyFilePath, masterKey } from '../db/secrets.js';
import { NudgeError } from '../errors.js';
import { type EmbeddedServer, runningUrl, startEmbedded } from './embedded.js';
import { createSupabaseDatabase, installSupabaseRoles } from './supabase.js';

export const DEMO_DATABASE = 'nudge_demo';

/** The bundled demo project's nudge.yaml, which `nudge dev` runs when the folder has none. */
export const DEMO_CONFIG = fileURLToPath(
  new URL('../../examples/demo/nudge.yaml', import.meta.url),
);

/** Where demoMasterKey keeps the key: the folder's .nudge, or the package's while only it has one. */
export function demoKeyDir(folder: string): string {
  const earlier = path.dirname(DEMO_CONFIG);
  const inPackage = !existsSync(keyFilePath(folder)) && existsSync(keyFilePath(earlier));
  return inPackage ? earlier : folder;
}

/**
 * The bundled demo's master key, for `nudge dev` in a folder without a
 * nudge.yaml: the folder's .nudge/secret.key (made on first use), beside the
 * demo database (.nudge/pg) whose secrets it encrypts, where the other
 * commands run in that folder look for it. Not beside the demo's nudge.yaml,
 * in Nudge's package: for an `npm -g` install a folder every user shares,
 * that an upgrade replaces, and that may be read-only. A key an earlier
 * Nudge made there is read while the folder has none, so that the secrets
 * stored with it still decrypt; nothing is written there.
 */
export function demoMasterKey(folder: string): Buffer {
  const dir = demoKeyDir(folder);
  try {
    return masterKey({ dir, env: {} });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!code) throw error; // the key file's own errors say where and what to do
    throw new NudgeError(
      `cannot read or make the demo's master key ${keyFilePath(dir)} (${code})`,
      'run nudge dev in a folder you can write, or set NUDGE_SECRET_KEY (openssl rand -base64 32)',
    );
  }
}

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
  let guard: postgres.ReservedSql | undefined;
  const guardPool = options.exclusive
    ? postgres(server.url(), { onnotice: () => {}, max: 1 })
    : undefined;
  const release = async () => {
    guard?.release();
    await guardPool?.end({ timeout: 1 });
  };
  try {
    if (guardPool) {
      // A session lock on a reserved connection: the pool never recycles it.
      guard = await guardPool.reserve();
      const [held] = await guard<{ ok: boolean }[]>`
        select pg_try_advisory_lock(${guard.unsafe(lockKey('dev'))}) as ok`;
      if (!held?.ok) {
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
 * process at a time (an advisory lock), as two `nudge dev` may share a server.
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
