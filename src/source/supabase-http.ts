// Checks against a Supabase project's HTTP APIs (Auth admin, Storage, Edge
// Functions, PostgREST) for `nudge doctor`: each answer or failure becomes a
// finding with a one-line fix. Keys are sent, never printed.
import { plural } from '../words.js';

export type Outcome = 'ok' | 'fail' | 'warn';

export interface ApiFinding {
  outcome: Outcome;
  /** What was checked, e.g. "Auth admin API". */
  label: string;
  message: string;
  fix?: string;
  /** HTTP status when there was an answer. */
  status?: number;
  /** Set for failures before any HTTP answer (refused, DNS, timeout): the same for every API. */
  network?: boolean;
}

export interface KeyInfo {
  /** jwt: legacy anon/service_role key; secret/publishable: sb_secret_… / sb_publishable_… keys. */
  kind: 'jwt' | 'secret' | 'publishable' | 'unknown';
  /** The JWT's `role` claim (anon, service_role, authenticated). */
  role?: string;
  expiresAt?: Date;
}

const KEYS_FIX =
  'copy the service_role key from Dashboard → Settings → API into connectors.supabase.api_key';

/** Reads what kind of key this is. The JWT payload is decoded, not verified. */
export function describeKey(key: string): KeyInfo {
  if (key.startsWith('sb_secret_')) return { kind: 'secret', role: 'service_role' };
  if (key.startsWith('sb_publishable_')) return { kind: 'publishable', role: 'anon' };
  const parts = key.split('.');
  if (parts.length !== 3 || !parts[1]) return { kind: 'unknown' };
  try {
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as {
      role?: unknown;
      exp?: unknown;
    };
    return {
      kind: 'jwt',
      ...(typeof payload.role === 'string' ? { role: payload.role } : {}),
      ...(typeof payload.exp === 'number' ? { expiresAt: new Date(payload.exp * 1000) } : {}),
    };
  } catch {
    return { kind: 'unknown' };
  }
}

/** Whether the configured api_key can do what Nudge needs (service role), from its content alone. */
export function checkServiceKey(key: string, now = new Date()): ApiFinding {
  const label = 'API key';
  const info = describeKey(key);
  if (info.role === 'anon' || info.role === 'authenticated') {
    const what =
      info.kind === 'publishable' ? 'a publishable key' : `a JWT whose role is ${info.role}`;
    return {
      outcome: 'fail',
      label,
      message: `api_key is ${what}: it respects RLS and cannot list users or read all of Storage`,
      fix:
        info.kind === 'publishable'
          ? 'use a secret key (sb_secret_…) from Dashboard → Settings → API Keys'
          : KEYS_FIX,
    };
  }
  if (info.expiresAt && info.expiresAt < now) {
    return {
      outcome: 'fail',
      label,
      message: `api_key expired on ${info.expiresAt.toISOString().slice(0, 10)}`,
      fix: KEYS_FIX,
    };
  }
  if (info.kind === 'unknown' || (info.kind === 'jwt' && info.role !== 'service_role')) {
    return {
      outcome: 'warn',
      label,
      message: `api_key is not a recognisable Supabase key${info.role ? ` (JWT role ${info.role})` : ''}; checking the APIs with it anyway`,
      fix: KEYS_FIX,
    };
  }
  return {
    outcome: 'ok',
    label,
    message: `${info.kind === 'secret' ? 'secret key' : 'service_role key'} (not shown)`,
  };
}

export interface ApiCheckOptions {
  projectUrl: string;
  key: string;
  timeoutMs?: number;
}

