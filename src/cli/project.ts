// What most commands start with: the loaded config and a connection to the
// user's database in the configured access mode, released in `finally`; or
// the engine store, saying so when it is the embedded demo database.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type LoadedConfig, loadConfig } from '../config/load.js';
import { displayPath } from '../config/yaml.js';
import type { EngineStore, openEngineStore } from '../db/engine.js';
import { NoDatabaseError, type NudgeError, noDatabaseConfigured } from '../errors.js';
import { noSuchFeature, readFeatureFiles, unknownFeatureText } from '../features/load.js';
import { openSource, type Sql } from '../source/connect.js';
import type { Io } from './io.js';
import type { GlobalOptions } from './program.js';

/**
 * The project of the working directory (or --config). `database_url: ${VAR}`
 * with VAR unset (nudge init writes `${DATABASE_URL}`) is no URL only where
 * nudge dev has left its embedded database (.nudge/pg of the working
 * directory or of the project): the commands on Nudge's state use it, the
 * others say which URL to export (noDatabase). Anywhere else — a server
 * that was meant to have the variable — it is the error naming the
 * variable at its line, before the command does anything.
 */
export async function loadProject(
  options: GlobalOptions,
  io: Io,
  /** Reports a missing URL itself (doctor, on its Database line, after the other checks). */
  { unsetIsReported = false }: { unsetIsReported?: boolean } = {},
): Promise<LoadedConfig> {
  const project = await loadConfig({
    ...(options.config ? { configPath: options.config } : {}),
    cwd: io.cwd,
    env: io.env,
  });
  const unset = project.databaseUrlUnset;
  if (
    unset &&
    !unsetIsReported &&
    !demoDataDirs(project).some((dir) => existsSync(path.join(dir, 'PG_VERSION')))
  ) {
    throw unset.error;
  }
  return project;
}

/** Where nudge dev keeps its embedded database, seen from this project: .nudge/pg of the working directory and of the project. */
function demoDataDirs(project: LoadedConfig): string[] {
  return [...new Set([project.cwd, project.dir])].map((base) => path.join(base, '.nudge', 'pg'));
}

/**
 * What a command that needs a database URL says when there is none
 * (noDatabaseConfigured), with the URL to export when a `nudge dev` is found
 * running on .nudge/pg of the working directory or of the project (run
 * there, with --config pointing elsewhere: the URL it printed was not
 * exported in this terminal). Its modules load only here.
 */
export async function noDatabase(project: LoadedConfig): Promise<NudgeError> {
  const { runningDemoUrl } = await import('../dev/demo.js');
  let running: { devUrl: string; devDir: string } | undefined;
  for (const dataDir of demoDataDirs(project)) {
    const devUrl = await runningDemoUrl(dataDir);
    if (devUrl) {
      running = { devUrl, devDir: displayPath(dataDir, project.cwd) };
      break;
    }
  }
  return noDatabaseConfigured(project, running);
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
  const url = project.databaseUrl;
  if (!url) throw await noDatabase(project);
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
  const store = await engine.openEngineStore(project, options).catch(async (error: unknown) => {
    throw error instanceof NoDatabaseError ? await noDatabase(project) : error;
  });
  if (store.where === 'embedded') {
    const dataDir = path.resolve(options.dataDir ?? path.join(project.dir, '.nudge', 'pg'));
    const unset = project.databaseUrlUnset;
    const why = unset
      ? `${unset.variable}, which database_url in ${unset.error.place.file} reads, is not set`
      : 'no database URL set';
    io.err(
      io.colors.dim(
        `Using the embedded demo database in ${displayPath(dataDir, io.cwd)} (${why}).`,
      ),
    );
  }
  return store;
}

/**
 * `; no feature named "<name>" in <dir> (features: a, b)` when no feature
 * file has this name, else '': for a command that shows nothing for a name
 * of a feature since removed from its file, and says so.
 */
export async function unknownFeature(project: LoadedConfig, name: string): Promise<string> {
  const features = await projectFeatures(project);
  const text = features && unknownFeatureText(features, name, project.featuresDir);
  return text ? `; ${text}` : '';
}

/**
 * Refuses a feature name given to filter by (`logs --feature`) that no
 * feature file has and `recorded` finds nothing of: a typo, which would
 * otherwise read as a quiet feature. The error pause and report give for an
 * unknown name (exit 1), as the API answers 422 for it
 * (server/api/feature-filter.ts). A feature since removed from its file
 * still shows what it left behind.
 */
export async function refuseUnknownFeature(
  project: LoadedConfig,
  name: string,
  recorded: (name: string) => Promise<boolean>,
): Promise<void> {
  const features = await projectFeatures(project);
  if (!features || features.some((f) => f.name === name) || (await recorded(name))) return;
  throw noSuchFeature(features, name, project.featuresDir);
}

/**
 * The project's features, with what could be read of files that have
 * problems (a name is checked against those too, not left unchecked because
 * another file has a typo); undefined when the folder cannot be read or a
 * file could not be read at all.
 */
async function projectFeatures(project: LoadedConfig) {
  try {
    const files = await readFeatureFiles(project.featuresDir, project.env, project.cwd);
    const read = [...files.features, ...files.incomplete];
    // A file that gave nothing (a YAML syntax error) may hold the name asked for.
    const readFiles = new Set(read.map((f) => f.source.file));
    if (files.errors.some((e) => !readFiles.has(e.place.file))) return undefined;
    return read;
  } catch {
    return undefined;
  }
}
