// Who may open the dashboard: the dashboard token (NUDGE_DASHBOARD_TOKEN, or
// one made up for this process and printed as a one-click link), or an API
// key of scope `dashboard` (or `write`). Either is exchanged once for a
// session cookie — HttpOnly, SameSite=Strict, signed with a key derived from
// the token — so neither ever sits in the page. Requests that change
// something carry the session's CSRF value in a header, which another site
// can neither read nor send (a custom header needs a CORS preflight Nudge
// never grants), and must not come from another origin. Signing out revokes
// the session in the engine store (migration 027), so a copied cookie opens
// nothing after it, in any process.
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import type postgres from 'postgres';
import { NudgeError } from '../../errors.js';
import { authenticateApiKey } from '../api/keys.js';

export const SESSION_COOKIE = 'nudge_session';
export const CSRF_HEADER = 'x-nudge-csrf';
/** How long a session lasts before the token or key is asked for again. */
const SESSION_SECONDS = 12 * 60 * 60;
/** A configured token must be at least this long: it is all that guards the dashboard. */
const MIN_TOKEN_LENGTH = 24;

/** Whoever a session or key is: what the API sees as `apiKey`. */
export interface DashboardPrincipal {
  id: string;
  name: string;
  scope: 'dashboard';
}

export interface DashboardAccess {
  /** The token, for the link printed at start; never logged. */
  readonly token: string;
  /** Whether the token was configured (NUDGE_DASHBOARD_TOKEN) rather than made up for this process. */
  readonly configured: boolean;
  /** http://127.0.0.1:8787/?token=… */
  link(baseUrl: string): string;
  /** A token or API key exchanged for a session cookie's value; undefined if it opens nothing. */
  login(credential: string): Promise<string | undefined>;
  /**
   * Who a session cookie's value stands for, if it is valid, unexpired, not
   * signed out, and its key is not revoked: one query.
   */
  session(cookie: string | undefined): Promise<DashboardPrincipal | undefined>;
  /** Signs a session out: its cookie opens nothing from now on, in any process. */
  logout(cookie: string | undefined): Promise<void>;
  /** The CSRF value of a session: what state-changing requests must send in x-nudge-csrf. */
  csrf(cookie: string): string;
  /** Refuses to listen on a non-loopback address unless the token was configured. */
  checkBind(host: string): void;
}

export function makeDashboardAccess(
  sql: postgres.Sql,
  env: Record<string, string | undefined>,
  now: () => number = Date.now,
): DashboardAccess {
  const given = env.NUDGE_DASHBOARD_TOKEN?.trim();
  if (given !== undefined && given !== '' && given.length < MIN_TOKEN_LENGTH) {
    throw new NudgeError(
      `NUDGE_DASHBOARD_TOKEN is ${given.length} characters; it needs at least ${MIN_TOKEN_LENGTH}`,
      'make one with: openssl rand -base64 32',
    );
  }
  const token = given || randomBytes(24).toString('base64url');
  const signingKey = createHmac('sha256', token).update('nudge dashboard sessions v1').digest();
  const sign = (text: string) => createHmac('sha256', signingKey).update(text).digest('base64url');

  // `v2.<kind>.<subject>.<session id>.<expires>.<signature>`: kind t (the
  // token; subject -) or k (an API key; subject its id). The session id names
  // this sign-in alone, for sign-out to revoke. A v1 cookie (no id) is no
  // longer taken: its holder signs in again.
  const issue = (kind: 't' | 'k', subject: string) => {
    const body = `v2.${kind}.${subject}.${randomUUID()}.${Math.floor(now() / 1000) + SESSION_SECONDS}`;
    return `${body}.${sign(body)}`;
  };
  /** A cookie this server signed and that has not expired, read; undefined otherwise. */
  const signed = (cookie: string | undefined) => {
    const parts = cookie?.split('.') ?? [];
    if (parts.length !== 6 || parts[0] !== 'v2') return undefined;
    const [, kind, subject, id, expires, signature] = parts as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    if (!sameText(signature, sign(parts.slice(0, 5).join('.')))) return undefined;
    const expiresAt = Number(expires) * 1000;
    if (!(expiresAt > now())) return undefined;
    return { kind, subject, id, expiresAt };
  };

  return {
    token,
    configured: !!given,
    link: (baseUrl) => `${baseUrl.replace(/\/+$/, '')}/?token=${encodeURIComponent(token)}`,
    async login(credential) {
      const text = credential.trim();
      if (!text) return undefined;
      if (sameText(text, token)) return issue('t', '-');
      if (!text.startsWith('nudge_')) return undefined;
      const result = await authenticateApiKey(sql, text);
      if (!result.ok || (result.key.scope !== 'dashboard' && result.key.scope !== 'write'))
        return undefined;
      return issue('k', result.key.id);
    },
    async session(cookie) {
      const session = signed(cookie);
      if (!session) return undefined;
      const { kind, subject, id } = session;
      if (kind === 't') {
        const [open] = await sql<{ id: string }[]>`
          select ${id}::uuid as id
           where not exists (select from nudge_engine.dashboard_signouts where session = ${id}::uuid)`;
        return open ? { id: 'dashboard-token', name: 'dashboard', scope: 'dashboard' } : undefined;
      }
      if (kind !== 'k') return undefined;
      const [key] = await sql<{ name: string }[]>`
        select name from nudge_engine.api_keys
         where id = ${subject}::uuid and revoked_at is null and scope in ('dashboard', 'write')
           and not exists (select from nudge_engine.dashboard_signouts where session = ${id}::uuid)`;
      return key ? { id: subject, name: `api key ${key.name}`, scope: 'dashboard' } : undefined;
    },
    async logout(cookie) {
      const session = signed(cookie);
      if (!session) return;
      // Kept a day past the cookie's expiry, so a process whose clock is
      // behind the database's still finds it; older rows go now.
      await sql`
        with expired as (
          delete from nudge_engine.dashboard_signouts where expires_at < now() - interval '1 day'
        )
        insert into nudge_engine.dashboard_signouts (session, expires_at)
        values (${session.id}::uuid, ${new Date(session.expiresAt)})
        on conflict (session) do nothing`;
    },
    csrf: (cookie) => sign(`csrf ${cookie}`),
    checkBind(host) {
      if (given || isLoopback(host)) return;
      throw new NudgeError(
        `refusing to listen on ${host}: the dashboard and API would be reachable from other machines, guarded only by a token made up for this run`,
        'set NUDGE_DASHBOARD_TOKEN (openssl rand -base64 32) to listen beyond this machine, or keep server.host: 127.0.0.1',
      );
    },
  };
}

/** 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d+\.\d+\.\d+$/.test(bare);
}

/** Compares in constant time (for equal lengths; lengths are not secret). */
export function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * A form post from this origin: Origin says so, or, when it is missing or
 * "null" (a page whose referrer policy withholds it, a privacy setting),
 * Sec-Fetch-Site does. A null Origin with no Sec-Fetch-Site is refused: a
 * sandboxed frame on another site sends exactly that. Behind a proxy that
 * ends TLS the server sees http://… while the browser's Origin is
 * server.public_url's: that origin is this one too.
 */
export function sameOrigin(c: Context, publicUrl?: string): boolean {
  const origin = c.req.header('origin');
  const site = c.req.header('sec-fetch-site');
  if (origin === 'null') return site === 'same-origin';
  if (origin !== undefined) {
    return (
      origin === new URL(c.req.url).origin ||
      (publicUrl !== undefined && origin === new URL(publicUrl).origin)
    );
  }
  return site === undefined || site === 'same-origin' || site === 'none';
}
