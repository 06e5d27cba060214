// Whether a form post or a change comes from the dashboard's own origin:
// the server's address as it sees it, or server.public_url's behind a proxy
// that ends TLS; a "null" Origin only with Sec-Fetch-Site: same-origin.
import type { Context } from 'hono';
import { describe, expect, it } from 'vitest';
import { sameOrigin } from './access.js';

/** A request to the server as a proxy forwards it: plain http, the public host. */
function post(headers: Record<string, string>): Context {
  return {
    req: {
      url: 'http://nudge.example.com/login',
      header: (name: string) => headers[name.toLowerCase()],
    },
  } as unknown as Context;
}

const PUBLIC = 'https://nudge.example.com';

describe('sameOrigin', () => {
  it.each([
    [{ origin: 'http://nudge.example.com' }, undefined, true],
    [{ origin: 'https://nudge.example.com' }, undefined, false],
    [{ origin: 'https://nudge.example.com' }, PUBLIC, true],
    [{ origin: 'https://evil.example' }, PUBLIC, false],
    [{ origin: 'null', 'sec-fetch-site': 'same-origin' }, PUBLIC, true],
    [{ origin: 'null', 'sec-fetch-site': 'same-site' }, PUBLIC, false],
    [{ origin: 'null' }, PUBLIC, false],
    [{ 'sec-fetch-site': 'cross-site' }, PUBLIC, false],
  ] as const)('%j with public_url %s: %s', (headers, publicUrl, expected) => {
    expect(sameOrigin(post(headers), publicUrl)).toBe(expected);
  });
});
