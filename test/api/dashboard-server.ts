// What the dashboard API tests share: the server in-process on the test
// database (no features unless given, the engine store as the source) and calls made with
// a key of scope `dashboard`, as the dashboard's own session would make them.
import pino from 'pino';
import type postgres from 'postgres';
import { expect } from 'vitest';
import type { LoadedConfig } from '../../src/config/load.js';
import { migrateEngine } from '../../src/db/migrate.js';
import type { Feature } from '../../src/features/load.js';
import { createApiKey } from '../../src/server/api/keys.js';
import { makeServer, type NudgeServer } from '../../src/server/index.js';
import { testProject } from '../server/helpers.js';
import { requestWith } from './helpers.js';

export interface DashboardServer {
  server: NudgeServer;
  /** A request with the dashboard key (a JSON body when given). */
  call(method: string, url: string, body?: unknown): Promise<Response>;
  /** A GET that must answer `status` (200), as JSON. */
  get<T>(url: string, status?: number): Promise<T>;
}

export async function dashboardServer(
  db: { sql: postgres.Sql; url: string },
  project?: LoadedConfig,
  features: Feature[] = [],
): Promise<DashboardServer> {
  await migrateEngine(db.sql, db.url);
  const server = await makeServer({
    sql: db.sql,
    project: project ?? (await testProject()),
    route: () => 0,
    log: pino({ level: 'silent' }),
    keys: { key: Buffer.alloc(32, 4) },
    dashboard: { features, sourceUrl: db.url },
  });
  const { key } = await createApiKey(db.sql, `dashboard-${Date.now()}`, 'dashboard');
  const call = async (method: string, url: string, body?: unknown) =>
    requestWith(server, key, method, url, body);
  return {
    server,
    call,
    async get<T>(url: string, status = 200) {
      const response = await call('GET', url);
      expect(response.status, await response.clone().text()).toBe(status);
      return (await response.json()) as T;
    },
  };
}
