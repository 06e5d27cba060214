// Shared by the server tests: a project with defaults, a Nudge server on
// 127.0.0.1 port 0 over the test database's engine store, and signing.
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type postgres from 'postgres';
import { Webhook } from 'standardwebhooks';
import { type LoadedConfig, loadConfig } from '../../src/config/load.js';
import { makeServer, type NudgeServer, type RunningServer } from '../../src/server/index.js';

export async function testProject(
  edit: (config: LoadedConfig['config']) => void = () => {},
): Promise<LoadedConfig> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nudge-server-'));
  const project = await loadConfig({ cwd: dir, env: {} });
  edit(project.config);
  return project;
}

export interface TestServer extends RunningServer {
  server: NudgeServer;
  ingest: string;
  /** How many times the engine was woken. */
  wakes: () => number;
}

export async function startTestServer(
  sql: postgres.Sql,
  project: LoadedConfig,
  key = randomBytes(32),
): Promise<TestServer> {
  let wakes = 0;
  const server = await makeServer({
    sql,
    project,
    route: () => 0,
    log: pino({ level: 'silent' }),
    onEvents: () => {
      wakes++;
    },
    keys: { key },
  });
  const running = await server.listen({ host: '127.0.0.1', port: 0 });
  return { ...running, server, ingest: `${running.url}/ingest`, wakes: () => wakes };
}

/** Standard Webhooks headers for a body, signed now (or at `at`). */
export function signed(
  secret: string,
  body: string,
  options: { id?: string; at?: Date } = {},
): Record<string, string> {
  const id = options.id ?? `msg_${randomBytes(8).toString('hex')}`;
  const at = options.at ?? new Date();
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
}

export async function post(url: string, body: string, headers: Record<string, string>) {
  const response = await fetch(url, { method: 'POST', body, headers });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: response.status, json, text };
}
