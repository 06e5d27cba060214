// Bearer API keys for /v1: 401 when the key is missing, unknown or revoked;
// 403 when a read key asks for a write (anything but GET and HEAD).
import type { MiddlewareHandler } from 'hono';
import type postgres from 'postgres';
import { authenticateApiKey, type KeyScope } from '../../contacts/api-keys.js';
import { HttpError } from '../http-error.js';

export interface ApiEnv {
  Variables: { apiKey: { id: string; name: string; scope: KeyScope } };
}

export function requireApiKey(sql: postgres.Sql): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    if (!bearer) {
      throw new HttpError(
        401,
        'missing_api_key',
        'send an API key as Authorization: Bearer nudge_...; create one with `nudge keys create <name>`',
      );
    }
    const result = await authenticateApiKey(sql, bearer);
    if (!result.ok) {
      throw result.reason === 'revoked'
        ? new HttpError(401, 'revoked_api_key', 'this API key was revoked')
        : new HttpError(401, 'invalid_api_key', 'unknown API key');
    }
    const reads = c.req.method === 'GET' || c.req.method === 'HEAD';
    if (!reads && result.key.scope !== 'write') {
      throw new HttpError(
        403,
        'insufficient_scope',
        `API key "${result.key.name}" is read-only; ${c.req.method} needs a write key`,
      );
    }
    c.set('apiKey', result.key);
    await next();
  };
}
