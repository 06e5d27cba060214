// The replication consumer: streams the slot and hands every captured row to
// the engine through its one way in (insertInbox). What it promises:
//
// * Nothing lost. The server keeps the WAL from the slot's acknowledged
//   position on; a position is acknowledged only after the engine-store
//   transaction holding every change up to it has committed. A crash at any
//   moment leaves the rest to be streamed again.
// * Nothing twice. An inbox key is the commit LSN of the change's
//   transaction and the change's place in it (`<lsn>:<n>`), the same on
//   every re-read, and the inbox stores a key once. The inbox forgets keys
//   (engine.retention), and a slot can stream again what it was told of
//   long ago (its acknowledged position reaches disk only when its restart
//   point moves, which a long transaction on the source holds back; a crash
//   of the server goes back to it). So the transaction that stores changes
//   also stores, every 10 s, the last one's place
//   (nudge_engine.replication_marks, migration 026), and a session skips
//   every change at or before it; the inbox's keys cover what was stored
//   since (retention keeps those rows until the mark covers them). The
//   mark names the source server (system identifier and timeline): one from
//   another server, whose positions may start again lower, is not used.
// * Memory held to a few batches, whatever a transaction's size. pgoutput
//   (protocol 1) sends a transaction only after it has committed, and its
//   BEGIN already carries the commit's LSN, so the changes of a large one are
//   stored in parts of `batch` before its COMMIT arrives, under the keys they
//   would have had whole. Nothing of it is acknowledged until the COMMIT has
//   come and every part is stored: a restart streams it again from its start
//   and the inbox skips the parts it holds. The stream pauses while four
//   batches wait to be written (the server's walsender then waits, its own
//   memory bounded by logical_decoding_work_mem).
// * Commit order. pgoutput sends transactions in commit order, one after the
//   other; they go into the inbox in that order, by one consumer at a time:
//   the process holding a session advisory lock on the source database (and
//   the server lets one session stream a slot at a time anyway). Another
//   process takes over when it ends (its connection closes with it, kill -9
//   too) within `leaderPollMs`.
// * Only what the capture copies: rows are cut to its columns here, before
//   they are written anywhere (a table captured on update or delete is
//   published whole, see publication.ts).
// * A deploy's features from its commit on. A deploy that changes what is
//   captured writes a message in the stream with its publications
//   (publication.ts DEPLOY_MESSAGE); the transactions after it wait,
//   unstored, until the process has read its feature files again
//   (engine/wiring/follow-deploys.ts), and are then kept and cut as the new
//   features say. Before, the changes of a table added to the publication
//   were dropped here until the deploy's notification reached the process.
// * Old rows cut short said. An update or delete of a captured table is
//   published with REPLICA IDENTITY FULL (publication.ts), so its old row
//   carries every column; one that arrives with the key only comes from a
//   table or partition that is not FULL — most often a partition added since
//   the last deploy (identity.ts). It is stored as it came, and the log says
//   so once per table and operation until the features are read again, so
//   a condition on old.* that sees nothing is not silent.
// * Said once per session when it has caught up: every change committed
//   before the session began is stored (`read the replication slot's
//   backlog`), which is how someone draining a slot knows to stop it.
import { randomUUID } from 'node:crypto';
import type postgres from 'postgres';
import { lockKey } from '../../../db/locks.js';
import { postgresFor, tlsFor } from '../../../db/tls.js';
import {
  announcement,
  type InboxEvent,
  type InboxSource,
  insertInbox,
  type Router,
  steadyPaceMs,
} from '../../../engine/intake/inbox.js';
import { formatTableName, type TableName, tableKey } from '../../../source/names.js';
import { type ExcludedColumns, exclusionOf } from '../../columns.js';
import type { Operation } from '../../triggers.js';
import type { FeaturesAt } from '../port.js';
import { marked, moveMark, readMark, sourceServer } from './mark.js';
import {
  decodePgoutput,
  formatLsn,
  type Lsn,
  parseLsn,
  type Relation,
  type Row,
} from './pgoutput.js';
import { type ConsumedCapture, DEPLOY_MESSAGE, publicationName } from './publication.js';
import { slotHealth } from './slot.js';
import { openReplicationStream, type ReplicationStream } from './stream.js';
import { BACKLOG_READ } from './unread.js';

/** The inbox source of replicated rows (inbox keys `<commit lsn>:<n>`). */
const SOURCE = 'replication' satisfies InboxSource;

