// A local HTTP server standing in for third-party APIs in tests (Supabase,
// Resend, webhook receivers, Edge Functions): it records every request and
// answers from routes, a default handler, or scripted failures.
//
//   const rec = await startRecorder();
//   rec.route('GET', '/storage/v1/bucket', { body: [{ id: 'avatars' }] });
//   rec.route('POST', '/functions/v1/:name', (req, params) => ({ status: 200, body: params }));
//   rec.failNext(2, 429, { 'Retry-After': '1' });   // the next 2 requests get 429
//   rec.failNext(1, 'hang');                         // the next request is never answered
//   ... point the code under test at rec.url ...
//   const sent = await rec.waitFor((r) => r.path === '/emails');
//   await rec.close();
//
// Precedence: failNext queue, then routes (the latest added first, so a test
// can override a shared fake), then the handler given to startRecorder, then
// respondWith's default, then 404. Bodies that are not strings are sent as
// JSON. close() also ends requests left hanging.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body parsed as JSON, when it is JSON. */
  json?: unknown;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
}

/** 'hang' never answers (for timeouts). */
export type Answer = Reply | 'hang';
export type Handler = (
  request: RecordedRequest,
  params: Record<string, string>,
) => Answer | undefined | Promise<Answer | undefined>;

export interface Recorder {
  url: string;
  requests: RecordedRequest[];
  route(method: string, pattern: string, answer: Handler | Answer): void;
  respondWith(answer: Handler | Answer): void;
  failNext(
    count: number,
    status: number | 'hang',
    headers?: Record<string, string>,
    body?: unknown,
  ): void;
  /** Resolves with the first request (already received or future) matching; rejects after timeoutMs. */
  waitFor(
    predicate: (request: RecordedRequest) => boolean,
    timeoutMs?: number,
  ): Promise<RecordedRequest>;
  close(): Promise<void>;
}

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

const asHandler = (answer: Handler | Answer): Handler =>
  typeof answer === 'function' ? answer : () => answer;

/** `/functions/v1/:name` and a trailing `*` (any rest) become a RegExp with named parts. */
function compile(pattern: string): { pattern: RegExp; names: string[] } {
  const names: string[] = [];
  const source = pattern
    .split('/')
    .map((part) => {
      if (part === '*') return '.*';
      if (part.startsWith(':')) {
        names.push(part.slice(1));
        return '([^/]+)';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { pattern: new RegExp(`^${source}$`), names };
}

export async function startRecorder(handler?: Handler): Promise<Recorder> {
  const requests: RecordedRequest[] = [];
  const routes: Route[] = [];
  const failures: Answer[] = [];
  const waiters = new Set<(request: RecordedRequest) => void>();
  let fallback: Handler | undefined;

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://recorder');
    const body = Buffer.concat(chunks).toString('utf8');
    const request: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body,
    };
    try {
      request.json = body ? JSON.parse(body) : undefined;
    } catch {
      // not JSON: body stays text
    }
    requests.push(request);
    for (const waiter of waiters) waiter(request);

    let answer: Answer | undefined = failures.shift();
    for (const route of routes) {
      if (answer) break;
      if (route.method !== request.method) continue;
      const match = route.pattern.exec(request.path);
      if (!match) continue;
      const params = Object.fromEntries(route.names.map((name, i) => [name, match[i + 1] ?? '']));
      answer = await route.handler(request, params);
    }
    answer ??= (await handler?.(request, {})) ?? (await fallback?.(request, {}));
    answer ??= { status: 404, body: { error: `no route for ${request.method} ${request.path}` } };
    if (answer === 'hang') return;
    const isText = typeof answer.body === 'string';
    const payload =
      answer.body === undefined ? '' : isText ? String(answer.body) : JSON.stringify(answer.body);
    res.writeHead(answer.status ?? 200, {
      ...(answer.body !== undefined && !isText ? { 'content-type': 'application/json' } : {}),
      ...answer.headers,
    });
    res.end(payload);
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    route(method, pattern, answer) {
      routes.unshift({
        method: method.toUpperCase(),
        ...compile(pattern),
        handler: asHandler(answer),
      });
    },
    respondWith(answer) {
      fallback = asHandler(answer);
    },
    failNext(count, status, headers, body) {
      const answer: Answer =
        status === 'hang'
          ? 'hang'
          : {
              status,
              ...(headers ? { headers } : {}),
              body: body ?? { error: `scripted ${status}` },
            };
      for (let i = 0; i < count; i++) failures.push(answer);
    },
    waitFor(predicate, timeoutMs = 5000) {
      const seen = requests.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = (request: RecordedRequest) => {
          if (!predicate(request)) return;
          cleanup();
          resolve(request);
        };
        const timer = setTimeout(() => {
          cleanup();
          const got = requests.map((r) => `${r.method} ${r.path}`).join(', ') || 'none';
          reject(new Error(`no matching request within ${timeoutMs}ms (received: ${got})`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(waiter);
        };
        waiters.add(waiter);
      });
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}
