// The webhook transport's delivery side (capture: webhook; its trigger bodies
// are body.ts): the wire format of the batches the triggers
// post to Nudge's POST /ingest through pg_net, the signing key, and the
// reconciler that turns pg_net's silent failures into failed_events and
// re-deliveries.
//
// pg_net queues a request in the user's transaction and a background worker
// sends it only after commit: a rolled-back write sends nothing, like the
// outbox. But pg_net never retries, and a failure or timeout is visible only in
// net._http_response (kept 6 hours). So each trigger also records what it
// queued in nudge.webhook_deliveries, in the same transaction, and
// reconcileWebhookDeliveries() settles every record: a 2xx response deletes
// it; a failure, a timeout, or no response by a deadline moves its rows to
// nudge.failed_events (stage 'dispatch') and re-delivers the payload straight
// into the engine's inbox. The inbox key is the webhook-id plus the row index,
// exactly what POST /ingest uses, so a batch that arrived by both roads is
// stored once: delivery is at-least-once, the inbox makes it exactly-once.
import { z } from 'zod';
import { type InboxEvent, insertInbox, type Router } from '../../../engine/intake/inbox.js';
import { NudgeError } from '../../../errors.js';
import type { Sql } from '../../../source/connect.js';
import { signingKeyOf } from '../../../webhook-secret.js';
import type { TriggerBody } from '../port.js';
import { webhookBody } from './body.js';

// The wire format ---------------------------------------------------------------

const rowSchema = z.record(z.string(), z.unknown(), { error: 'expected a row (a JSON object)' });
const rowsSchema = z.array(rowSchema, { error: 'expected an array of rows or null' }).nullable();

/** What a capture trigger sends: one statement's rows (a chunk of them), like an outbox row. */
export const captureBatchSchema = z.object({
  schema: z.string({ error: 'expected the schema name' }).min(1),
  table: z.string({ error: 'expected the table name' }).min(1),
  operation: z.enum(['insert', 'update', 'delete'], {
    error: 'expected insert, update or delete',
  }),
  new_rows: rowsSchema.optional(),
  old_rows: rowsSchema.optional(),
  enrichment: z.array(z.unknown(), { error: 'expected an array or null' }).nullable().optional(),
  captured_at: z
    .string({ error: 'expected an ISO 8601 timestamp' })
    .refine((value) => !Number.isNaN(Date.parse(value)), {
      error: 'expected an ISO 8601 timestamp',
    }),
});
export type CaptureBatch = z.output<typeof captureBatchSchema>;

/** One inbox event per row; keys `<webhook-id>:<row index>`, as POST /ingest and reconcile agree. */
export function batchEvents(batch: CaptureBatch, webhookId: string): InboxEvent[] {
  const count = Math.max(batch.new_rows?.length ?? 0, batch.old_rows?.length ?? 0);
  const occurredAt = new Date(batch.captured_at);
  return Array.from({ length: count }, (_, i) => ({
    source: 'webhook' as const,
    sourceKey: `${webhookId}:${i}`,
    schema: batch.schema,
    table: batch.table,
    operation: batch.operation,
    newRow: batch.new_rows?.[i] ?? null,
    oldRow: batch.old_rows?.[i] ?? null,
    ...(batch.enrichment?.[i] != null ? { enrichment: batch.enrichment[i] } : {}),
    occurredAt,
  }));
}

// Deploy-time helpers ------------------------------------------------------------

/** Where pgcrypto lives (its hmac signs requests); undefined when it is not installed. */
export async function findPgcryptoSchema(sql: Sql): Promise<string | undefined> {
  const [row] = await sql<{ schema: string }[]>`
    select n.nspname as schema from pg_extension e join pg_namespace n on n.oid = e.extnamespace
     where e.extname = 'pgcrypto'`;
  return row?.schema;
}

