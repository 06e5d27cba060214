// What a failed attempt means: retry later (and when), or give up now. One
// place decides it for every provider, so a 503 from Resend and a 503 from a
// webhook receiver are treated alike.
import postgres from 'postgres';
import { isPermanent } from '../db/errors.js';
import { PermanentError, RetryableError } from './types.js';

export interface Verdict {
  retry: boolean;
  /** The server's Retry-After, when it gave one. */
  retryAfterMs?: number;
  message: string;
}

/**
 * PermanentError gives up; RetryableError retries. Database errors retry
 * unless they say the data or the statement itself is wrong (isPermanent,
 * db/errors.ts: SQLSTATE class 22, 23 or 42), which no retry fixes.
 * Anything else (a network error thrown past a provider, a bug) retries: it
 * ends dead after the last attempt, visible and replayable, instead of lost.
 */
export function judge(error: unknown): Verdict {
  const message = describe(error);
  if (error instanceof PermanentError) return { retry: false, message };
  if (error instanceof RetryableError) {
    return error.retryAfterMs === undefined
      ? { retry: true, message }
      : { retry: true, retryAfterMs: error.retryAfterMs, message };
  }
  if (error instanceof postgres.PostgresError && isPermanent(error)) {
    return { retry: false, message };
  }
  return { retry: true, message };
}

/** A one-line description for last_error and logs: never a stack, never a request. */
export function describe(error: unknown): string {
  let text: string;
  if (error instanceof postgres.PostgresError) text = `${error.message} (SQLSTATE ${error.code})`;
  else if (error instanceof Error) text = error.message || error.name;
  else text = String(error);
  return text.length > 1000 ? `${text.slice(0, 997)}...` : text;
}

/**
 * Exponential backoff with "equal jitter": the ceiling doubles with every
 * attempt made so far (base, 2·base, 4·base, ... up to max) and the delay is
 * drawn from its upper half, so retries of many runs that failed together
 * spread out instead of arriving together again.
 */
export function backoffMs(
  attemptsBefore: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attemptsBefore, 40));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** The longest Retry-After an action honours when actions.backoff_max_ms is shorter: an hour. */
export const RETRY_AFTER_MAX_MS = 3_600_000;

/** The longest Retry-After an action honours: actions.backoff_max_ms or an hour, whichever is longer. */
export function retryAfterLimitMs(backoffMaxMs: number): number {
  return Math.max(backoffMaxMs, RETRY_AFTER_MAX_MS);
}

/**
 * The wait before a failed run's next attempt: the server's Retry-After when
 * it gave one no longer than actions.backoff_max_ms or an hour, whichever is
 * longer; otherwise the backoff. A longer ask (a year; more seconds than an
 * interval holds) is not honoured — the run would sit retrying, neither sent
 * nor dead and so not replayable, for as long as it asked — and is returned
 * as `refusedMs`: the run backs off as if none was given, and the attempt
 * counts towards max_attempts as any other.
 */
export function retryDelay(
  verdict: Verdict,
  attemptsBefore: number,
  actions: { backoff_base_ms: number; backoff_max_ms: number },
  random: () => number = Math.random,
): { delayMs: number; refusedMs?: number } {
  const asked = verdict.retryAfterMs;
  if (asked !== undefined && asked <= retryAfterLimitMs(actions.backoff_max_ms)) {
    return { delayMs: asked };
  }
  const delayMs = backoffMs(
    attemptsBefore,
    actions.backoff_base_ms,
    actions.backoff_max_ms,
    random,
  );
  return asked === undefined ? { delayMs } : { delayMs, refusedMs: asked };
}
