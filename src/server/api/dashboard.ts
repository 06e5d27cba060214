// What /v1 adds for the dashboard: GET /v1/session (who is signed in, and the
// CSRF value a cookie session sends with changes), /v1/overview,
// /v1/features (with the live pause switch) and /v1/decisions (with its live
// tail); and the dashboard's session cookie as a credential for all of /v1,
// next to bearer API keys (see src/server/dashboard/access.ts).
import type { Context, MiddlewareHandler } from 'hono';
import { Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import type { Session } from '../../client/dashboard.js';
import {
  CSRF_HEADER,
  type DashboardAccess,
  SESSION_COOKIE,
  sameOrigin,
  sameText,
} from '../dashboard/access.js';
import { HttpError } from '../http-error.js';
import { actionsRoutes } from './actions.js';
import type { ApiEnv } from './auth.js';
import { clockRoutes } from './clock.js';
import { contactListsRoutes } from './contact-lists.js';
import { decisionsRoutes } from './decisions.js';
import { deployRoutes } from './deploy.js';
import { knownFeatures } from './feature-filter.js';
import { featuresRoutes } from './features.js';
import { ingestLogRoutes } from './ingest-log.js';
import { takes } from './input.js';
import { mailboxRoutes } from './mailbox.js';
import { type OverviewApiOptions, overviewRoutes } from './overview.js';
import { makePlans } from './plans.js';
import type { RateLimiter } from './rate-limit.js';

export interface DashboardApiOptions extends OverviewApiOptions {
  access: DashboardAccess;
  /** Largest body a dashboard write reads (ingest.max_body_bytes). */
  maxBodyBytes?: number;
  /** Whether the dashboard may move the engine clock (dev). */
  movableClock?: boolean;
}

/** The writes the `dashboard` scope (a dashboard session, or a key of that scope) may make. */
const DASHBOARD_WRITES = [
  /^\/v1\/features\/[^/]+\/(pause|resume)$/,
  /^\/v1\/features\/backtest$/,
  /^\/v1\/actions\/replay$/,
  /^\/v1\/deploy$/,
  // A new list or segment (the Lists page); members are not changed from the dashboard.
  /^\/v1\/lists$/,
  /^\/v1\/clock\/(advance|reset)$/,
  // The Contacts page's "Sync now": `nudge sync` in the server, which changes contacts only as a sync does.
  /^\/v1\/sync$/,
];
/** What it may delete: a segment (lists.ts refuses it a static list, whose members would go). */
const DASHBOARD_DELETES = [/^\/v1\/lists\/[^/]+$/];

export function isDashboardWrite(c: Context): boolean {
  const allowed =
    c.req.method === 'POST' ? DASHBOARD_WRITES : c.req.method === 'DELETE' ? DASHBOARD_DELETES : [];
  return allowed.some((pattern) => pattern.test(c.req.path));
}

export function dashboardRoutes(options: DashboardApiOptions): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();
  api.get('/session', takes(), (c) => {
    const cookie = c.req.header('authorization') ? undefined : getCookie(c, SESSION_COOKIE);
    const who = c.get('apiKey');
    return c.json({
      name: who.name,
      scope: who.scope,
      csrf: cookie ? options.access.csrf(cookie) : null,
    } satisfies Session);
  });
  api.route('/overview', overviewRoutes(options));
  // Where feature files are, as a refusal of a feature no file has names it.
  const { featuresDir } = knownFeatures(options.project, options.features);
  // One plan for Plan, Deploy and the features' deploy state (plans.ts).
  const plans = makePlans(options.project, options.source);
  api.route(
    '/features',
    featuresRoutes({ ...options, cwd: options.project.cwd, plans, featuresDir }),
  );
  api.route('/decisions', decisionsRoutes({ ...options, featuresDir }));
  api.route('/', deployRoutes({ ...options, plans }));
  api.route('/ingest', ingestLogRoutes(options));
  api.route('/contacts', contactListsRoutes(options));
  api.route('/actions', actionsRoutes({ ...options, featuresDir }));
  api.route('/mailbox', mailboxRoutes(options));
  api.route('/clock', clockRoutes({ ...options, movable: options.movableClock ?? false }));
  return api;
}

/**
 * A request with the dashboard's session cookie (and no Authorization
 * header) is let in as scope `dashboard`: reads, and the writes
 * DASHBOARD_WRITES lists, each with the session's CSRF value and from this
 * origin. Anything else goes to `apiKey`, the bearer key check.
 */
export function sessionOrApiKey(
  access: DashboardAccess,
  apiKey: MiddlewareHandler<ApiEnv>,
  limiter: RateLimiter,
  /** server.public_url, whose origin is this server's too (sameOrigin). */
  publicUrl?: string,
): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const cookie = getCookie(c, SESSION_COOKIE);
    if (c.req.header('authorization') !== undefined || cookie === undefined) {
      return apiKey(c, next);
    }
    const who = await access.session(cookie);
    if (!who) {
      throw new HttpError(
        401,
        'invalid_session',
        'the dashboard session expired or is no longer valid: open the dashboard link printed at Nudge’s latest start (nudge dev and nudge start print a new one at each start, unless NUDGE_DASHBOARD_TOKEN is set)',
      );
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      if (
        !sameOrigin(c, publicUrl) ||
        !sameText(c.req.header(CSRF_HEADER) ?? '', access.csrf(cookie))
      ) {
        throw new HttpError(
          403,
          'csrf_failed',
          `a change from the dashboard must come from its own page with the ${CSRF_HEADER} header GET /v1/session gives`,
        );
      }
      if (!isDashboardWrite(c)) {
        throw new HttpError(
          403,
          'insufficient_scope',
          `the dashboard may not ${c.req.method} ${c.req.path}; use an API key of scope write`,
        );
      }
    }
    limiter.take(who);
    c.set('apiKey', who);
    c.set('stillValid', async () => (await access.session(cookie)) !== undefined);
    await next();
  };
}
