// Shared by the security tests: a Nudge server over a migrated test database,
// driven in-process through app.request(), with API keys of both scopes, a
// revoked one, and the ingest shared secret.
import pino, { type Logger } from 'pino';
import type { LoadedConfig } from '../../src/config/load.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { createApiKey, revokeApiKey } from '../../src/server/api/keys.js';
import { makeServer, type NudgeServer } from '../../src/server/index.js';
import type { TestDatabase } from '../harness/db.js';
import { testProject } from '../server/helpers.js';

type Config = LoadedConfig['config'];

export interface SecurityServer {
  server: NudgeServer;
  writeKey: string;
  readKey: string;
  revokedKey: string;
  /** The shared secret /ingest accepts in x-nudge-secret or Authorization: Bearer. */
  ingestSecret: string;
  request(path: string, init?: RequestInit): Promise<Response>;
}

export async function startSecurityServer(
  db: TestDatabase,
  edit: (config: Config) => void = () => {},
  log: Logger = pino({ level: 'silent' }),
): Promise<SecurityServer> {
  await migrateEngine(db.sql, db.url);
  const project = await testProject((config) => {
    config.contacts.attributes = { mrr: 'numeric', plan: 'text', vip: 'boolean', meta: 'jsonb' };
    edit(config);
  });
  const server = await makeServer({
    sql: db.sql,
    project,
    route: () => 0,
    log,
    keys: { key: Buffer.alloc(32, 7) },
  });
  const tag = Math.random().toString(36).slice(2, 8);
  const writeKey = (await createApiKey(db.sql, `writer-${tag}`, 'write')).key;
  const readKey = (await createApiKey(db.sql, `reader-${tag}`, 'read')).key;
  const revokedKey = (await createApiKey(db.sql, `revoked-${tag}`, 'write')).key;
  await revokeApiKey(db.sql, `revoked-${tag}`);
  return {
    server,
    writeKey,
    readKey,
    revokedKey,
    ingestSecret: server.secrets.shared,
    request: async (path, init) => server.app.request(path, init),
  };
}

/** A path the route's pattern matches: `:name` and `*` become `x`. */
export function concretePath(pattern: string): string {
  return pattern.replace(/:[A-Za-z_][A-Za-z0-9_]*(\{[^}]*\})?/g, 'x').replace(/\*/g, 'x');
}
