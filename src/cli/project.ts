// What most commands start with: the loaded config and a connection to the
// user's database in the configured access mode, released in `finally`.
import { type LoadedConfig, loadConfig } from '../config/load.js';
import { NudgeError } from '../errors.js';
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
  throw new NudgeError(
    'no database configured',
    'set database_url in nudge.yaml or the DATABASE_URL environment variable (Supabase: Settings → Database → Connection string), or run `nudge dev` to try Nudge on an embedded database',
  );
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