interface Logger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface ConsumerOptions {
  /** The source database (where the slot is). */
  url: string;
  slot: string;
  captures: ConsumedCapture[];
  exclude?: ExcludedColumns;
  engine: postgres.Sql;
  route: Router;
  log: Logger;
  /** Announce stored rows on the inbox channel as this process (inbox.ts announcement). */
  announceAs?: string;
  /** Called after each inbox write with the lanes its rows went to, and whether a full batch waits. */
  onStored?: (lanes: Set<number>, more: boolean) => void;
  /** Events written per inbox transaction at most. */
  batch?: number;
  /** How often a process that is not the leader tries to become it (ms). */
  leaderPollMs?: number;
  /** Warn in the log when the slot retains more than this (capture.replication.warn_retained_mb). */
  warnRetainedMb?: number;
  /** The process's features: read again at a deploy's message, caught up at each session's start. */
  features?: FeaturesAt;
}

export interface Consumer {
  /** Whether this process holds the slot now. */
  leading(): boolean;
  /** What each (table, operation) keeps from now on: a deploy since the start changed it (follow-deploys.ts). */
  capture(captures: ConsumedCapture[]): void;
  stats: { stored: number; transactions: number; sessions: number; errors: number };
  stop(): Promise<void>;
}

/** A change as streamed, before it is kept and cut (at its write, with the features of then). */
interface Change {
  key: string;
  /** Its transaction's commit LSN, and its place in it: its inbox key (`<lsn>:<n>`), and the mark. */
  lsn: Lsn;
  n: number;
  table: TableName;
  operation: Operation;
  newRow: Row | null;
  oldRow: Row | null;
  occurredAt: Date;
}

interface Committed {
  /**
   * Where the transaction ends: acknowledged once it is stored. Undefined
   * for a part of a transaction whose commit has not arrived yet (a batch
   * of a large one, see the top): stored, but the slot is not told.
   */
  end?: Lsn;
  changes: Change[];
  /**
   * A deploy's message is in it: the features are read again before it is
   * stored (`id` undefined: the publications' message, its deployment not
   * recorded yet), or caught up to the deployment recorded in it.
   */
  deployed?: { id?: number };
}

/**
 * How often the mark moves (ms): with the first write of a session, then
 * with the first write once this long has passed. Moved with every write, it
 * was a row update per inbox write, measured as 0.1–0.3 ms more database
 * CPU per event at 500/s (docs/benchmarks.md). A mark behind what is stored
 * is safe: what was stored after it is still in the inbox, whose keys skip
 * it, since retention keeps replicated rows until the mark has moved past
 * their receipt (engine/wiring/runtime.ts applyRetention).
 */
const MARK_EVERY_MS = 10_000;

/** The consumer's session lock: its first key (db/locks.ts), hashtext(slot) the second. */
const LOCK = lockKey('replication');