/** The trigger body of `capture: webhook`, with pgcrypto's schema looked up in the source. */
export async function resolveWebhookBody(
  sql: Sql,
  webhook: { url: string; timeout_ms: number } | undefined,
): Promise<TriggerBody> {
  if (!webhook) {
    throw new NudgeError(
      'capture: webhook needs the URL of Nudge’s /ingest (capture.webhook.url)',
      'write capture: { transport: webhook, webhook: { url: https://<your nudge host>/ingest } } in nudge.yaml',
    );
  }
  const pgcryptoSchema = await findPgcryptoSchema(sql);
  if (!pgcryptoSchema) {
    throw new NudgeError(
      'capture: webhook signs requests with pgcrypto, which is not installed',
      'CREATE EXTENSION pgcrypto WITH SCHEMA extensions (Supabase: Database → Extensions)',
    );
  }
  return webhookBody({ url: webhook.url, timeoutMs: webhook.timeout_ms, pgcryptoSchema });
}

/**
 * Stores the signing key in the source's nudge schema, as a parameter: the
 * key never appears in plan or export SQL. Run it after a deploy that applied
 * migration 2; it changes nothing when the key is already current.
 */
export async function installSigningSecret(sql: Sql, secret: string): Promise<boolean> {
  const key = signingKeyOf(secret);
  const rows = await sql`
    insert into nudge.webhook_signing (id, signing_key) values (true, ${key})
    on conflict (id) do update set signing_key = excluded.signing_key, updated_at = now()
     where nudge.webhook_signing.signing_key is distinct from excluded.signing_key`;
  return rows.count > 0;
}

/** Whether the source holds this signing key, for plan and doctor (the key is never shown). */
export async function signingSecretState(
  sql: Sql,
  secret: string,
): Promise<'missing' | 'different' | 'current'> {
  if (!(await sql`select to_regclass('nudge.webhook_signing') as t`)[0]?.t) return 'missing';
  const [row] = await sql<{ current: boolean }[]>`
    select signing_key = ${signingKeyOf(secret)} as current from nudge.webhook_signing`;
  return !row ? 'missing' : row.current ? 'current' : 'different';
}

// Reconcile -------------------------------------------------------------------------

export interface ReconcileOptions {
  /** A request with no response after this long counts as lost (default 2 minutes). */
  deadlineMs?: number;
  /** Deliveries settled per call (default 500). */
  limit?: number;
  log?: { warn(details: object, message: string): void };
}

export interface ReconcileResult {
  /** Requests pg_net saw answered with a 2xx: forgotten. */
  delivered: number;
  /** Requests that failed, timed out or got no answer: recorded in nudge.failed_events. */
  failed: number;
  /** Failed requests whose payload went straight into the inbox. */
  redelivered: number;
  /** Inbox rows that were new (rows that had also arrived over HTTP count 0). */
  events: number;
}

interface Outcome {
  id: number;
  answered: boolean;
  status_code: number | null;
  timed_out: boolean | null;
  error_msg: string | null;
  late: boolean;
}

function failureOf(o: Outcome, deadlineMs: number): string | undefined {
  if (!o.answered) {
    return o.late ? `no response from pg_net within ${Math.round(deadlineMs / 1000)}s` : undefined;
  }
  if (o.timed_out) return 'timed out (pg_net)';
  if (o.error_msg) return `pg_net error: ${o.error_msg}`;
  if (o.status_code === null || o.status_code < 200 || o.status_code > 299) {
    return `HTTP ${o.status_code ?? 'no status'}`;
  }
  return undefined;
}

/**
 * Settles what capture triggers sent: see the top of this file. Safe to run
 * from several processes at once (rows are claimed with SKIP LOCKED) and to
 * re-run after a crash at any point (the inbox is idempotent).
 */
