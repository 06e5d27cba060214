import { describe, expect, it } from 'vitest';
import { RETRY_AFTER_MAX_MS, retryDelay } from './retry.js';

describe('retryDelay', () => {
  const actions = { backoff_base_ms: 1000, backoff_max_ms: 60_000 };
  const half = () => 0.5;
  const retry = (retryAfterMs?: number) =>
    retryAfterMs === undefined
      ? { retry: true, message: 'webhook answered 503' }
      : { retry: true, retryAfterMs, message: 'webhook answered 429' };

  it('waits as Retry-After asks, up to an hour even past backoff_max_ms', () => {
    expect(retryDelay(retry(2000), 0, actions, half)).toEqual({ delayMs: 2000 });
    expect(retryDelay(retry(RETRY_AFTER_MAX_MS), 0, actions, half)).toEqual({
      delayMs: RETRY_AFTER_MAX_MS,
    });
    // A backoff_max_ms past the hour raises the limit with it.
    const long = { ...actions, backoff_max_ms: 6 * RETRY_AFTER_MAX_MS };
    expect(retryDelay(retry(5 * RETRY_AFTER_MAX_MS), 0, long, half)).toEqual({
      delayMs: 5 * RETRY_AFTER_MAX_MS,
    });
  });

  it('backs off as if none was given for a longer ask, and says what it refused', () => {
    // The third attempt's backoff: ceiling 4000, drawn from its upper half.
    expect(retryDelay(retry(), 2, actions, half)).toEqual({ delayMs: 3000 });
    expect(retryDelay(retry(RETRY_AFTER_MAX_MS + 1), 2, actions, half)).toEqual({
      delayMs: 3000,
      refusedMs: RETRY_AFTER_MAX_MS + 1,
    });
    expect(retryDelay(retry(31_536_000_000), 2, actions, half).delayMs).toBe(3000);
    expect(retryDelay(retry(1e23), 2, actions, half).delayMs).toBe(3000);
    expect(retryDelay(retry(Number.POSITIVE_INFINITY), 2, actions, half).delayMs).toBe(3000);
  });
});