export function startConsumer(options: ConsumerOptions): Consumer {
  const stats = { stored: 0, transactions: 0, sessions: 0, errors: 0 };
  const self = options.announceAs ?? randomUUID();
  let stopping = false;
  let leader = false;
  let wake: (() => void) | undefined;
  const current: { stream?: ReplicationStream; lock?: postgres.Sql } = {};
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  // What each (table, operation) the capture takes keeps: its columns, or every column but the excluded.
  const keyOf = (table: TableName, operation: Operation) => `${operation} ${tableKey(table)}`;
  const keepOf = (captures: ConsumedCapture[]) =>
    new Map(captures.map((c) => [keyOf(c.table, c.operation), c.columns] as const));
  let keep = keepOf(options.captures);
  // The (table, operation)s whose old rows came without every column, said once each.
  let cutShort = new Set<string>();
  const oldCutShort = (table: TableName, operation: 'update' | 'delete', key: string) => {
    if (cutShort.has(key) || !keep.has(key)) return;
    cutShort.add(key);
    const name = formatTableName(table);
    options.log.warn(
      { table: name, operation },
      `an ${operation} of ${name} arrived without its whole old row: the table, or the partition that holds the row (one added since the last deploy, most often), is not REPLICA IDENTITY FULL, so conditions on old.* see its key columns only (an update that keeps its key, none); nudge plan names it and nudge deploy sets it FULL`,
    );
  };
  const cut = (table: TableName, key: string, row: Row | null): Row | null => {
    if (!row) return null;
    const columns = keep.get(key);
    const out: Row = {};
    if (columns) {
      for (const column of columns) if (column in row) out[column] = row[column];
    } else {
      for (const [column, value] of Object.entries(row))
        if (exclusionOf(table, column, options.exclude) === undefined) out[column] = value;
    }
    return out;
  };
  /** The changes the capture takes, cut to what it copies, as inbox events. */
  const kept = (changes: Change[]): InboxEvent[] => {
    const events: InboxEvent[] = [];
    // Stored under the features this process has read: a lane of another
    // process that has read an older deployment reads its files first.
    const deployment = options.features?.deployment();
    for (const change of changes) {
      if (!keep.has(change.key)) continue;
      events.push({
        source: SOURCE,
        sourceKey: `${formatLsn(change.lsn)}:${change.n}`,
        schema: change.table.schema,
        table: change.table.table,
        operation: change.operation,
        newRow: cut(change.table, change.key, change.newRow),
        oldRow: cut(change.table, change.key, change.oldRow),
        occurredAt: change.occurredAt,
        ...(deployment ? { deployment } : {}),
      });
    }
    return events;
  };

  /** One streaming session, as the leader, until it ends or fails. */
  const session = async (lock: postgres.Sql) => {
    const relations = new Map<number, Relation>();
    const committed: Committed[] = [];
    let open:
      | { lsn: Lsn; time: Date; n: number; changes: Change[]; deployed?: { id?: number } }
      | undefined;
    let writing: Promise<void> | undefined;
    let failure: unknown;
    let idleEnd = 0n;
    // The backlog: the WAL written when the session begins (decoding reaches
    // it once the server has flushed it). Caught up once no transaction is open or unstored and
    // the stream has passed it: a stored commit ends past it, or a keepalive
    // (everything before it sent) says the server's position is past it.
    const [start] = await lock<{ written: string; confirmed: string | null; version: number }[]>`
      select pg_current_wal_insert_lsn()::text as written,
             (select confirmed_flush_lsn::text from pg_replication_slots
               where slot_name = ${options.slot}) as confirmed,
             current_setting('server_version_num')::int as version`;
    // The features as of the latest deployment before anything is stored:
    // a deploy's message this session streams past (it was read by the
    // process that led then) told this one nothing.
    await options.features?.catchUpLatest();
    // The source server, and where this slot's consumer stopped storing on
    // it (see the top). Not readable (a server that refuses pg_control_*):
    // no mark, and the inbox's keys alone keep changes once.
    const server = await sourceServer(lock);
    const mark = server ? await readMark(options.engine, options.slot, server) : undefined;
    let markedAt = Number.NEGATIVE_INFINITY;
    // Stopped meanwhile: stop() found no stream to close, so none is opened.
    if (stopping) return;
    const backlogEnd = parseLsn(start!.written);
    const storedBefore = stats.stored;
    let reached = start!.confirmed === null ? 0n : parseLsn(start!.confirmed);
    let caughtUp = false;
    const caughtUpYet = () => {
      if (caughtUp || open || committed.length > 0 || writing || reached < backlogEnd) return;
      caughtUp = true;
      const changes = stats.stored - storedBefore;
      options.log.info(
        { slot: options.slot },
        `${BACKLOG_READ}: ${changes} change${changes === 1 ? '' : 's'} stored`,
      );
    };
    const batch = options.batch ?? 2000;
    // Inbox writes are paced like the outbox pump's claims (inbox.ts
    // steadyPaceMs): a commit that comes within that time of the last write
    // waits for the rest of it, so a steady stream is written (and its lanes
    // woken, and their batches made) several events at a time instead of one
    // transaction per commit; a trickle is written at once. A full batch
    // never waits.
    let lastWrite = Number.NEGATIVE_INFINITY;
    let lastWritten = 0;
    let later: NodeJS.Timeout | undefined;
    let queued = 0;
    let ended = false;
    // What waits to be written: its changes, and its transactions — PG 13
    // and 14 send an empty BEGIN and COMMIT for every transaction of the
    // database, the engine's own inbox writes too when the engine store is
    // the source database.
    const waiting = () => queued + committed.length;
    /** After changes are queued: the stream paused while four batches wait, and a write started. */
    const held = () => {
      if (waiting() >= batch * 4) current.stream?.pause();
      flush();
    };
    const flush = () => {
      if (ended || stopping || writing || later || committed.length === 0 || failure) return;
      const wait = lastWrite + steadyPaceMs(lastWritten) - performance.now();
      if (wait > 0 && queued < batch) {
        later = setTimeout(() => {
          later = undefined;
          flush();
        }, wait);
        return;
      }
      writing = (async () => {
        do {
          // A deploy's message: what follows is kept and cut as the features read again say.
          const first = committed[0]!;
          if (first.deployed) {
            const { id } = first.deployed;
            await (id === undefined
              ? options.features?.readAgain()
              : options.features?.catchUp(id));
            first.deployed = undefined;
          }
          lastWrite = performance.now();
          // Whole transactions, up to `batch` changes (a larger one goes
          // alone), and none after a deploy's message.
          let take = 0;
          let count = 0;
          while (
            take < committed.length &&
            (take === 0 ||
              (count + committed[take]!.changes.length <= batch && !committed[take]!.deployed))
          )
            count += committed[take++]!.changes.length;
          const done = committed.slice(0, take);
          // The last whole transaction taken: what the slot may let go of (a part acknowledges nothing).
          const end = done.findLast((c) => c.end !== undefined)?.end;
          const changes = done.flatMap((c) => c.changes);
          const events = kept(changes);
          const lanes = new Set<number>();
          const route: Router = (event) => {
            const lane = options.route(event);
            lanes.add(lane);
            return lane;
          };
          let stored = 0;
          if (events.length) {
            const last = changes.at(-1)!;
            await options.engine.begin(async (tx) => {
              for (let i = 0; i < events.length; i += 1000)
                stored += await insertInbox(tx, events.slice(i, i + 1000), route);
              const announce = announcement(tx, self, lanes);
              const moving = server !== undefined && performance.now() - markedAt >= MARK_EVERY_MS;
              await (moving
                ? moveMark(tx, options.slot, server, last, announce)
                : tx`select ${announce}`);
              if (moving) markedAt = performance.now();
            });
          }
          committed.splice(0, take);
          queued -= count;
          lastWritten = events.length;
          if (end !== undefined) {
            // Committed: the server may now let go of everything up to here.
            current.stream?.acknowledge(end);
            if (end > reached) reached = end;
          }
          stats.stored += stored;
          stats.transactions += done.filter((c) => c.end !== undefined).length;
          if (lanes.size) options.onStored?.(lanes, queued >= batch);
          if (waiting() < batch * 2) current.stream?.resume();
          // Asked to stop: what is not written yet is streamed again.
        } while ((queued >= batch || committed[0]?.deployed) && !failure && !ended && !stopping);
      })()
        .catch((error) => {
          failure = error;
          void current.stream?.close();
        })
        .finally(() => {
          writing = undefined;
          if (!failure) caughtUpYet();
          flush();
        });
    };
    const stream = await openReplicationStream({
      url: options.url,
      slot: options.slot,
      messages: !!options.features && start!.version >= 140000,
      publications: (['insert', 'update', 'delete'] as const).map((op) =>
        publicationName(options.slot, op),
      ),
      onMessage: (message) => {
        if (message.kind === 'keepalive') {
          // Everything sent before it is in hand: with nothing open or
          // unstored, the server's position can be acknowledged (WAL of
          // other tables then does not pile up behind the slot).
          idleEnd = message.end;
          if (idleEnd > reached) reached = idleEnd;
          if (!open && committed.length === 0 && !writing) current.stream?.acknowledge(idleEnd);
          caughtUpYet();
          return;
        }
        const decoded = decodePgoutput(message.payload, relations);
        switch (decoded.tag) {
          case 'begin':
            open = {
              lsn: decoded.finalLsn,
              time: decoded.commitTime,
              n: 0,
              changes: [],
            };
            break;
          case 'message':
            if (open && decoded.transactional && decoded.prefix === DEPLOY_MESSAGE) {
              const id = Number(decoded.content.toString('utf8'));
              open.deployed = Number.isInteger(id) && id > 0 ? { id } : {};
            }
            break;
          case 'insert':
          case 'update':
          case 'delete': {
            if (!open) break;
            const n = open.n++;
            // Stored already, by this slot's consumer on this server: streamed again.
            if (marked(mark, open.lsn, n)) break;
            const { schema, table } = decoded.relation;
            const name = { schema, table };
            if (decoded.tag !== 'insert' && !decoded.whole)
              oldCutShort(name, decoded.tag, keyOf(name, decoded.tag));
            open.changes.push({
              key: keyOf(name, decoded.tag),
              lsn: open.lsn,
              n,
              table: name,
              operation: decoded.tag,
              newRow: decoded.tag === 'delete' ? null : decoded.new,
              oldRow: decoded.tag === 'insert' ? null : decoded.old,
              occurredAt: open.time,
            });
            // A batch of a large transaction: written now, as a part (see the
            // top). Not in a deploy's own transaction: what follows its message
            // waits for the features read again. What came before the message
            // is stored under the features before it: Nudge's DDL, no rows,
            // unless a `deploy --sql` script was edited to write rows first.
            if (open.changes.length >= batch && !open.deployed) {
              committed.push({ changes: open.changes });
              queued += open.changes.length;
              open.changes = [];
              held();
            }
            break;
          }
          case 'commit':
            if (!open) break;
            committed.push({
              end: decoded.endLsn,
              changes: open.changes,
              ...(open.deployed ? { deployed: open.deployed } : {}),
            });
            queued += open.changes.length;
            open = undefined;
            held();
            break;
          default:
            break;
        }
      },
    });
    current.stream = stream;
    if (stopping) await stream.close();
    stats.sessions++;
    // A slot read to the end already: nothing waited.
    caughtUpYet();
    try {
      await stream.ended;
    } finally {
      await stream.close();
      current.stream = undefined;
      // What was streamed but not written is streamed again (not acknowledged).
      ended = true;
      clearTimeout(later);
      while (writing) await writing;
    }
    if (failure) throw failure;
  };

  // Read once, here: a URL whose TLS cannot be set up fails the start, not the loop.
  const tls = tlsFor(options.url);
  /** Becomes the leader (a session lock on the source), streams while it is, retries with backoff. */
  const run = async () => {
    let failures = 0;
    let watch: NodeJS.Timeout | undefined;
    while (!stopping) {
      const lock = postgresFor(tls, {
        max: 1,
        idle_timeout: 0,
        max_lifetime: null,
        onnotice: () => {},
        connection: { application_name: `nudge replication leader ${options.slot}` },
      });
      current.lock = lock;
      try {
        const [row] = await lock<{ ok: boolean }[]>`
          select pg_try_advisory_lock(${lock.unsafe(LOCK)}, hashtext(${options.slot})) as ok`;
        if (!row?.ok) {
          await lock.end({ timeout: 1 });
          await sleep(options.leaderPollMs ?? 1000);
          continue;
        }
        leader = true;
        options.log.info({ slot: options.slot }, 'streaming the replication slot');
        // While it leads, a look each minute at the WAL the slot holds back.
        const limit = options.warnRetainedMb;
        if (limit !== undefined)
          watch = setInterval(() => {
            slotHealth(lock, options.slot, limit)
              .then((health) => {
                if (health.overLimit)
                  options.log.warn(
                    { slot: options.slot, retainedBytes: health.retainedBytes },
                    'the replication slot retains more WAL than capture.replication.warn_retained_mb',
                  );
              })
              .catch(() => {});
          }, 60_000);
        while (!stopping) {
          try {
            await session(lock);
            failures = 0;
          } catch (error) {
            if (stopping) break;
            stats.errors++;
            failures++;
            const backoff = Math.min(30_000, 100 * 2 ** Math.min(failures, 9));
            options.log.warn(
              { error: (error as Error).message, slot: options.slot },
              `replication stream ended, streaming again in ${backoff} ms`,
            );
            await sleep(backoff);
          }
          // The lock's session is gone (the server restarted): lead again only once re-taken.
          const [still] = await lock<{ held: boolean }[]>`
            select exists (select from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()
                            and granted) as held`.catch(() => [{ held: false }]);
          if (!still?.held) break;
        }
      } catch (error) {
        if (!stopping) {
          stats.errors++;
          options.log.warn(
            { error: (error as Error).message },
            'replication leader election failed',
          );
          await sleep(1000);
        }
      } finally {
        clearInterval(watch);
        leader = false;
        current.lock = undefined;
        await lock.end({ timeout: 1 }).catch(() => {});
      }
    }
  };
  const running = run();

  return {
    leading: () => leader,
    capture(captures) {
      keep = keepOf(captures);
      cutShort = new Set();
    },
    stats,
    async stop() {
      stopping = true;
      wake?.();
      await current.stream?.close();
      await running;
      // Beside the engine's own `engine stopped` (whose counts are its lanes'):
      // what this process streamed into the inbox, for every lane.
      options.log.info({ slot: options.slot, ...stats }, 'replication consumer stopped');
    },
  };
}
