// The door into the engine: every source of events (the outbox pump, the
// replication consumer, POST /ingest and the webhook re-deliveries,
// /v1/events, backfill, scheduled features: source 'schedule') hands them to
// insertInbox; `nudge sync` writes history to the timelines, not here.
// (source, source_key) is unique, so a change delivered twice is stored once;
// the partition keeps one contact's events in one ordered lane.
import { createHash } from 'node:crypto';
import type postgres from 'postgres';
import type { TransportDesired } from '../../capture/transports/port.js';
import type { IngestSource } from '../../client/dashboard.js';
import { insertInboxRows } from '../sql/insert-inbox-rows.js';

export type Operation = 'insert' | 'update' | 'delete';
type Row = Record<string, unknown>;

/**
 * Where an event came in: the engine's own doors, or a trigger-less capture
 * transport that stores its changes itself, under its capture.transport name
 * (`replication`): a key of TransportDesired (transports/port.ts), which each
 * such transport declares from its folder, so a new one needs no edit here
 * and a misspelt source is still refused.
 */
export type InboxSource = 'outbox' | 'webhook' | EngineDoor | keyof TransportDesired;

/** The engine's own doors: /v1/events, nudge backfill, a scheduled feature's run. */
export const ENGINE_DOORS = ['api', 'backfill', 'schedule'] as const;
type EngineDoor = (typeof ENGINE_DOORS)[number];

// The dashboard's filter (INGEST_SOURCES) names no source that does not
// exist (the compiler, below); that it names every one is
// test/api/dashboard-logs.test.ts's check (a test may declare a transport of
// its own, so the compiler cannot check that direction).
type Listed<T extends InboxSource> = T;
export type ListedSources = Listed<IngestSource>;

export interface InboxEvent {
  source: InboxSource;
  /** Unique within the source: `<outbox id>:<row index>`, a webhook-id, an idempotency key. */
  sourceKey: string;
  schema?: string;
  table?: string;
  operation?: Operation;
  /** A named event (user.signed_up, order_placed, ...), when it has one. */
  eventName?: string;
  newRow?: Row | null;
  oldRow?: Row | null;
  enrichment?: unknown;
  occurredAt: Date;
  /** The deployment it was captured under, when a deployment's capture stored it (migration 023). */
  deployment?: number;
}

/** An inbox row as the lanes read it. */
export interface InboxRow {
  id: number;
  source: string;
  schema_name: string | null;
  table_name: string | null;
  operation: Operation | null;
  event_name: string | null;
  new_row: Row | null;
  old_row: Row | null;
  enrichment: unknown;
  occurred_at: Date;
  /** The deployment it was captured under (readLanes reads it; null: none). */
  deployment?: number | null;
}

/** Picks the lane of an event; the engine derives it from the contact the event is about. */
export type Router = (event: InboxEvent) => number;

/** A stable lane for a routing key (e.g. a contact's id or email). */
export function partitionOf(key: string | undefined, partitions: number): number {
  if (!key || partitions <= 1) return 0;
  return createHash('sha1').update(key).digest().readUInt32BE(0) % partitions;
}

/**
 * Stores events; returns how many were new; one statement per batch.
 */
export async function insertInbox(
  db: postgres.Sql | postgres.TransactionSql,
  events: InboxEvent[],
  route: Router = () => 0,
): Promise<number> {
  if (events.length === 0) return 0;
  const result = await insertInboxRows(db, events, route);
  return result.count;
}

/** The channel on which new inbox rows are announced to every engine process (runtime.ts). */
export const INBOX_CHANNEL = 'nudge_inbox';

/** What an announcement says: which process wrote the rows, into which lanes. */
export interface InboxNews {
  from?: string;
  /** Absent: any lane may have new rows. */
  lanes?: number[];
}

/**
 * The expression that announces new inbox rows, for a statement's select
 * list: delivered when the statement's transaction commits.
 */
export function announcement(
  db: postgres.Sql | postgres.TransactionSql,
  from: string,
  lanes: Iterable<number>,
): postgres.PendingQuery<postgres.Row[]> {
  const news: InboxNews = { from, lanes: [...lanes] };
  return db`pg_notify(${INBOX_CHANNEL}, ${JSON.stringify(news)})`;
}

/** An announcement's payload read back; anything unreadable means "any lane". */
export function readNews(payload: string): InboxNews {
  try {
    const news = JSON.parse(payload) as InboxNews;
    const lanes =
      Array.isArray(news?.lanes) && news.lanes.every(Number.isInteger) ? news.lanes : undefined;
    return {
      ...(typeof news?.from === 'string' ? { from: news.from } : {}),
      ...(lanes ? { lanes } : {}),
    };
  } catch {
    return {};
  }
}

/**
 * How long a steady stream of captured rows waits between two writes into
 * the inbox (the outbox pump's claims, the replication consumer's writes):
 * 2 ms for each row the last one moved, at least 10 and at most 20 ms. Each
 * write, and the lane batches and attempts it feeds, then carries several
 * events: at 500 events/s the CPU per event fell by about 13% (engine and
 * database) for 2 ms more median latency (docs/benchmarks.md).
 */
export function steadyPaceMs(lastMoved: number): number {
  return Math.min(20, Math.max(10, 2 * lastMoved));
}
