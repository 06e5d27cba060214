// A read-only connection through a pooler ('transaction': each statement in
// its own BEGIN READ ONLY … COMMIT on one held connection) whose connection
// is cut with no word from the server, as a network or a pooler restart
// does, while another statement waits for it. The waiting statement must run
// on the connection made again, read-only. It waited forever when the
// connection was held with postgres.js's reserve(): a reserve waiting when a
// connection closes is handed to the reconnection and dropped there
// (porsager/postgres#1195, 3.4.9). The relay below stands between the pool
// and the test server and can cut every connection through it.
import { connect, createServer, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { openSource } from '../../src/source/connect.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';

const db = useDatabase();

/** A TCP relay to the test server; `cut()` destroys every connection through it, silently. */
async function startRelay(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  const keep = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  };
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    keep(client);
    keep(upstream);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    cut: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

const relays: { close(): Promise<unknown> }[] = [];
afterAll(async () => {
  await Promise.all(relays.map((relay) => relay.close()));
});

describe('a read-only pool held statement by statement', () => {
  it('runs a statement that waited for a connection cut meanwhile', async () => {
    const server = new URL(db.url);
    const relay = await startRelay({ host: server.hostname, port: Number(server.port) });
    relays.push(relay);
    const url = Object.assign(new URL(db.url), { port: String(relay.port) }).toString();
    const sql = await openSource({ url, readOnly: true, readOnlyBy: 'transaction', max: 1 });
    let first: number | undefined;
    try {
      const held = sql`select pg_sleep(60) as held_by_the_cut_connection`.then(
        () => 'ran',
        (error: { code?: string }) => error.code,
      );
      first = await waitFor(async () => {
        const [row] = await db.sql<{ pid: number }[]>`select pid from pg_stat_activity
          where query like '%held_by_the_cut_connection%' and pid <> pg_backend_pid()`;
        return row?.pid;
      }, 'the long statement to run');
      // Waits for the one connection, which the long statement holds.
      const waiting = sql<{ pid: number; ro: string }[]>`
        select pg_backend_pid() as pid, current_setting('transaction_read_only') as ro`;
      // postgres.js sends a statement once the tick that made it ends.
      await new Promise((resolve) => setImmediate(resolve));
      relay.cut();
      expect(await held).toBe('CONNECTION_CLOSED');
      const [row] = await Promise.race([
        waiting,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('the waiting statement never ran')), 20_000),
        ),
      ]);
      expect(row!.pid).not.toBe(first);
      expect(row!.ro).toBe('on');
    } finally {
      if (first) await db.sql`select pg_terminate_backend(${first})`;
      await sql.end({ timeout: 1 });
    }
  });
});
