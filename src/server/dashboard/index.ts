// The dashboard's pages: the built web app (dist/web, from web/) at `/` and
// its page paths, and the login that turns the printed link's token (or an
// API key) into a session cookie (access.ts). Without a valid session every
// page answers the login page, which holds no data; the app itself reads
// and writes only through /v1.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { Context } from 'hono';
import { Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { readCapped } from '../body.js';
import { isMounted } from '../mounts.js';
import { type DashboardAccess, SESSION_COOKIE, sameOrigin } from './access.js';
import { loginPage } from './login.js';

/** The app's page paths (web/src/routes.ts); anything else is not the dashboard's. */
/** The login page's word to a browser whose session cookie no longer opens the dashboard. */
const SESSION_ENDED =
  'Your session has ended: it expired, you signed out, or Nudge started again with a new token (NUDGE_DASHBOARD_TOKEN keeps it across restarts). Open the link Nudge printed, or sign in again.';

export const DASHBOARD_PAGES = [
  '/',
  '/features',
  '/features/:name',
  '/logs',
  '/logs/ingest',
  '/actions',
  '/contacts',
  '/contacts/:ref',
  '/lists',
  '/lists/:name',
  '/mailbox',
  '/mailbox/:id',
  '/clock',
] as const;

const APP_CSP = [
  "default-src 'self'",
  "img-src 'self' data:",
  "frame-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

interface Asset {
  body: Uint8Array;
  type: string;
}

/** dist/web beside dist/server (built), or the repo's dist/web when running from src/ (tests). */
function builtApp(): { index: string; assets: Map<string, Asset> } | undefined {
  for (const candidate of ['../../web/', '../../../dist/web/']) {
    const dir = new URL(candidate, import.meta.url);
    if (!existsSync(new URL('index.html', dir))) continue;
    const assets = new Map<string, Asset>();
    const assetsDir = new URL('assets/', dir);
    if (existsSync(assetsDir)) {
      for (const name of readdirSync(assetsDir)) {
        const extension = name.slice(name.lastIndexOf('.'));
        assets.set(name, {
          body: readFileSync(new URL(name, assetsDir)),
          type: TYPES[extension] ?? 'application/octet-stream',
        });
      }
    }
    return { index: readFileSync(new URL('index.html', dir), 'utf8'), assets };
  }
  return undefined;
}

export interface DashboardOptions {
  access: DashboardAccess;
  /** Largest form body read (ingest.max_body_bytes). */
  maxBodyBytes: number;
  /** server.public_url: the origin a browser behind a TLS-ending proxy sends. */
  publicUrl?: string;
}

export interface Dashboard {
  routes: Hono;
  /**
   * A browser's page load of a path the dashboard does not have: the app (or
   * the sign-in page) with a 404, so its own not-found page shows with the
   * navigation, instead of the API's JSON 404 — which a path under one of the
   * server's mount points (mounts.ts) keeps.
   */
  notFound(c: Context): Promise<Response> | undefined;
}

export function makeDashboard({ access, maxBodyBytes, publicUrl }: DashboardOptions): Dashboard {
  const app = builtApp();
  const dashboard = new Hono();
  const secure = (c: Context, csp: string) => {
    c.header('content-security-policy', csp);
    c.header('x-content-type-options', 'nosniff');
    // The link's token must not leave in a Referer: no referrer to another
    // origin. (no-referrer would also make a browser send Origin: null on
    // the sign-in and sign-out forms, which sameOrigin() refuses.)
    c.header('referrer-policy', 'same-origin');
    c.header('cache-control', 'no-store');
  };
  // `next`: where signing in leads, through safeNext once — the page asked
  // for, its query included (without the link's token); on a failed sign-in,
  // the form's own `next` as POST /login cleaned it (its path is /login).
  const login = (c: Context, message?: string, next = safeNext(pageAsked(c))) => {
    secure(
      c,
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    );
    return c.html(loginPage({ next, ...(message ? { message } : {}) }), 401);
  };

  const page = async (c: Context, status: 200 | 404 = 200) => {
    const token = c.req.query('token');
    if (token !== undefined) {
      const cookie = await access.login(token);
      if (!cookie)
        return login(
          c,
          'That link’s token is not valid for this Nudge: open the link printed at its latest start (nudge dev and nudge start print a new one at each start, unless NUDGE_DASHBOARD_TOKEN is set).',
        );
      setSession(c, cookie, publicUrl);
      secure(c, APP_CSP);
      // Through safeNext too: `//evil.example/?token=…` asks for a page whose
      // path, as a Location, is another host.
      return c.redirect(safeNext(pageAsked(c)), 303);
    }
    const cookie = getCookie(c, SESSION_COOKIE);
    if (!(await access.session(cookie)))
      // A cookie this server does not take: a session that was, said as such.
      return login(c, cookie ? SESSION_ENDED : undefined);
    secure(c, APP_CSP);
    if (!app) {
      return c.html(
        '<!doctype html><title>Nudge</title><p>The dashboard is not built: run <code>npm run build</code>.</p>',
        503,
      );
    }
    return c.html(app.index, status);
  };
  for (const path of DASHBOARD_PAGES) dashboard.get(path, (c) => page(c));

  dashboard.get('/assets/:name', async (c) => {
    if (!(await access.session(getCookie(c, SESSION_COOKIE)))) return login(c);
    const asset = app?.assets.get(c.req.param('name'));
    if (!asset) return c.text('not found', 404);
    c.header('content-type', asset.type);
    c.header('x-content-type-options', 'nosniff');
    // Names carry a content hash: a new build is a new name.
    c.header('cache-control', 'private, max-age=31536000, immutable');
    return c.body(asset.body as Uint8Array<ArrayBuffer>);
  });

  dashboard.post('/login', async (c) => {
    const form = new URLSearchParams(await readCapped(c.req.raw, maxBodyBytes));
    const next = safeNext(form.get('next') ?? '/');
    if (!sameOrigin(c, publicUrl)) return login(c, 'Sign in from the dashboard’s own page.', next);
    const credential = form.get('token') ?? '';
    const cookie = await access.login(credential);
    if (!cookie) return login(c, 'That token or API key does not open this dashboard.', next);
    setSession(c, cookie, publicUrl);
    return c.redirect(next, 303);
  });
  // Revoked in the engine store, not only deleted here: a copy of the cookie
  // opens nothing after this either (access.ts).
  dashboard.post('/logout', async (c) => {
    await readCapped(c.req.raw, maxBodyBytes);
    const cookie = getCookie(c, SESSION_COOKIE);
    if (!(await access.session(cookie)) || !sameOrigin(c, publicUrl)) return login(c);
    await access.logout(cookie);
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect('/', 303);
  });
  return {
    routes: dashboard,
    notFound: (c) => {
      const browsing =
        c.req.method === 'GET' && (c.req.header('accept') ?? '').includes('text/html');
      return browsing && !isMounted(c.req.path) ? page(c, 404) : undefined;
    },
  };
}

/**
 * The session cookie; Secure when the browser came over https: the request's
 * own URL, or server.public_url's host behind a proxy that ends TLS (the
 * server then sees http://), so the cookie never travels in plain http there.
 */
function setSession(c: Context, cookie: string, publicUrl: string | undefined): void {
  const url = new URL(c.req.url);
  const proxied = publicUrl !== undefined ? new URL(publicUrl) : undefined;
  setCookie(c, SESSION_COOKIE, cookie, {
    httpOnly: true,
    sameSite: 'Strict',
    path: '/',
    secure:
      url.protocol === 'https:' ||
      (proxied?.protocol === 'https:' && proxied.hostname === url.hostname),
  });
}

/** The page a request asked for, with its query but not the link's token. */
function pageAsked(c: Context): string {
  const url = new URL(c.req.url);
  url.searchParams.delete('token');
  return `${url.pathname}${url.search}`;
}

/**
 * A page on this server to go to after signing in: nothing that leaves it,
 * and not the sign-in or sign-out form's own address (no page: a GET there
 * is the app's "Not found").
 */
function safeNext(next: string): string {
  // A browser drops tabs and newlines from a URL and reads \ as /, so
  // `/\t/evil.example` would leave the server: refused, as is anything not
  // a path here once resolved, and any space or control character (CR/LF
  // may be in no header).
  const unsafe = [...next].some((ch) => ch === '\\' || ch <= ' ' || ch === '\u007f');
  if (!next.startsWith('/') || unsafe) return '/';
  const here = 'http://nudge.invalid';
  const url = new URL(next, here);
  if (url.origin !== here) return '/';
  // Resolving dot segments can make the path itself start with `//`
  // (`/.//evil.example`): as a Location, that is another host.
  if (url.pathname.startsWith('//')) return '/';
  const page = url.pathname.replace(/\/+$/, '');
  return page === '/login' || page === '/logout' ? '/' : `${url.pathname}${url.search}${url.hash}`;
}
