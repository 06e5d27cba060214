// Which methods the server has a route for at a path, read from the app's own
// router, so it cannot drift from the routes: a request to a path that has
// routes, but none for its method, is a 405 with these in `Allow`, not a 404.
import type { Env, Hono } from 'hono';

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