export async function reconcileWebhookDeliveries(
  sourceSql: Sql,
  engineSql: Sql,
  route: Router,
  options: ReconcileOptions = {},
): Promise<ReconcileResult> {
  const deadlineMs = options.deadlineMs ?? 120_000;
  const limit = options.limit ?? 500;
  const result: ReconcileResult = { delivered: 0, failed: 0, redelivered: 0, events: 0 };

  // 1. Read pg_net's verdicts: forget successes, record failures.
  await sourceSql.begin(async (tx) => {
    const [net] = await tx<{ present: boolean }[]>`
      select to_regclass('net._http_response') is not null as present`;
    const responses = net?.present
      ? tx`net._http_response`
      : tx`(select null::bigint as id, null::int as status_code, null::bool as timed_out,
                   null::text as error_msg, null::timestamptz as created where false)`;
    const outcomes = await tx<Outcome[]>`
      select d.id::float8 as id, r.id is not null as answered, r.status_code, r.timed_out, r.error_msg,
             d.queued_at < now() - make_interval(secs => ${deadlineMs / 1000}) as late
        from nudge.webhook_deliveries as d
        left join ${responses} as r on r.id = d.request_id and r.created >= d.queued_at
       where d.status = 'sent'
       order by d.id
       limit ${limit}
         for update of d skip locked`;
    const delivered = outcomes.filter((o) => o.answered && !failureOf(o, deadlineMs));
    const failed = outcomes.flatMap((o) => {
      const error = failureOf(o, deadlineMs);
      return error ? [{ id: o.id, error }] : [];
    });
    if (delivered.length > 0) {
      await tx`delete from nudge.webhook_deliveries where id = any(${delivered.map((o) => o.id)}::bigint[])`;
    }
    if (failed.length > 0) {
      const ids = failed.map((f) => f.id);
      const errors = failed.map((f) => f.error);
      await tx`
        insert into nudge.failed_events
          (stage, schema_name, table_name, operation, new_row, old_row, message, detail, webhook_id)
        select 'dispatch', coalesce(d.payload ->> 'schema', '?'), coalesce(d.payload ->> 'table', '?'),
               coalesce(d.payload ->> 'operation', '?'),
               d.payload -> 'new_rows' -> g.i, d.payload -> 'old_rows' -> g.i,
               'webhook delivery failed: ' || f.error,
               'pg_net request ' || d.request_id || ' to ' || d.url, d.webhook_id
          from unnest(${ids}::bigint[], ${errors}::text[]) as f(id, error)
          join nudge.webhook_deliveries as d on d.id = f.id
          cross join lateral generate_series(0, greatest(
            case jsonb_typeof(d.payload -> 'new_rows') when 'array' then jsonb_array_length(d.payload -> 'new_rows') else 0 end,
            case jsonb_typeof(d.payload -> 'old_rows') when 'array' then jsonb_array_length(d.payload -> 'old_rows') else 0 end,
            1) - 1) as g(i)
         order by d.id, g.i`;
      await tx`
        update nudge.webhook_deliveries as d set status = 'failed', error = f.error, failed_at = now()
          from unnest(${ids}::bigint[], ${errors}::text[]) as f(id, error) where d.id = f.id`;
    }
    result.delivered = delivered.length;
    result.failed = failed.length;
  });

  // 2. The retry: failed payloads go straight into the inbox. The source rows
  // stay locked until the inbox has them; a crash in between only repeats an
  // idempotent insert.
  await sourceSql.begin(async (tx) => {
    const failed = await tx<{ id: number; webhook_id: string; payload: unknown }[]>`
      select id::float8 as id, webhook_id, payload from nudge.webhook_deliveries
       where status = 'failed' order by webhook_deliveries.id limit ${limit} for update skip locked`;
    const events: InboxEvent[] = [];
    const done: { id: number; webhookId: string }[] = [];
    for (const delivery of failed) {
      const batch = captureBatchSchema.safeParse(delivery.payload);
      if (!batch.success) {
        options.log?.warn(
          { webhookId: delivery.webhook_id, problem: batch.error.issues[0]?.message },
          'webhook delivery payload is unreadable; left in nudge.webhook_deliveries',
        );
        continue;
      }
      events.push(...batchEvents(batch.data, delivery.webhook_id));
      done.push({ id: delivery.id, webhookId: delivery.webhook_id });
    }
    if (done.length === 0) return;
    result.events = await insertInbox(engineSql, events, route);
    await tx`
      update nudge.failed_events set resolved_at = now(), attempts = attempts + 1
       where stage = 'dispatch' and resolved_at is null
         and webhook_id = any(${done.map((d) => d.webhookId)}::text[])`;
    await tx`delete from nudge.webhook_deliveries where id = any(${done.map((d) => d.id)}::bigint[])`;
    result.redelivered = done.length;
  });
  return result;
}
