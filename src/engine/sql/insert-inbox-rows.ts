// Events into the inbox, in one statement, each stored once: (source,
// source_key) is unique. Not sent until awaited: insertInbox (intake/inbox.ts)
// awaits it, the pump sends it with its other writes.
import type postgres from 'postgres';
import { records } from '../../db/records.js';
import type { InboxEvent, Router } from '../intake/inbox.js';

export function insertInboxRows(
  db: postgres.Sql | postgres.TransactionSql,
  events: InboxEvent[],
  route: Router = () => 0,
): postgres.PendingQuery<postgres.Row[]> {
  return db`
    insert into nudge_engine.inbox
      (source, source_key, schema_name, table_name, operation, event_name,
       new_row, old_row, enrichment, occurred_at, partition, deployment)
    select source, source_key, schema_name, table_name, operation, event_name,
           new_row, old_row, enrichment, occurred_at, partition, deployment
      from ${records(
        db,
        events.map((e) => ({
          source: e.source,
          source_key: e.sourceKey,
          schema_name: e.schema ?? null,
          table_name: e.table ?? null,
          operation: e.operation ?? null,
          event_name: e.eventName ?? null,
          new_row: e.newRow ?? null,
          old_row: e.oldRow ?? null,
          enrichment: e.enrichment ?? null,
          occurred_at: e.occurredAt,
          partition: route(e),
          deployment: e.deployment ?? null,
        })),
        `source text, source_key text, schema_name text, table_name text, operation text,
         event_name text, new_row jsonb, old_row jsonb, enrichment jsonb,
         occurred_at timestamptz, partition smallint, deployment int`,
      )}
    on conflict (source, source_key) do nothing`;
}
