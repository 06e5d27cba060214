// Outgoing HTTP for the actions that call an API (Resend, webhooks, Edge
// Functions): one timeout, one reading of status codes and Retry-After, and
// messages that name the host only (URLs and headers may carry secrets).
import { createHash } from 'node:crypto';
import { NUDGE_VERSION } from '../version.js';
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
  headers: Headers;
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
 * Sends the request and reads the whole answer within `timeoutMs`. Network
 * errors and timeouts are RetryableError: the request may or may not have
 * arrived, which is why every call carries the run's idempotency key.
 * Redirects are not followed (a POST must not silently turn into a GET).
 */
export async function send(request: HttpRequest): Promise<HttpAnswer> {
  const host = new URL(request.url).host;
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: { 'user-agent': USER_AGENT, ...request.headers },
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(request.timeoutMs),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      throw new RetryableError(
        `${request.name} at ${host} did not answer within ${request.timeoutMs} ms`,
      );
    }
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new RetryableError(`${request.name} at ${host} could not be reached: ${why}`);
  }
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

/** Retry-After as delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
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

/** The parsed body when JSON, else the text (capped), for a run's result. */
export function resultBody(answer: HttpAnswer): unknown {
  if (answer.text.length > 2000) return `${answer.text.slice(0, 2000)}...`;
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
