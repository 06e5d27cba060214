import { expect, it } from 'vitest';
import { retryAfterMs } from './retry-after.js';

it('reads Retry-After as seconds or an HTTP date', () => {
  const now = Date.parse('2024-01-01T00:00:00Z');
  expect(retryAfterMs('2', now)).toBe(2000);
  expect(retryAfterMs(' 1.5 ', now)).toBe(1500);
  expect(retryAfterMs('Mon, 01 Jan 2024 00:00:05 GMT', now)).toBe(5000);
  expect(retryAfterMs('Sun, 31 Dec 2023 23:59:00 GMT', now)).toBe(0);
  expect(retryAfterMs('soon', now)).toBeUndefined();
  expect(retryAfterMs(null, now)).toBeUndefined();
});
