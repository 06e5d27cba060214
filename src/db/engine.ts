// Where Nudge keeps its own state (see DESIGN.md "Two databases, one default"):
// schema nudge_engine of the source database when a database URL is set; a
// separate Postgres when engine.database_url is set; the embedded server under
// .nudge/ (with the demo database as the source) when no URL is given at all.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type postgres from 'postgres';
import type { LoadedConfig } from '../config/load.js';
import { openDemoDatabase } from '../dev/demo.js';
import { type EmbeddedServer, reuseNote } from '../dev/embedded.js';
import { NudgeError, noDatabaseConfigured } from '../errors.js';
import { openSource, redactUrl } from '../source/connect.js';
import { migrateEngine } from './migrate.js';

export interface EngineStore {
  sql: postgres.Sql;
  url: string;
  /** The user's database, for capture and scheduled features. */
  sourceUrl: string;
  /** The source database, engine.database_url, or the embedded demo database (no URL given). */
  where: 'source' | 'separate' | 'embedded';
  describe(): string;
  close(): Promise<void>;
}

export async function openEngineStore(
  project: LoadedConfig,
  options: {
    dataDir?: string;
    max?: number;
    /**
     * Without a database URL, make the embedded database when there is none
     * yet (nudge start). Other commands only open one that exists: a new,
     * empty one beside nudge.yaml would answer "no decisions" about the
     * database the user meant (nudge dev's, say, when DATABASE_URL was not
     * exported).
     */
    createEmbedded?: boolean;
    /**
     * false: the caller migrates the store (migrateEngine) once it has
     * decided to write (`nudge clock` refuses first, having written nothing).
     */
    migrate?: boolean;
  } = {},
): Promise<EngineStore> {
  // Read-only access writes nothing to the user's database, and the engine
  // store writes (its schema, then its state): it must live elsewhere.
  if (
    project.databaseUrl &&
    !project.config.engine?.database_url &&
    project.config.access === 'read-only'
  ) {
    throw new NudgeError(
      'access is read-only, and Nudge’s state would live in the source database (schema nudge_engine)',
      'set engine.database_url to keep Nudge’s state in another database, or use access: read-write',
    );
  }
  let embedded: EmbeddedServer | undefined;
  let sourceUrl = project.databaseUrl;
  if (!sourceUrl) {
    const dataDir = options.dataDir ?? `${project.dir}/.nudge/pg`;
    if (!options.createEmbedded && !existsSync(path.join(dataDir, 'PG_VERSION'))) {
      throw noDatabaseConfigured();
    }
    const demo = await openDemoDatabase(dataDir);
    embedded = demo.server;
    sourceUrl = demo.url;
  }
  const separate = project.config.engine?.database_url;
  const url = separate ?? sourceUrl;
  // A separate store is separate with or without the embedded source.
  const where = separate ? 'separate' : embedded ? 'embedded' : 'source';
  const reuse = embedded && reuseNote(embedded);
  const sql = await openSource({ url, readOnly: false, max: options.max ?? 10 }).catch(
    async (error) => {
      await embedded?.stop();
      throw error;
    },
  );
  if (options.migrate !== false) await migrateEngine(sql, url);
  return {
    sql,
    url,
    sourceUrl,
    where,
    describe: () =>
      where === 'source'
        ? `schema nudge_engine in the source database`
        : where === 'separate'
          ? `separate database ${redactUrl(url)}`
          : `embedded PostgreSQL (${[redactUrl(url), reuse].filter(Boolean).join('; ')})`,
    async close() {
      await sql.end({ timeout: 5 });
      await embedded?.stop();
    },
  };
}

/**
 * The source database beside an open engine store: the store's own pool
 * when the store is in it, else a pool of its own (read-only when asked),
 * which `close` ends.
 */
export async function sourceBeside(
  store: EngineStore,
  options: { readOnly: boolean },
): Promise<{ sql: postgres.Sql; close(): Promise<void> }> {
  if (store.where === 'source') return { sql: store.sql, close: async () => {} };
  const sql = await openSource({ url: store.sourceUrl, readOnly: options.readOnly, max: 2 });
  return { sql, close: () => sql.end({ timeout: 5 }) };
}
