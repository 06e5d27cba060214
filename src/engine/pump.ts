// The outbox pump: moves captured changes from nudge.event_log in the user's
// database into the engine's inbox. It claims the oldest rows with FOR UPDATE
// SKIP LOCKED — never "id > last seen", which would skip rows of transactions
// that commit out of id order — copies them (idempotently: the inbox key is
// outbox id + row index), and only then deletes (or archives) them, in the
// claiming transaction. A crash between the inbox write and the delete leaves
// the rows to be claimed again, and the inbox ignores the copies.
import type postgres from 'postgres';
import { type InboxEvent, insertInbox, type Operation, type Router } from './inbox.js';

interface OutboxRow {
  id: number;
  schema_name: string;
  table_name: string;
  operation: Operation;
  row_count: number;
  new_rows: Record<string, unknown>[] | null;
  old_rows: Record<string, unknown>[] | null;
  enrichment: unknown[] | null;
  captured_at: Date;
}

export interface PumpOptions {
  source: postgres.Sql;
  engine: postgres.Sql;
  route: Router;
  /** Outbox rows per claim (each may hold up to 1000 captured rows). */
  batch?: number;
  /** Keep consumed rows in nudge.event_archive for this long instead of deleting them. */
  archive?: boolean;
}

/**
 * Moves one batch; returns the number of captured rows moved. One pump at a
 * time over all engine processes (an advisory lock held until the claiming
 * transaction ends): inbox ids are taken before commit, so two pumps at once
 * could commit a later outbox row's inbox copy first, and a lane would then
 * handle a contact's later event before its earlier one.
 */
export async function pumpOnce(options: PumpOptions): Promise<number> {
  return options.source.begin(async (tx) => {
    // The lock first, in the same statement: a pump without it must not lock
    // (claim) outbox rows either, or the pump holding it would skip them and
    // move later rows first.
    // (A one-time filter: the index scan in id order does not even start
    // without the lock. Order by the column, not the int alias, or the whole
    // outbox is sorted on every claim.)
    const rows = await tx<OutboxRow[]>`
      with pump as materialized (select pg_try_advisory_xact_lock(hashtext('nudge pump')) as ok)
      select id::int as id, schema_name, table_name, operation, row_count, new_rows, old_rows, enrichment, captured_at
        from nudge.event_log
       where (select ok from pump)
       order by event_log.id limit ${options.batch ?? 50}
         for update of event_log skip locked`;
    if (rows.length === 0) return 0;
    const events: InboxEvent[] = rows.flatMap((row) =>
      Array.from({ length: row.row_count }, (_, i) => ({
        source: 'outbox' as const,
        sourceKey: `${row.id}:${i}`,
        schema: row.schema_name,
        table: row.table_name,
        operation: row.operation,
        newRow: row.new_rows?.[i] ?? null,
        oldRow: row.old_rows?.[i] ?? null,
        enrichment: row.enrichment?.[i] ?? null,
        occurredAt: row.captured_at,
      })),
    );
    const ids = rows.map((r) => r.id);
    const consume = async () => {
      if (options.archive) {
        await tx`insert into nudge.event_archive select *, now() from nudge.event_log where id = any(${ids}::bigint[])`;
      }
      await tx`delete from nudge.event_log where id = any(${ids}::bigint[])`;
    };
    // The engine store inside the source database: one transaction moves the
    // rows, and its statements go out together.
    const together = options.source === options.engine;
    const inserts = async () => {
      for (let i = 0; i < events.length; i += 1000) {
        await insertInbox(together ? tx : options.engine, events.slice(i, i + 1000), options.route);
      }
    };
    if (together) await Promise.all([inserts(), consume()]);
    else {
      await inserts();
      await consume();
    }
    return events.length;
  });
}
