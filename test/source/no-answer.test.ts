// A URL whose port answers, but not as PostgreSQL (an HTTP server here, the
// dashboard's port by mistake), is refused in bounded time with what to
// check, read-write and read-only alike; it waited for minutes without a word.
import { createServer } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { openSource } from '../../src/source/connect.js';

const http = createServer((_, response) => response.end('not postgres'));
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
const port = (http.address() as { port: number }).port;
afterAll(() => {
  http.closeAllConnections();
  http.close();
});

describe('openSource against a port that is not PostgreSQL', () => {
  it.each([false, true])(
    'gives up after its first answer deadline (read-only: %s)',
    async (readOnly) => {
      const url = `postgres://app:secret@127.0.0.1:${port}/app`;
      const error = await openSource({ url, readOnly, firstAnswerMs: 500 }).then(
        () => undefined,
        (e: Error & { hint?: string }) => e,
      );
      expect(error?.message).toBe(
        `cannot connect to postgres://app:***@127.0.0.1:${port}/app: no answer from a PostgreSQL server in 0.5 s`,
      );
      expect(error?.hint).toBe(
        'check the host and port: they may belong to another service, or a firewall may drop the packets',
      );
    },
  );
});
