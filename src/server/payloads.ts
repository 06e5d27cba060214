// The JSON shapes POST /ingest accepts, turned into inbox events:
//
// * capture — what Nudge's own capture: webhook triggers send (see
//   capture/transports/webhook/delivery.ts): one statement's rows, keyed `<webhook-id>:<index>`.
// * supabase — a Supabase Database Webhook: { type, table, schema, record,
//   old_record }, so existing webhooks can point at Nudge.
// * event — a named event: { event: 'order_placed', occurred_at?, ...properties }.
//
// A body that is JSON but none of these is refused 422 with the field named.
import { z } from 'zod';
import { batchEvents, captureBatchSchema } from '../capture/transports/webhook/index.js';
import type { InboxEvent } from '../engine/intake/inbox.js';
import { fieldOf, issueMessage } from './body.js';
import { HttpError } from './http-error.js';

export type Shape = 'capture' | 'supabase' | 'event';

const row = z.record(z.string(), z.unknown(), { error: 'expected a row (a JSON object) or null' });
const timestamp = z
  .string({ error: 'expected an ISO 8601 timestamp' })
  .refine((value) => !Number.isNaN(Date.parse(value)), { error: 'expected an ISO 8601 timestamp' });

const supabaseSchema = z.object({
  type: z.enum(['INSERT', 'UPDATE', 'DELETE'], { error: 'expected INSERT, UPDATE or DELETE' }),
  table: z.string({ error: 'expected the table name' }).min(1),
  schema: z.string({ error: 'expected the schema name' }).min(1),
  record: row.nullable().optional(),
  old_record: row.nullable().optional(),
});

const eventSchema = z.looseObject({
  event: z.string({ error: 'expected the event name' }).min(1).max(200),
  occurred_at: timestamp.optional(),
});

const SHAPES =
  'a Nudge capture batch (schema, table, operation, new_rows, old_rows, captured_at), ' +
  'a Supabase Database Webhook (type, schema, table, record, old_record) ' +
  'or a named event (event)';

/** Which shape a body claims to be, by its distinguishing key. */
function shapeOf(body: Record<string, unknown>): Shape | undefined {
  if ('event' in body) return 'event';
  if ('type' in body && ('record' in body || 'old_record' in body || 'table' in body)) {
    return 'supabase';
  }
  if ('operation' in body || 'new_rows' in body || 'old_rows' in body) return 'capture';
  return undefined;
}

/**
 * The events in a body. `deliveryKey` identifies the delivery (the webhook-id):
 * a batch's rows are keyed by it and their index, a single event by it alone.
 */
export function eventsFromPayload(
  body: unknown,
  deliveryKey: string,
  receivedAt: Date,
): { shape: Shape; events: InboxEvent[] } {
  const read = readPayload(body, deliveryKey, receivedAt);
  const late = read.events.findIndex((event) => !storableTime(event.occurredAt));
  if (late >= 0) {
    const field = read.shape === 'capture' ? 'captured_at' : 'occurred_at';
    throw unprocessable(
      'invalid_payload',
      `${field}: expected a time between the years 1 and 9999, got ${read.events[late]!.occurredAt.toISOString()}`,
    );
  }
  return read;
}

/** PostgreSQL has no year 0, and ISO 8601 text past 9999 needs a sign it does not read. */
function storableTime(at: Date): boolean {
  const year = at.getUTCFullYear();
  return year >= 1 && year <= 9999;
}

function readPayload(
  body: unknown,
  deliveryKey: string,
  receivedAt: Date,
): { shape: Shape; events: InboxEvent[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw unprocessable('unknown_shape', `(body): expected a JSON object (${SHAPES})`);
  }
  const record = body as Record<string, unknown>;
  const shape = shapeOf(record);
  if (!shape) {
    const keys = Object.keys(record).slice(0, 8).join(', ') || 'none';
    throw unprocessable(
      'unknown_shape',
      `unknown payload shape (fields: ${keys}); expected ${SHAPES}`,
    );
  }
  if (shape === 'capture') {
    return { shape, events: batchEvents(parse(captureBatchSchema, record), deliveryKey) };
  }
  if (shape === 'supabase') {
    const hook = parse(supabaseSchema, record);
    const event: InboxEvent = {
      source: 'webhook',
      sourceKey: deliveryKey,
      schema: hook.schema,
      table: hook.table,
      operation: hook.type.toLowerCase() as InboxEvent['operation'] & string,
      newRow: hook.record ?? null,
      oldRow: hook.old_record ?? null,
      occurredAt: receivedAt,
    };
    return { shape, events: [event] };
  }
  const { event, occurred_at, ...properties } = parse(eventSchema, record);
  return {
    shape,
    events: [
      {
        source: 'webhook',
        sourceKey: deliveryKey,
        eventName: event,
        newRow: properties,
        occurredAt: occurred_at ? new Date(occurred_at) : receivedAt,
      },
    ],
  };
}

function parse<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw unprocessable(
    'invalid_payload',
    // Without the value: a captured row is the app's data, and this detail is logged.
    `${fieldOf(issue?.path ?? [])}: ${issue ? issueMessage(issue, value, { quote: false }) : 'invalid'}`,
  );
}

function unprocessable(code: string, detail: string): HttpError {
  return new HttpError(422, code, detail);
}