/** Everything doctor says about the APIs: the key(s), then each API (APIs failing alike share a line). */
export async function supabaseApiFindings(
  options: Omit<ApiCheckOptions, 'key'> & { key: string | undefined; anonKey?: string | undefined },
): Promise<ApiFinding[]> {
  const { key, anonKey } = options;
  if (!key) {
    return [
      {
        outcome: 'warn',
        label: 'API key',
        message: 'project_url is set but there is no api_key',
        fix: `set connectors.supabase.api_key: "\${SUPABASE_SERVICE_ROLE_KEY}" (Dashboard → Settings → API → service_role)`,
      },
    ];
  }
  const findings = [checkServiceKey(key)];
  const anonRole = anonKey ? describeKey(anonKey).role : undefined;
  if (anonRole && anonRole !== 'anon') {
    findings.push({
      outcome: 'warn',
      label: 'anon_key',
      message: `anon_key is not an anon key (role ${anonRole})`,
      fix: 'copy the anon (public) key from Dashboard → Settings → API',
    });
  }
  const apis = await checkSupabaseApis({ ...options, key });
  // Refused, DNS, timeout, a rejected key: when the APIs fail the same way, say it once.
  const failed = apis.filter((f) => f.outcome === 'fail');
  const first = failed[0];
  if (!first || failed.length < 2 || failed.some((f) => f.message !== first.message)) {
    return [...findings, ...apis];
  }
  const which = failed.length < apis.length ? ` (${failed.map((f) => f.label).join(', ')})` : '';
  const merged = { ...first, label: 'Supabase API', message: `${first.message}${which}` };
  return [...findings, merged, ...apis.filter((f) => f.outcome !== 'fail')];
}

interface Probe {
  label: string;
  path: string;
  /** Reads a successful answer; returns the finding's message. */
  describe?: (response: Response, body: unknown) => ApiFinding | string;
  /** Any HTTP answer below 500 proves the service is there (a 404 for no function is fine). */
  anyAnswer?: boolean;
}

const PROBES: Probe[] = [
  {
    label: 'Auth admin API',
    path: '/auth/v1/admin/users?page=1&per_page=1',
    describe: (response, body) => {
      const users = (body as { users?: unknown } | null)?.users;
      if (!Array.isArray(users)) {
        return {
          outcome: 'fail',
          label: 'Auth admin API',
          message: 'answered, but not with a user list',
          fix: 'check project_url: it is the API URL https://<ref>.supabase.co (Dashboard → Settings → API)',
        };
      }
      const total = Number(response.headers.get('x-total-count'));
      return Number.isFinite(total) && response.headers.has('x-total-count')
        ? `reachable (${plural(total, 'user')})`
        : `reachable (${users.length ? 'at least 1 user' : 'no users'})`;
    },
  },
  {
    label: 'Storage API',
    path: '/storage/v1/bucket',
    describe: (_response, body) =>
      Array.isArray(body)
        ? `reachable (${plural(body.length, 'bucket')})`
        : {
            outcome: 'fail',
            label: 'Storage API',
            message: 'answered, but not with a bucket list',
            fix: 'check project_url: it is the API URL https://<ref>.supabase.co (Dashboard → Settings → API)',
          },
  },
  { label: 'Edge Functions', path: '/functions/v1/', anyAnswer: true },
  { label: 'REST API', path: '/rest/v1/', describe: () => 'reachable (PostgREST)' },
];

/** Probes the four APIs concurrently; never throws. */
export async function checkSupabaseApis(options: ApiCheckOptions): Promise<ApiFinding[]> {
  const base = options.projectUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 10_000;
  return Promise.all(
    PROBES.map((probe) => runProbe(probe, `${base}${probe.path}`, options.key, timeoutMs)),
  );
}

