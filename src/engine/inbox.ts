// The door into the engine: every transport (the outbox pump, POST /ingest,
// the API, syncs) hands captured changes to insertInbox. (source, source_key)
// is unique, so a change delivered twice is stored once; the partition keeps
// one contact's events in one ordered lane.
import { createHash } from 'node:crypto';
import type postgres from 'postgres';

export type Operation = 'insert' | 'update' | 'delete';
type Row = Record<string, unknown>;

export interface InboxEvent {
  source: 'outbox' | 'webhook' | 'api' | 'sync';
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
}

/** Picks the lane of an event; the engine derives it from the contact the event is about. */
export type Router = (event: InboxEvent) => number;

/** A stable lane for a routing key (e.g. a contact's id or email). */
export function partitionOf(key: string | undefined, partitions: number): number {
  if (!key || partitions <= 1) return 0;
  return createHash('sha1').update(key).digest().readUInt32BE(0) % partitions;
}

/**
 * Stores events; returns how many were new. JSON travels as text (postgres.js
 * would encode strings bound as jsonb a second time), one statement per batch.
 */
export async function insertInbox(
  db: postgres.Sql | postgres.TransactionSql,
  events: InboxEvent[],
  route: Router = () => 0,
): Promise<number> {
  if (events.length === 0) return 0;
  const json = (value: unknown) =>
    value === undefined || value === null ? null : JSON.stringify(value);
  const result = await db`
    insert into nudge_engine.inbox
      (source, source_key, schema_name, table_name, operation, event_name,
       new_row, old_row, enrichment, occurred_at, partition)
    select e.source, e.source_key, e.schema_name, e.table_name, e.operation, e.event_name,
           e.new_row::jsonb, e.old_row::jsonb, e.enrichment::jsonb, e.occurred_at, e.partition
      from unnest(${events.map((e) => e.source)}::text[], ${events.map((e) => e.sourceKey)}::text[],
                  ${events.map((e) => e.schema ?? null)}::text[], ${events.map((e) => e.table ?? null)}::text[],
                  ${events.map((e) => e.operation ?? null)}::text[], ${events.map((e) => e.eventName ?? null)}::text[],
                  ${events.map((e) => json(e.newRow))}::text[], ${events.map((e) => json(e.oldRow))}::text[],
                  ${events.map((e) => json(e.enrichment))}::text[],
                  ${events.map((e) => e.occurredAt.toISOString())}::timestamptz[],
                  ${events.map(route)}::smallint[])
           as e(source, source_key, schema_name, table_name, operation, event_name,
                new_row, old_row, enrichment, occurred_at, partition)
    on conflict (source, source_key) do nothing`;
  return result.count;
}
