// Which methods the server has a route for at a path, read from the app's own
// router, so it cannot drift from the routes: a request to a path that has
// routes, but none for its method, is a 405 with these in `Allow`, and one to
// a path with no route a 404. Under /v1 both come before credentials are
// checked (routeFirst): a read key's POST to a route that only reads is told
// the method is wrong, and its POST to a path that does not exist that the
// path does not exist — not that it needs a write key.
import type { Context, Env, Hono, MiddlewareHandler } from 'hono';
import { baseRoutePath, matchedRoutes } from 'hono/route';
import { HttpError } from './http-error.js';

/** The order `Allow` lists them in. */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/**
 * The methods with a route for `path`; none for a path the server does not
 * have. Middleware (`use`, method ALL) matches every path and says nothing
 * about what a path serves, so only routes of a method count. HEAD comes with
 * GET: Hono answers a HEAD with the GET route, body dropped.
 */
export function allowedMethods<E extends Env>(app: Hono<E>, path: string): string[] {
  const routed = (method: string) =>
    app.router.match(method, path)[0].some(([[, route]]) => route.method === method);
  return METHODS.filter((method) => routed(method === 'HEAD' ? 'GET' : method));
}

/** The 405 of a request whose path takes only `allowed`, in the one error shape. */
export function methodNotAllowed(c: Context, allowed: string[]): HttpError {
  return new HttpError(
    405,
    'method_not_allowed',
    `${c.req.path} does not take ${c.req.method}; it takes ${allowed.join(', ')}`,
    { allow: allowed.join(', ') },
  );
}

/** The 404 of a request to a path no route has, in the one error shape. */
export function noRoute(c: Context): HttpError {
  return new HttpError(404, 'not_found', `no route for ${c.req.method} ${c.req.path}`);
}

/**
 * Middleware of `app` (a sub-app such as /v1, mounted anywhere): a request
 * none of whose routes takes its method is the 405 when other methods have
 * routes at its path, else the 404 — before the middleware after it. The
 * request's own match says whether a route takes the method (nothing more
 * to look up on almost every request); only then is `app`'s router asked
 * which do. A route is a path pattern: whether a record it names exists
 * (a contact, a list) is the route's to say, after the credential.
 */
export function routeFirst<E extends Env>(app: Hono<E>): MiddlewareHandler<E> {
  return async (c, next) => {
    if (!matchedRoutes(c).some((route) => route.method !== 'ALL')) {
      // The path within `app`: without the prefix it is mounted at ('/v1').
      const mount = baseRoutePath(c).replace(/\/+$/, '');
      const allowed = allowedMethods(app, c.req.path.slice(mount.length) || '/');
      throw allowed.length > 0 ? methodNotAllowed(c, allowed) : noRoute(c);
    }
    await next();
  };
}
