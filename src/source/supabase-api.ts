// The HTTP client for API mode (a project URL and a service-role key, no
// database URL): the Auth admin API's user list and PostgREST's table reads,
// within a token-bucket rate limit, honouring 429 Retry-After and backing off
// on 5xx and network errors. The key is sent in headers, never printed.
import { NudgeError } from '../errors.js';
import { retryAfterMs } from '../retry-after.js';
import type { TableName } from './names.js';
import { parseJson, serverMessage } from './supabase-http.js';

export interface SupabaseApiOptions {
  projectUrl: string;
  key: string;
  rateLimit: { requestsPerSecond: number; burst: number };
  /** Called once per HTTP answer (log_queries): method, path and query, status, time. */
  onRequest?: (line: string) => void;
  /** Called before each wait (rate limit, Retry-After, backoff). */
  onWait?: (wait: ApiWait) => void;
  /** Retries of one request after 429, 5xx or a network error. */
  maxRetries?: number;
  /** Longest Retry-After we are willing to wait. */
  maxRetryAfterMs?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** For tests: how to wait (default: a timer) and the rate limit's clock. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** A wait the client made before a request: to stay in the rate limit, because the server said so, or after a failure. */
export interface ApiWait {
  reason: 'rate-limit' | 'retry-after' | 'backoff';
  ms: number;
  path: string;
}

export class SupabaseApiError extends NudgeError {
  override name = 'SupabaseApiError';
  constructor(
    message: string,
    readonly status: number | undefined,
    hint?: string,
  ) {
    super(message, hint);
  }
}

const KEYS_HINT =
  'copy the service_role key from Dashboard → Settings → API into connectors.supabase.api_key';

export interface UserPage {
  users: Record<string, unknown>[];
  /** X-Total-Count, when sent. */
  total: number | null;
  /** Whether the Link header names a next page. */
  hasNext: boolean;
}

export interface RowQuery {
  select: string[];
  /** PostgREST filters as query parameters, e.g. ['id', 'gt.42'] or ['or', '(a.gt.1,...)']. */
  filters?: [string, string][];
  order: string[];
  limit: number;
  offset?: number;
}

export interface OpenApiColumn {
  name: string;
  /** The PostgreSQL type PostgREST reports, e.g. `timestamp with time zone`. */
  format: string;
  primaryKey: boolean;
  /** `users.id` for a foreign key note, when PostgREST gives one. */
  references?: string;
}

export interface SupabaseApi {
  listUsers(page: number, perPage: number): Promise<UserPage>;
  /** One user, or null when the Auth API says it does not exist (404). */
  getUser(id: string): Promise<Record<string, unknown> | null>;
  selectRows(table: TableName, query: RowQuery): Promise<Record<string, unknown>[]>;
  /** Tables PostgREST exposes in `schema`, from its OpenAPI description. */
  describeTables(schema: string): Promise<Map<string, OpenApiColumn[]>>;
  readonly waits: ApiWait[];
  readonly requests: number;
}

export function makeSupabaseApi(options: SupabaseApiOptions): SupabaseApi {
  const base = options.projectUrl.replace(/\/+$/, '');
  const sleep = options.sleep ?? ((ms: number) => delay(ms, options.signal));
  const maxRetries = options.maxRetries ?? 6;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 120_000;
  const bucket = makeTokenBucket(
    options.rateLimit.requestsPerSecond,
    options.rateLimit.burst,
    options.now,
  );
  const waits: ApiWait[] = [];
  let requests = 0;

  async function wait(reason: ApiWait['reason'], ms: number, path: string) {
    if (ms <= 0) return;
    const entry = { reason, ms, path };
    waits.push(entry);
    options.onWait?.(entry);
    await sleep(ms);
  }

  async function request(
    path: string,
    headers: Record<string, string> = {},
  ): Promise<{ response: Response; body: unknown }> {
    for (let attempt = 0; ; attempt++) {
      options.signal?.throwIfAborted();
      await wait('rate-limit', bucket.take(), path);
      const started = performance.now();
      let response: Response;
      let text: string;
      try {
        requests++;
        response = await fetch(`${base}${path}`, {
          headers: {
            apikey: options.key,
            Authorization: `Bearer ${options.key}`,
            Accept: 'application/json',
            ...headers,
          },
          signal: AbortSignal.any([
            AbortSignal.timeout(options.timeoutMs ?? 30_000),
            ...(options.signal ? [options.signal] : []),
          ]),
          redirect: 'manual',
        });
        text = await response.text();
      } catch (error) {
        options.signal?.throwIfAborted();
        const why = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
        options.onRequest?.(`GET ${path} → ${why}`);
        if (attempt >= maxRetries) {
          throw new SupabaseApiError(
            `cannot reach ${new URL(base).host} (${why}) after ${attempt + 1} attempts`,
            undefined,
            'check project_url, your network and status.supabase.com; run again to continue',
          );
        }
        await wait('backoff', backoffMs(attempt), path);
        continue;
      }
      const ms = Math.round(performance.now() - started);
      options.onRequest?.(`GET ${path} → ${response.status} (${ms} ms)`);
      const body = parseJson(text);
      if (response.ok) return { response, body };
      const retryable = response.status === 429 || response.status >= 500;
      if (!retryable || attempt >= maxRetries) {
        throw httpError(response.status, path, serverMessage(body, options.key), attempt);
      }
      if (response.status === 429) {
        const after = retryAfterMs(response.headers.get('retry-after'));
        if (after !== undefined && after > maxRetryAfterMs) {
          throw new SupabaseApiError(
            `Supabase asked us to wait ${Math.ceil(after / 1000)}s before more requests (429 Too Many Requests)`,
            429,
            'lower connectors.supabase.rate_limit.requests_per_second, or run again later to continue',
          );
        }
        await wait('retry-after', after ?? backoffMs(attempt), path);
      } else {
        await wait('backoff', backoffMs(attempt), path);
      }
    }
  }

  return {
    get waits() {
      return waits;
    },
    get requests() {
      return requests;
    },
    async listUsers(page, perPage) {
      const path = `/auth/v1/admin/users?page=${page}&per_page=${perPage}`;
      const { response, body } = await request(path);
      const users = (body as { users?: unknown } | null)?.users;
      if (!Array.isArray(users)) {
        throw new SupabaseApiError(
          'the Auth admin API answered, but not with a user list',
          response.status,
          'project_url must be the API URL https://<ref>.supabase.co (Dashboard → Settings → API)',
        );
      }
      const total = response.headers.get('x-total-count');
      return {
        users: users as Record<string, unknown>[],
        total: total !== null && /^\d+$/.test(total) ? Number(total) : null,
        hasNext: /rel="?next"?/.test(response.headers.get('link') ?? ''),
      };
    },
    async getUser(id) {
      try {
        const { body } = await request(`/auth/v1/admin/users/${encodeURIComponent(id)}`);
        return body as Record<string, unknown>;
      } catch (error) {
        if (error instanceof SupabaseApiError && error.status === 404) return null;
        throw error;
      }
    },
    async selectRows(table, query) {
      const params = new URLSearchParams();
      params.set('select', query.select.map(postgrestName).join(','));
      for (const [name, value] of query.filters ?? []) params.append(name, value);
      params.set('order', query.order.map((c) => `${postgrestName(c)}.asc`).join(','));
      params.set('limit', String(query.limit));
      if (query.offset) params.set('offset', String(query.offset));
      const path = `/rest/v1/${encodeURIComponent(table.table)}?${params}`;
      const { response, body } = await request(path, profile(table.schema));
      if (!Array.isArray(body)) {
        throw new SupabaseApiError(
          `PostgREST answered ${path.split('?')[0]} but not with rows`,
          response.status,
        );
      }
      return body as Record<string, unknown>[];
    },
    async describeTables(schema) {
      const { body } = await request('/rest/v1/', profile(schema));
      const definitions = (body as { definitions?: unknown } | null)?.definitions;
      const tables = new Map<string, OpenApiColumn[]>();
      if (!definitions || typeof definitions !== 'object') return tables;
      for (const [table, definition] of Object.entries(definitions)) {
        const properties = (definition as { properties?: Record<string, unknown> }).properties;
        tables.set(
          table,
          Object.entries(properties ?? {}).map(([name, property]) => {
            const p = property as { format?: unknown; description?: unknown };
            const note = typeof p.description === 'string' ? p.description : '';
            const fk = /<fk table='([^']+)' column='([^']+)'\/>/.exec(note);
            return {
              name,
              format: typeof p.format === 'string' ? p.format : '',
              primaryKey: note.includes('<pk/>'),
              ...(fk ? { references: `${fk[1]}.${fk[2]}` } : {}),
            };
          }),
        );
      }
      return tables;
    },
  };
}

/** PostgREST reads other schemas than `public` through a profile header. */
function profile(schema: string): Record<string, string> {
  return schema === 'public' ? {} : { 'Accept-Profile': schema };
}

/** Column names in select/order: plain ones as is, others double-quoted. */
export function postgrestName(column: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(column) ? column : `"${column.replaceAll('"', '\\"')}"`;
}

/** A value inside a PostgREST filter or logic tree, quoted so commas, dots and parentheses are safe. */
export function postgrestValue(value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

function httpError(status: number, path: string, said: string, attempt: number) {
  const where = path.startsWith('/auth/') ? 'the Auth admin API' : 'PostgREST';
  const quote = said ? ` (server said: "${said}")` : '';
  const endpoint = path.split('?')[0];
  if (status === 401) {
    return new SupabaseApiError(
      `401 Unauthorized from ${where} at ${endpoint}: the API key is invalid or expired${quote}`,
      401,
      KEYS_HINT,
    );
  }
  if (status === 403) {
    return new SupabaseApiError(
      `403 Forbidden from ${where} at ${endpoint}: the key is not a service_role key, or an RLS policy hides the rows${quote}`,
      403,
      KEYS_HINT,
    );
  }
  if (status === 404) {
    return new SupabaseApiError(
      `404 Not Found from ${where} at ${endpoint}${quote}`,
      404,
      where === 'PostgREST'
        ? 'is the table in a schema the API exposes (Dashboard → Settings → API → Exposed schemas)?'
        : 'project_url must be the API URL https://<ref>.supabase.co, with no path',
    );
  }
  const tries = attempt > 0 ? ` after ${attempt + 1} attempts` : '';
  return new SupabaseApiError(
    `${where} answered ${status} at ${endpoint}${tries}${quote}`,
    status,
    status === 429 || status >= 500
      ? 'check status.supabase.com; run again later to continue where this stopped'
      : undefined,
  );
}

/** 0.5s, 1s, 2s, ... up to 30s, with up to 20% jitter so parallel clients spread out. */
function backoffMs(attempt: number): number {
  const base = Math.min(30_000, 500 * 2 ** attempt);
  return Math.round(base * (1 + Math.random() * 0.2));
}

/**
 * A token bucket: `burst` requests at once, refilled at `perSecond`. take()
 * spends a token and says how long to wait first (tokens may go negative:
 * each caller waits for its own turn).
 */
export function makeTokenBucket(perSecond: number, burst: number, now = () => performance.now()) {
  let tokens = burst;
  let last = now();
  return {
    take(): number {
      const at = now();
      tokens = Math.min(burst, tokens + ((at - last) / 1000) * perSecond);
      last = at;
      tokens -= 1;
      return tokens >= 0 ? 0 : Math.ceil((-tokens / perSecond) * 1000);
    },
  };
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
