// What most commands start with: the loaded config and a connection to the
// user's database in the configured access mode, released in `finally`; or
// the engine store, saying so when it is the embedded demo database.
import path from 'node:path';
import { type LoadedConfig, loadConfig } from '../config/load.js';
import type { EngineStore, openEngineStore } from '../db/engine.js';
import { noDatabaseConfigured } from '../errors.js';
import { loadFeatures, unknownFeatureText } from '../features/load.js';
import { openSource, type Sql } from '../source/connect.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';

export function loadProject(options: GlobalOptions, io: Io): Promise<LoadedConfig> {
  return loadConfig({
    ...(options.config ? { configPath: options.config } : {}),
    cwd: io.cwd,
    env: io.env,
  });
}

export function requireDatabaseUrl(project: LoadedConfig): string {
  if (project.databaseUrl) return project.databaseUrl;
  throw noDatabaseConfigured();
}

export interface SourceSession {
  sql: Sql;
  readOnly: boolean;
  url: string;
}

/** Runs `fn` with a connection to the source; read-only when the config says so. */
export async function withSource<T>(
  project: LoadedConfig,
  fn: (session: SourceSession) => Promise<T>,
  options: { onQuery?: (text: string) => void } = {},
): Promise<T> {
  const url = requireDatabaseUrl(project);
  const readOnly = project.config.access === 'read-only';
  const sql = await openSource({
    url,
    readOnly,
    ...(options.onQuery ? { onQuery: options.onQuery } : {}),
  });
  try {
    return await fn({ sql, readOnly, url });
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * The engine store (openEngineStore), and with no database URL set a line on
 * stderr saying that it is the embedded demo database found in .nudge/pg —
 * left by nudge dev or a URL-less nudge start — so that what a command shows
 * or changes is not taken for the database the user meant (DATABASE_URL not
 * exported, say). Nothing is said when the store is engine.database_url.
 * engine.js is loaded here, not by every command that loads a project.
 */
export async function openProjectStore(
  project: LoadedConfig,
  io: Io,
  options: Parameters<typeof openEngineStore>[1] = {},
): Promise<EngineStore> {
  const engine = await import('../db/engine.js');
  const store = await engine.openEngineStore(project, options);
  if (store.where === 'embedded') {
    const dataDir = path.resolve(options.dataDir ?? path.join(project.dir, '.nudge', 'pg'));
    const relative = path.relative(io.cwd, dataDir);
    const shown = relative && !relative.startsWith('..') ? relative : dataDir;
    io.err(io.colors.dim(`Using the embedded demo database in ${shown} (no database URL set).`));
  }
  return store;
}

/**
 * `; no feature named "<name>" in <dir> (features: a, b)` when no feature
 * file has this name, else '': for the commands that filter by a feature's
 * name and would otherwise show a typo as a feature with nothing to show
 * (pause and backfill refuse one with the same words). A feature file with
 * errors leaves it unsaid (plan says which).
 */
export async function unknownFeature(project: LoadedConfig, name: string): Promise<string> {
  const features = await loadFeatures(project.featuresDir, project.env, project.cwd).catch(
    () => undefined,
  );
  const text = features && unknownFeatureText(features, name, project.featuresDir);
  return text ? `; ${text}` : '';
}