async function runProbe(
  probe: Probe,
  url: string,
  key: string,
  timeoutMs: number,
): Promise<ApiFinding> {
  const label = probe.label;
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      headers: { apikey: key, Authorization: `Bearer ${key}`, Accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    });
    text = await response.text();
  } catch (error) {
    return { outcome: 'fail', label, network: true, ...networkProblem(error, url, timeoutMs) };
  }
  const status = response.status;
  const body = parseJson(text);
  if (status >= 200 && status < 300) {
    const described = probe.describe?.(response, body) ?? `reachable (HTTP ${status})`;
    return typeof described === 'string'
      ? { outcome: 'ok', label, message: described, status }
      : described;
  }
  if (probe.anyAnswer && status === 401) {
    // sb_secret_ keys are not JWTs: functions deployed with verify_jwt reject them.
    const message = 'gateway reachable, but it rejects this key (HTTP 401)';
    const fix =
      'functions that verify JWTs need the service_role JWT, or deploy them with --no-verify-jwt';
    return { outcome: 'warn', label, message, fix, status };
  }
  if (probe.anyAnswer && status < 500) {
    return { outcome: 'ok', label, message: `gateway reachable (HTTP ${status})`, status };
  }
  const detail = serverMessage(body, key);
  return { outcome: 'fail', label, status, ...httpProblem(status, detail, new URL(url).pathname) };
}

function httpProblem(
  status: number,
  detail: string,
  path: string,
): { message: string; fix: string } {
  const said = detail ? ` ("${detail}")` : '';
  if (status === 401) {
    return { message: `401 Unauthorized: invalid or expired API key${said}`, fix: KEYS_FIX };
  }
  if (status === 403) {
    return {
      message: `403 Forbidden: an RLS policy or a non-service key${said}`,
      fix: 'use the service_role key (Dashboard → Settings → API), or check the RLS policies',
    };
  }
  if (status === 404) {
    return {
      message: `404 Not Found at ${path}${said}`,
      fix: 'project_url must be the API URL https://<ref>.supabase.co (Dashboard → Settings → API), with no path',
    };
  }
  if (status === 429) {
    return {
      message: `429 Too Many Requests${said}`,
      fix: 'wait a minute and run nudge doctor again',
    };
  }
  if (status >= 500) {
    return {
      message: `Supabase returned ${status}${said}`,
      fix: 'check status.supabase.com (or the logs of a self-hosted stack) and try again',
    };
  }
  if (status >= 300 && status < 400) {
    return {
      message: `redirected (HTTP ${status})${said}`,
      fix: 'project_url must be the API URL https://<ref>.supabase.co, not the dashboard URL',
    };
  }
  return { message: `unexpected HTTP ${status}${said}`, fix: 'check project_url and api_key' };
}

function networkProblem(
  error: unknown,
  url: string,
  timeoutMs: number,
): { message: string; fix: string } {
  const host = new URL(url).host;
  const e = error as {
    name?: string;
    message?: string;
    cause?: { code?: string; message?: string };
  };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') {
    return {
      message: `no answer from ${host} within ${timeoutMs / 1000}s`,
      fix: 'check your network, proxy or firewall, and status.supabase.com',
    };
  }
  const code = e.cause?.code;
  if (code === 'ECONNREFUSED') {
    return {
      message: `connection refused by ${host}`,
      fix: 'check project_url; for a local stack, is `supabase start` running?',
    };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return {
      message: `host not found: ${host}`,
      fix: 'check project_url (Dashboard → Settings → API → Project URL) and your DNS',
    };
  }
  return {
    message: `cannot reach ${host}: ${code ?? e.cause?.message ?? e.message ?? String(error)}`,
    fix: 'check project_url, your network and status.supabase.com',
  };
}

export function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/** The server's own words (msg / message / error), short, with the key removed. */
export function serverMessage(body: unknown, key: string): string {
  if (!body || typeof body !== 'object') return '';
  const b = body as Record<string, unknown>;
  const text = [b.msg, b.message, b.error_description, b.error].find(
    (v) => typeof v === 'string',
  ) as string | undefined;
  if (!text) return '';
  const clean = redactKey(text, key).replace(/\s+/g, ' ').trim();
  return clean.length > 120 ? `${clean.slice(0, 117)}…` : clean;
}

export function redactKey(text: string, key: string): string {
  return key ? text.split(key).join('***') : text;
}
