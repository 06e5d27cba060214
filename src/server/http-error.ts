// The one HTTP error type and the one handler that turns every error into a
// response: `{ error, detail }` JSON (and any fields the error adds) with its status. Anything that is
// not an HttpError is a bug or an outage: logged, answered 500 without detail.
import type { Context, ErrorHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import { MOUNTS } from './mounts.js';

export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: ContentfulStatusCode,
    /** A stable code clients and metrics can key on, e.g. `stale_timestamp`. */
    readonly code: string,
    /** One sentence for a person; never contains a secret. */
    readonly detail: string,
    /** Headers the answer carries, e.g. Retry-After on a 429. */
    readonly headers: Record<string, string> = {},
    /** More of the body, for a client that acts on it (e.g. the slots of unread_slot). */
    readonly more: Record<string, unknown> = {},
  ) {
    super(`${status} ${code}: ${detail}`);
  }
}

export function errorBody(code: string, detail: string, more: Record<string, unknown> = {}) {
  return { ...more, error: code, detail };
}

export function makeErrorHandler(
  log: Logger,
  onHttpError?: (error: HttpError, c: Context) => void,
): ErrorHandler {
  return (error, c) => {
    if (error instanceof HttpError) {
      onHttpError?.(error, c);
      return c.json(errorBody(error.code, error.detail, error.more), error.status, error.headers);
    }
    log.error({ err: error, method: c.req.method, path: loggedPath(c) }, 'request failed');
    return c.json(errorBody('internal', 'internal error; see the Nudge log'), 500);
  };
}

/**
 * The path a failed request is logged with. Under /email the path holds the
 * signed token of an unsubscribe or preference link — a credential, never
 * logged — so there it is the route (`/email/unsubscribe/:token`).
 */
function loggedPath(c: Context): string {
  const path = c.req.path;
  return path === MOUNTS.email || path.startsWith(`${MOUNTS.email}/`) ? c.req.routePath : path;
}
