// Per-key rate limits for /v1: a token bucket per API key that holds
// `perMinute` requests and refills at perMinute/60 a second, so a key may
// burst to its minute's allowance and then goes at the steady rate. Buckets
// live in this process (each server process limits on its own) and only for
// keys that authenticated, so unknown callers cannot grow the map; a bucket
// that has refilled is forgotten.
import { HttpError } from '../http-error.js';

export interface RateLimiter {
  /** Takes one request from the key's bucket; a 429 with Retry-After when it is empty. */
  take(key: { id: string; name: string }): void;
}

export function makeRateLimiter(perMinute: number, now: () => number = Date.now): RateLimiter {
  const perMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  let sweptAt = now();

  const sweep = (time: number) => {
    if (time - sweptAt < 60_000) return;
    sweptAt = time;
    for (const [id, bucket] of buckets) {
      if (bucket.tokens + (time - bucket.at) * perMs >= perMinute) buckets.delete(id);
    }
  };

  return {
    take(key) {
      const time = now();
      sweep(time);
      const bucket = buckets.get(key.id) ?? { tokens: perMinute, at: time };
      bucket.tokens = Math.min(perMinute, bucket.tokens + Math.max(0, time - bucket.at) * perMs);
      bucket.at = time;
      buckets.set(key.id, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return;
      }
      const seconds = Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
      throw new HttpError(
        429,
        'rate_limited',
        `API key "${key.name}" is over server.rate_limit.per_minute (${perMinute}); retry in ${seconds}s`,
        { 'retry-after': String(seconds) },
      );
    },
  };
}
