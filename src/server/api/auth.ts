// Bearer API keys: 401 when the key is missing, unknown or revoked. For /v1,
// then 429 when the key is over its rate limit and 403 when a read key asks
// for a write (anything but GET and HEAD) — to a route that takes it: a
// method the path does not take was a 405 before this, and a path with no
// route a 404 (routeFirst in allowed-methods.ts). GET /metrics takes any
// live key, or none from a loopback peer asking for a loopback host.
import type { Context, MiddlewareHandler } from 'hono';
import type postgres from 'postgres';
import { isLoopback } from '../dashboard/access.js';
import { HttpError } from '../http-error.js';
import { isDashboardWrite } from './dashboard.js';
import { type ApiKeyInfo, authenticateApiKey, type KeyScope } from './keys.js';
import type { RateLimiter } from './rate-limit.js';

type ApiKey = Pick<ApiKeyInfo, 'id' | 'name' | 'scope'>;

export interface ApiEnv {
  Variables: {
    apiKey: { id: string; name: string; scope: KeyScope };
    /**
     * Whether the request's credential still opens /v1 (its key not revoked,
     * its session not signed out or expired): what a long answer, the live
     * tail, asks again as it goes.
     */
    stillValid: () => Promise<boolean>;
  };
}

/** The live key the request carries; 401 otherwise. */
export async function authenticate(c: Context, sql: postgres.Sql): Promise<ApiKey> {
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
      : new HttpError(
          401,
          'invalid_api_key',
          bearer.startsWith('nudge_')
            ? 'unknown API key'
            : 'unknown API key (the token of the dashboard link signs a browser in at /?token=…; for Authorization: Bearer create an API key with `nudge keys create <name>`)',
        );
  }
  return result.key;
}

export function requireApiKey(sql: postgres.Sql, limiter: RateLimiter): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const key = await authenticate(c, sql);
    limiter.take(key);
    c.set('stillValid', () =>
      authenticate(c, sql).then(
        () => true,
        () => false,
      ),
    );
    const reads = c.req.method === 'GET' || c.req.method === 'HEAD';
    if (!reads && key.scope !== 'write' && !(key.scope === 'dashboard' && isDashboardWrite(c))) {
      throw new HttpError(
        403,
        'insufficient_scope',
        `API key "${key.name}" has scope ${key.scope}; ${c.req.method} ${c.req.path} needs a write key${isDashboardWrite(c) ? ' or a dashboard key' : ''}`,
      );
    }
    c.set('apiKey', key);
    await next();
  };
}

/**
 * Open to a peer on the loopback interface (Prometheus on the same machine)
 * that asks for a loopback host, unless it sends a key, which must then be
 * live; anyone else needs a key. The Host counts too: a web page's own name
 * made to resolve to 127.0.0.1 (DNS rebinding) lets the browser of someone on
 * this machine read what it fetches, from a loopback peer — but with its own
 * name in Host.
 */
export function loopbackOrApiKey(sql: postgres.Sql): MiddlewareHandler {
  return async (c, next) => {
    const loopback = fromLoopback(c);
    const host = new URL(c.req.url).hostname;
    const keyed = c.req.header('authorization') !== undefined;
    if (loopback && !keyed && !isLoopback(host)) {
      // What a scraper on this machine addressing it by another name needs to hear.
      throw new HttpError(
        401,
        'missing_api_key',
        `/metrics is open without a key from this machine only by a loopback name (127.0.0.1, localhost, [::1]), not by "${host}"; scrape http://127.0.0.1:<port>/metrics, or send Authorization: Bearer <an API key>`,
      );
    }
    if (keyed || !loopback) await authenticate(c, sql);
    await next();
  };
}

/** Whether the TCP peer is 127.0.0.0/8 or ::1; false with no socket (app.request in tests). */
function fromLoopback(c: Context): boolean {
  const env = c.env as
    | { incoming?: { socket?: { remoteAddress?: string } }; server?: unknown }
    | undefined;
  const address = env?.incoming?.socket?.remoteAddress ?? '';
  return /^(::ffff:)?127\./.test(address) || address === '::1';
}
