// Shared by the /v1 API tests: a Nudge server over a migrated test database
// with declared attribute types, API keys of both scopes, and a fetch helper
// that returns status, headers and parsed JSON.
import type postgres from 'postgres';
import type { ValueType } from '../../src/conditions/index.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { createApiKey } from '../../src/server/api/keys.js';
import type { TestDatabase } from '../harness/db.js';
import { startTestServer, type TestServer, testProject } from '../server/helpers.js';

export const ATTRIBUTES: Record<string, ValueType> = {
  mrr: 'numeric',
  seats: 'integer',
  vip: 'boolean',
  trial_ends_at: 'timestamptz',
  birthday: 'date',
  team_id: 'uuid',
  meta: 'jsonb',
  plan: 'text',
};

export interface ApiServer extends TestServer {
  writeKey: string;
  readKey: string;
  call(method: string, path: string, init?: CallInit): Promise<ApiResponse>;
}

export interface CallInit {
  body?: unknown;
  key?: string | null;
  headers?: Record<string, string>;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  json: unknown;
  text: string;
}

/**
 * `sql`: the server's engine store client (default db.sql); a client of
 * postgresFor reads json as the running engine does, long numbers exact.
 */
export async function startApi(
  db: TestDatabase,
  attributes: Record<string, ValueType> = ATTRIBUTES,
  sql: postgres.Sql = db.sql,
): Promise<ApiServer> {
  await migrateEngine(db.sql, db.url);
  const project = await testProject((config) => {
    config.contacts.attributes = attributes as typeof config.contacts.attributes;
  });
  const server = await startTestServer(sql, project);
  const writeKey = (await createApiKey(db.sql, `writer-${db.name}`, 'write')).key;
  const readKey = (await createApiKey(db.sql, `reader-${db.name}`, 'read')).key;
  const call = async (method: string, path: string, init: CallInit = {}) => {
    const key = init.key === undefined ? writeKey : init.key;
    const headers: Record<string, string> = { ...init.headers };
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let body: string | Uint8Array | undefined;
    if (init.body !== undefined) {
      body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      // JSON unless the test sends another Content-Type; '' sends none (as
      // bytes: fetch would call a string text/plain).
      const typed = Object.keys(headers).find((name) => name.toLowerCase() === 'content-type');
      if (typed === undefined) headers['content-type'] = 'application/json';
      else if (headers[typed] === '') {
        delete headers[typed];
        body = new TextEncoder().encode(body);
      }
    }
    const response = await fetch(`${server.url}${path}`, { method, headers, body });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, json, text };
  };
  return { ...server, writeKey, readKey, call };
}

/** The `detail` of an error answer. */
export function detailOf(response: ApiResponse): string {
  return String((response.json as { detail?: unknown } | undefined)?.detail ?? response.text);
}

/** Emails of a contacts answer, in order. */
export function emailsOf(response: ApiResponse): (string | null)[] {
  if (!Array.isArray(response.json)) {
    throw new Error(`expected an array, got ${response.status} ${response.text}`);
  }
  return (response.json as { email: string | null }[]).map((row) => row.email);
}

/** A JSON request to an in-process server's app, with `key` as its bearer token. */
export function requestWith(
  server: { app: { request(url: string, init: RequestInit): Response | Promise<Response> } },
  key: string,
  method: string,
  url: string,
  body?: unknown,
): Promise<Response> {
  return Promise.resolve(
    server.app.request(`http://127.0.0.1${url}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
  );
}
