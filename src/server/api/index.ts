// Nudge's HTTP API, mounted at /v1: contacts, events, lists and segments,
// behind bearer API keys. Errors go through the server's one handler
// (http-error.ts); see docs/api.md for the routes and the query syntax.
import type { MiddlewareHandler } from 'hono';
import { Hono } from 'hono';
import type postgres from 'postgres';
import type { AttributeTypes } from '../../contacts/query.js';
import type { BackgroundSyncs } from '../../contacts/sync/background.js';
import type { Router } from '../../engine/intake/inbox.js';
import { routeFirst } from '../allowed-methods.js';
import { type ApiEnv, requireApiKey } from './auth.js';
import { backtestRoutes } from './backtest.js';
import { contactsRoutes } from './contacts.js';
import { type DashboardApiOptions, dashboardRoutes, sessionOrApiKey } from './dashboard.js';
import { emailRoutes } from './email.js';
import { eventsRoutes } from './events.js';
import { knownFeatures } from './feature-filter.js';
import { refuseNulInUrl } from './input.js';
import { listsRoutes } from './lists.js';
import { makeRateLimiter } from './rate-limit.js';
import { reportRoutes } from './report.js';
import { syncRoutes } from './sync.js';

export interface ApiOptions {
  /** The engine store. */
  sql: postgres.Sql;
  /** nudge.yaml contacts.attributes: how filters and ordering read attributes. */
  attributes: AttributeTypes;
  /** Picks each tracked event's partition (see engine/inbox.ts). */
  route: Router;
  /** Largest JSON body accepted (default 1 MiB). */
  maxBodyBytes?: number;
  /** Requests each key may make a minute (server.rate_limit.per_minute; default 1200). */
  perMinute?: number;
  /** The rate limiter's clock (tests). */
  now?: () => number;
  /** Called after a tracked event reached the inbox: wake the engine. */
  onEvents?: () => void;
  /**
   * The dashboard's routes and its session cookie as a credential
   * (dashboard.ts); `syncs`, the contact syncs POST /v1/sync starts in this
   * process, of the dashboard's project: the server makes them, and stops
   * them as it stops.
   */
  dashboard?: DashboardApiOptions & { syncs: BackgroundSyncs };
}

export function makeApi(options: ApiOptions): Hono<ApiEnv> {
  const maxBodyBytes = options.maxBodyBytes ?? 1_048_576;
  const { sql, attributes } = options;
  const api = new Hono<ApiEnv>();
  const limiter = makeRateLimiter(options.perMinute ?? 1200, options.now);
  const keys = requireApiKey(sql, limiter);
  api.use('*', privateAnswers);
  // The route before the credential: a read key's POST to a route that only
  // reads is a 405 with Allow, and to a path with no route a 404, not "needs
  // a write key" (allowed-methods.ts).
  api.use('*', routeFirst(api));
  api.use(
    '*',
    options.dashboard
      ? sessionOrApiKey(
          options.dashboard.access,
          keys,
          limiter,
          options.dashboard.project.config.server.public_url,
        )
      : keys,
  );
  api.use('*', refuseNulInUrl);
  api.route('/contacts', contactsRoutes({ sql, attributes, maxBodyBytes }));
  api.route(
    '/events',
    eventsRoutes({
      sql,
      route: options.route,
      maxBodyBytes,
      ...(options.onEvents ? { onEvents: options.onEvents } : {}),
    }),
  );
  api.route('/lists', listsRoutes({ sql, attributes, maxBodyBytes }));
  // Email preferences and stats (docs/email.md): topics come from the project's nudge.yaml.
  if (options.dashboard) {
    const { project, features } = options.dashboard;
    api.route(
      '/email',
      emailRoutes({ sql, project, maxBodyBytes, ...knownFeatures(project, features) }),
    );
  }
  if (options.dashboard)
    api.route('/features/backtest', backtestRoutes({ ...options.dashboard, maxBodyBytes }));
  if (options.dashboard)
    api.route('/features', reportRoutes({ sql, project: options.dashboard.project }));
  // The contact sync's state, and `nudge sync` started in this process (sync.ts).
  if (options.dashboard) {
    const { project, syncs } = options.dashboard;
    api.route('/sync', syncRoutes({ sql, project, syncs, maxBodyBytes }));
  }
  if (options.dashboard) api.route('/', dashboardRoutes({ ...options.dashboard, maxBodyBytes }));
  return api;
}

/**
 * Every /v1 answer, errors included: contacts, decisions and keys are
 * personal or secret, so never stored by a cache nor content-sniffed
 * (the headers the dashboard's pages send, dashboard/index.ts).
 */
const privateAnswers: MiddlewareHandler = async (c, next) => {
  await next();
  c.header('cache-control', 'no-store');
  c.header('x-content-type-options', 'nosniff');
};
