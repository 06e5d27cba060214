// One logical replication session on postgres.js: START_REPLICATION of the
// slot with pgoutput, the server's messages handed over one at a time, and
// the standby status updates that tell the server how far it may let go.
// postgres.js's own `subscribe` is not used: it makes a temporary slot of a
// random name (so a restart loses what happened while it was down) and
// acknowledges what it has received, not what the caller has stored
// (docs/replication.md). The position sent here is only ever one the caller
// passed to `acknowledge`. The server sends a keepalive each time its
// walsender waits for WAL with the client's position behind what it has
// sent: on a busy database about once per commit of any table, published or
// not. The consumer acknowledges each one it can (consumer.ts); sent at once,
// that was a reply per commit for the walsender to read, so a position
// acknowledged within `acknowledgeMs` of the last reply waits for the rest
// of it, the latest position winning.
import type { Duplex } from 'node:stream';
import { ident, literal } from '../../../db/quote.js';
import { postgresFor } from '../../../db/tls.js';
import type { Lsn } from './pgoutput.js';

export type StreamMessage =
  | { kind: 'data'; start: Lsn; payload: Buffer }
  | { kind: 'keepalive'; end: Lsn; reply: boolean };

export interface ReplicationStream {
  /** Tells the server everything up to `lsn` is stored (never goes back). */
  acknowledge(lsn: Lsn): void;
  pause(): void;
  resume(): void;
  /** Resolves when the session ends (closed by either side), rejects on its error. */
  ended: Promise<void>;
  close(): Promise<void>;
}

/** Microseconds since 2000-01-01, as the protocol counts time. */
function pgNow(): bigint {
  return BigInt(Date.now() - Date.UTC(2000, 0, 1)) * 1000n;
}

export async function openReplicationStream(options: {
  url: string;
  slot: string;
  publications: string[];
  /** Ask for logical decoding messages too (pg_logical_emit_message; PostgreSQL 14+). */
  messages?: boolean;
  onMessage: (message: StreamMessage) => void;
  /** How often to report the acknowledged position without being asked (ms). */
  statusMs?: number;
  /** A position acknowledged within this long of the last reply waits for the rest of it (ms, 10; 0: at once). */
  acknowledgeMs?: number;
}): Promise<ReplicationStream> {
  const sql = postgresFor(options.url, {
    max: 1,
    fetch_types: false,
    idle_timeout: 0,
    max_lifetime: null,
    onnotice: () => {},
    connection: { replication: 'database', application_name: `nudge replication ${options.slot}` },
    // Only what the session needs: no subscribe machinery of its own.
    ...({ no_subscribe: true } as object),
  });
  let stream: Duplex;
  try {
    stream = (await sql
      .unsafe(
        `START_REPLICATION SLOT ${ident(options.slot)} LOGICAL 0/0 (proto_version '1', publication_names ${literal(options.publications.join(','))}${options.messages ? `, messages 'true'` : ''})`,
      )
      .writable()) as unknown as Duplex;
  } catch (error) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw error;
  }
  let acknowledged = 0n;
  let statusAt = Number.NEGATIVE_INFINITY;
  let statusLater: NodeJS.Timeout | undefined;
  const status = () => {
    statusAt = performance.now();
    clearTimeout(statusLater);
    statusLater = undefined;
    const reply = Buffer.alloc(34);
    reply[0] = 0x72; // r
    reply.writeBigUInt64BE(acknowledged, 1); // written
    reply.writeBigUInt64BE(acknowledged, 9); // flushed
    reply.writeBigUInt64BE(acknowledged, 17); // applied
    reply.writeBigInt64BE(pgNow(), 25);
    reply[33] = 0;
    if (!stream.destroyed && stream.writable) stream.write(reply);
  };
  const timer = setInterval(status, options.statusMs ?? 1000);
  const ended = new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    stream.on('close', () => resolve());
    stream.on('end', () => resolve());
  }).finally(() => {
    clearInterval(timer);
    clearTimeout(statusLater);
  });
  ended.catch(() => {});
  stream.on('data', (chunk: Buffer) => {
    if (chunk[0] === 0x77 /* w: XLogData */) {
      options.onMessage({
        kind: 'data',
        start: chunk.readBigUInt64BE(1),
        payload: chunk.subarray(25),
      });
    } else if (chunk[0] === 0x6b /* k: keepalive */) {
      const reply = chunk[17] === 1;
      options.onMessage({ kind: 'keepalive', end: chunk.readBigUInt64BE(1), reply });
      if (reply) status();
    }
  });
  return {
    acknowledge(lsn) {
      if (lsn <= acknowledged) return;
      acknowledged = lsn;
      const wait = statusAt + (options.acknowledgeMs ?? 10) - performance.now();
      if (wait <= 0) status();
      else statusLater ??= setTimeout(status, wait);
    },
    pause: () => stream.pause(),
    resume: () => stream.resume(),
    ended,
    async close() {
      clearInterval(timer);
      status();
      await sql.end({ timeout: 1 }).catch(() => {});
      stream.destroy();
    },
  };
}
