// Outgoing HTTP for the actions that call an API (Resend, webhooks, Edge
// Functions): one timeout, one reading of status codes and Retry-After, and
// messages that name the host only (URLs and headers may carry secrets).
import { createHash } from 'node:crypto';
import http, { validateHeaderName, validateHeaderValue } from 'node:http';
import https from 'node:https';
import { retryAfterMs } from '../retry-after.js';
import { NUDGE_VERSION } from '../version.js';
import { cutText } from './result.js';
import { PermanentError, RetryableError } from './types.js';

export interface HttpRequest {
  url: string;
  method: 'POST' | 'PUT' | 'PATCH';
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** What is being called, for messages: "webhook", "Resend", "edge function welcome". */
  name: string;
}

export interface HttpAnswer {
  status: number;
  headers: { get(name: string): string | null };
  text: string;
  /** The body parsed as JSON, when it is JSON. */
  json: unknown;
}

export const USER_AGENT = `Nudge/${NUDGE_VERSION}`;

/** An absolute http(s) URL, or a PermanentError that does not echo the value. */
export function httpUrl(value: unknown, what: string): URL {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new PermanentError(`${what} is not an absolute http(s) URL`);
  }
  return url;
}

/**
 * Connections are kept open between requests to one host (most actions of a
 * feature go to the same receiver). node:http rather than fetch: fetch cost
 * about three times the CPU per request, which the end-to-end benchmark felt.
 */
const agents = {
  'http:': new http.Agent({ keepAlive: true }),
  'https:': new https.Agent({ keepAlive: true }),
};

/** A response body past this is not kept (a run's result keeps RESULT_TEXT_UNITS of it). */
const MAX_BODY_BYTES = 1 << 20;

/** A body longer than this (UTF-16 units), JSON or not, is kept in a run's result as its start, as text. */
const RESULT_TEXT_UNITS = 2000;

/**
 * Sends the request and reads the whole answer within `timeoutMs`. Network
 * errors and timeouts are RetryableError: the request may or may not have
 * arrived, which is why every call carries the run's idempotency key.
 * Redirects are not followed (a POST must not silently turn into a GET).
 */
export async function send(request: HttpRequest): Promise<HttpAnswer> {
  checkHeaders(request);
  try {
    return await sendOnce(request);
  } catch (error) {
    // A kept-alive connection the server had just closed: nothing was
    // received, so the request goes again at once on a new connection.
    if (error instanceof StaleConnection) return sendOnce(request);
    throw error;
  }
}

class StaleConnection extends RetryableError {}

/**
 * Node refuses to send a header whose name is not an HTTP token, or whose
 * value has a line break or a character past Latin-1 (a Liquid header that
 * renders a contact's `Zoë 🎉`): no attempt would ever send it, so it is a
 * PermanentError, naming the header and never its value (it may be a secret).
 */
function checkHeaders(request: HttpRequest): void {
  for (const [name, value] of Object.entries(request.headers)) {
    try {
      validateHeaderName(name);
    } catch {
      throw new PermanentError(
        `${request.name} header name ${JSON.stringify(cutText(name, 100))} is not an HTTP token (letters, digits and !#$%&'*+-.^_\`|~ only)`,
      );
    }
    try {
      validateHeaderValue(name, value);
    } catch {
      throw new PermanentError(
        `${request.name} header ${name} has a character HTTP cannot carry (a line break, or one past Latin-1 such as an emoji): percent-encode it, e.g. with Liquid's url_encode`,
      );
    }
  }
}

function sendOnce(request: HttpRequest): Promise<HttpAnswer> {
  const url = new URL(request.url);
  const secure = url.protocol === 'https:';
  return new Promise<HttpAnswer>((resolve, reject) => {
    let timedOut = false;
    let answered = false;
    const req = (secure ? https : http).request(
      url,
      {
        method: request.method,
        agent: agents[secure ? 'https:' : 'http:'],
        headers: {
          'user-agent': USER_AGENT,
          ...request.headers,
          'content-length': String(Buffer.byteLength(request.body)),
        },
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < MAX_BODY_BYTES) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('error', fail);
        res.on('end', () => {
          clearTimeout(timer);
          // PostgreSQL text and jsonb cannot hold NUL, and answers end up in
          // a run's result and error: NUL characters are dropped here, raw
          // or escaped in JSON.
          const text = withoutNul(Buffer.concat(chunks).toString('utf8'));
          let json: unknown;
          try {
            json = text
              ? JSON.parse(text, (_key, value) =>
                  typeof value === 'string' ? withoutNul(value) : value,
                )
              : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: headerReader(res.headers), text, json });
        });
      },
    );
    const timer = setTimeout(() => {
      timedOut = true;
      req.destroy();
    }, request.timeoutMs);
    function fail(error: Error) {
      clearTimeout(timer);
      if (timedOut) {
        reject(
          new RetryableError(
            `${request.name} at ${url.host} did not answer within ${request.timeoutMs} ms`,
          ),
        );
        return;
      }
      const code = (error as { code?: string }).code;
      const message = `${request.name} at ${url.host} could not be reached: ${code ?? error.message}`;
      const stale = req.reusedSocket && code === 'ECONNRESET' && !answered;
      reject(stale ? new StaleConnection(message) : new RetryableError(message));
    }
    req.on('error', fail);
    req.end(request.body);
  });
}

function headerReader(headers: http.IncomingHttpHeaders): HttpAnswer['headers'] {
  return {
    get(name: string) {
      const value = headers[name.toLowerCase()];
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

/**
 * undefined for 2xx; otherwise the error to throw. 429 and 503 carry the
 * server's Retry-After; 408, 429 and 5xx are retryable; 3xx and other 4xx are
 * permanent (the request as configured will never be accepted).
 */
export function failureOf(answer: HttpAnswer, name: string, detail?: string): Error | undefined {
  const { status } = answer;
  if (status >= 200 && status < 300) return undefined;
  const why = detail ?? briefBody(answer);
  const message = `${name} answered ${status}${why ? `: ${why}` : ''}`;
  if (status === 408 || status === 429 || status >= 500) {
    return new RetryableError(message, retryAfterMs(answer.headers.get('retry-after')));
  }
  if (status >= 300 && status < 400) {
    return new PermanentError(`${message} (redirect to ${answer.headers.get('location') ?? '?'})`);
  }
  return new PermanentError(message);
}

/** The start of a response body, for an error message. */
export function briefBody(answer: HttpAnswer): string {
  const json = answer.json as { message?: unknown; error?: unknown } | undefined;
  const text =
    typeof json?.message === 'string'
      ? json.message
      : typeof json?.error === 'string'
        ? json.error
        : answer.text;
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 300 ? `${oneLine.slice(0, 297)}...` : oneLine;
}

/**
 * The parsed body when JSON, else the text, for a run's result; a long body,
 * JSON or not, is its start as text, cut where a character ends (never between
 * the halves of a surrogate pair, which no jsonb can hold).
 */
export function resultBody(answer: HttpAnswer): unknown {
  if (answer.text.length > RESULT_TEXT_UNITS) {
    return `${cutText(answer.text, RESULT_TEXT_UNITS)}...`;
  }
  if (answer.json !== undefined) return answer.json;
  return answer.text || null;
}

/**
 * The run's key as an Idempotency-Key header: as is when it fits (APIs cap it,
 * Resend at 256 characters), else its SHA-256, which is just as stable.
 */
export function idempotencyKey(key: string): string {
  if (key.length <= 255 && /^[\x21-\x7e]+$/.test(key)) return key;
  return `sha256-${createHash('sha256').update(key).digest('hex')}`;
}

function withoutNul(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '') : text;
}
