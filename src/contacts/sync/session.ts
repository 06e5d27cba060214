// Opens what a sync needs from the project's config: the source (the database
// when a URL is set — "database mode" — else the Supabase HTTP APIs with the
// project URL and service-role key — "API mode") and the engine store the
// contacts are written to. Statements and requests are logged when asked;
// passwords and keys never are.
import type postgres from 'postgres';
import type { LoadedConfig } from '../../config/load.js';
import { openEngineStore } from '../../db/engine.js';
import { migrateEngine } from '../../db/migrate.js';
import { NudgeError, noDatabaseConfigured } from '../../errors.js';
import { openSource, redactUrl } from '../../source/connect.js';
import { makeSupabaseApi } from '../../source/supabase-api.js';
import { checkServiceKey } from '../../source/supabase-http.js';
import type { SyncLog } from './report.js';
import type { SyncSource } from './users.js';
import { readApiSchema, readDatabaseSchema, type SourceSchema } from './validate.js';

export interface SyncSession {
  engine: postgres.Sql;
  engineUrl: string;
  source: SyncSource;
  readSchema(schemas: string[]): Promise<SourceSchema>;
  close(): Promise<void>;
}

/** Every secret in the project's config: what the sync log must never print. */
export function projectSecrets(project: LoadedConfig): string[] {
  const supabase = project.supabase;
  const urls = [project.databaseUrl, project.config.engine?.database_url];
  const passwords = urls.flatMap((url) => {
    try {
      const password = url ? new URL(url).password : '';
      return password ? [password, decodeURIComponent(password)] : [];
    } catch {
      return [];
    }
  });
  return [supabase?.key, supabase?.anon_key, ...passwords].filter((s): s is string => !!s);
}

export async function openSyncSession(
  project: LoadedConfig,
  log: SyncLog,
  options: { concurrency: number; signal?: AbortSignal },
): Promise<SyncSession> {
  const supabase = project.supabase;
  if (supabase && !supabase.enabled) {
    throw new NudgeError(
      'connectors.supabase.enabled is false: nothing to sync',
      'set enabled: true under connectors.supabase',
    );
  }
  const engineUrl = project.config.engine?.database_url ?? project.databaseUrl;
  if (
    project.config.access === 'read-only' &&
    project.databaseUrl &&
    engineUrl === project.databaseUrl
  ) {
    throw new NudgeError(
      'access is read-only, and contacts live in the source database (schema nudge_engine)',
      'set engine.database_url to keep Nudge’s state in another database, or use access: read-write',
    );
  }
  let source: SyncSource;
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const closeOne of closers.reverse()) await closeOne().catch(() => {});
  };
  try {
    if (project.databaseUrl) {
      log.verbose(
        `source: database ${redactUrl(project.databaseUrl)} (${project.databaseUrlFrom})`,
      );
      const sql = await openSource({
        url: project.databaseUrl,
        readOnly: true,
        onQuery: (text) => log.query(text),
        max: 3,
      });
      closers.push(() => sql.end({ timeout: 5 }));
      source = { kind: 'database', sql, holdsEngine: engineUrl === project.databaseUrl };
    } else if (supabase?.project_url && supabase.key) {
      const key = checkServiceKey(supabase.key);
      if (key.outcome === 'fail') throw new NudgeError(key.message, key.fix);
      log.verbose(
        `source: Supabase APIs at ${supabase.project_url} with ${key.message}; no database URL, so API mode`,
      );
      source = {
        kind: 'api',
        api: makeSupabaseApi({
          projectUrl: supabase.project_url,
          key: supabase.key,
          rateLimit: {
            requestsPerSecond: supabase.rate_limit.requests_per_second,
            burst: supabase.rate_limit.burst,
          },
          onRequest: (line) => log.query(line),
          onWait: (wait) => {
            const seconds = `${(wait.ms / 1000).toFixed(wait.ms < 10_000 ? 1 : 0)}s`;
            const where = wait.path.split('?')[0];
            if (wait.reason === 'retry-after') {
              log.info(
                `Supabase answered 429 Too Many Requests at ${where}: waiting ${seconds} as its Retry-After asks`,
              );
            } else if (wait.reason === 'backoff') {
              log.info(`Supabase did not answer ${where} properly: trying again in ${seconds}`);
            } else log.debug(`rate limit: waiting ${seconds} before ${where}`);
          },
          ...(options.signal ? { signal: options.signal } : {}),
        }),
      };
    } else {
      // database_url: ${DATABASE_URL} with the variable unset: that is what to fix.
      throw project.databaseUrlUnset
        ? noDatabaseConfigured(project)
        : new NudgeError(
            'nothing to sync from: no database URL, and no Supabase project_url with an api_key',
            'set database_url (or DATABASE_URL), or connectors.supabase.project_url and api_key (the service_role key) for API mode',
          );
    }
    let engine: postgres.Sql;
    let lockUrl: string;
    if (engineUrl) {
      lockUrl = engineUrl;
      engine = await openSource({
        url: engineUrl,
        readOnly: false,
        onQuery: (text) => log.query(text),
        max: options.concurrency + 3,
      });
      closers.push(() => engine.end({ timeout: 5 }));
      await migrateEngine(engine, engineUrl);
      log.verbose(
        engineUrl === project.databaseUrl
          ? 'contacts: schema nudge_engine in the source database'
          : `contacts: separate database ${redactUrl(engineUrl)}`,
      );
    } else {
      const store = await openEngineStore(project, { max: options.concurrency + 3 });
      closers.push(() => store.close());
      engine = store.sql;
      lockUrl = store.url;
      log.verbose(`contacts: ${store.describe()}`);
    }
    return {
      engine,
      engineUrl: lockUrl,
      source,
      readSchema: (schemas) =>
        source.kind === 'database'
          ? readDatabaseSchema(source.sql)
          : readApiSchema(source.api, schemas),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
