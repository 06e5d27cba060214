// POST /v1/events: track an event for a contact (by id, or found/created by
// email, auth user id, phone or external id). 201 for a new event; 200 with
// the first event when the idempotency key was used before for the same
// event, 422 when it was used for another (reused-key.ts).
import { Hono } from 'hono';
import type postgres from 'postgres';
import { z } from 'zod';
import { LONGEST_DURATION, LONGEST_DURATION_MS } from '../../config/duration-text.js';
import { readIsoTime } from '../../config/time-options.js';
import { trackEvent, UnknownContact } from '../../contacts/track-event.js';
import type { Router } from '../../engine/intake/inbox.js';
import { storeClock } from '../../engine/wiring/clock.js';
import type { ApiEnv } from './auth.js';
import { email, externalId, phone, uuid } from './contacts.js';
import { expectedObject, invalid, readJson, validate } from './input.js';
import { differences, keyReused, type RequestedEvent } from './reused-key.js';

export interface EventsApiOptions {
  sql: postgres.Sql;
  route: Router;
  maxBodyBytes: number;
  onEvents?: () => void;
}

/** An ISO 8601 timestamp with an offset: date, hour and minute, seconds optional, the offset. */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i;
const TIMESTAMP_EXPECTED =
  'expected an ISO 8601 timestamp with an offset, e.g. 2024-01-31T12:00:00Z';

/**
 * occurred_at, read once: as written (what a refusal quotes) and as a time.
 * One of TIMESTAMP's shape that is no time is refused saying which part is
 * wrong (readIsoTime), where Date.parse would roll 2025-02-30 over to March
 * and refuse an hour 25 or an offset +25:00 without saying which.
 */
const timestamp = z
  .string({ error: TIMESTAMP_EXPECTED })
  .regex(TIMESTAMP, { error: TIMESTAMP_EXPECTED })
  .transform((text, ctx) => {
    const at = readIsoTime(text);
    if (at instanceof Date) return { text, at };
    ctx.addIssue({ code: 'custom', message: `${at ?? TIMESTAMP_EXPECTED}, got "${text}"` });
    return z.NEVER;
  });

/** How far ahead of now an occurred_at may be: the clock of the machine that sent it, a little fast. */
const AHEAD_MS = 24 * 3_600_000;

/**
 * Refuses (422) an occurred_at that cannot be when the event happened.
 * More than a day ahead of now: a contact's last_event_at keeps the latest
 * of its events' times, so one event stamped 9999-12-31 would stay its last
 * event for good. "Now" is the engine clock's, which `nudge dev` and `nudge
 * clock advance` move ahead of real time for an app tested against them; it
 * is read only for a time past real time's bound, so a call with an
 * ordinary time makes no query for it. More than 36500d back (year 1, a
 * zero date's default): further back than any duration Nudge reads reaches
 * (config/duration-text.ts), so no feature or filter could mean it.
 */
async function checkOccurredAt(
  sql: postgres.Sql,
  occurred: z.output<typeof timestamp>,
): Promise<void> {
  const { text } = occurred;
  const at = occurred.at.getTime();
  const real = Date.now();
  if (at < real - LONGEST_DURATION_MS) {
    throw invalid(
      'occurred_at',
      `"${text}" is more than ${LONGEST_DURATION} (100 years) before now: too far back to be when an event happened`,
    );
  }
  if (at <= real + AHEAD_MS) return;
  const now = (await storeClock(sql)).now();
  if (at <= now.getTime() + AHEAD_MS) return;
  throw invalid(
    'occurred_at',
    `"${text}" is more than 24 hours ahead of now (${now.toISOString()}); send when the event happened, or no occurred_at for now`,
  );
}

const idempotencyKey = z
  .string({ error: 'expected a string' })
  .min(1, { error: 'expected a non-empty key' })
  .max(200, { error: 'expected a key of at most 200 characters' });

/**
 * The call's idempotency key: the body's `idempotency_key`, or the
 * `Idempotency-Key` header as Stripe and Resend take it. Both given, they
 * must be the same key.
 */
function keyOf(body: string | undefined, header: string | undefined): string | undefined {
  if (header === undefined) return body;
  const parsed = idempotencyKey.safeParse(header);
  if (!parsed.success) throw invalid('Idempotency-Key header', parsed.error.issues[0]!.message);
  if (body !== undefined && body !== header)
    throw invalid(
      'idempotency_key',
      `"${body}" differs from the Idempotency-Key header ("${header}"): send the key in one of them, or the same key in both`,
    );
  return header;
}

const trackSchema = z.strictObject(
  {
    contact_id: uuid.optional(),
    email: email.optional(),
    auth_user_id: uuid.optional(),
    phone: phone.optional(),
    external_id: externalId.optional(),
    event: z
      .string({ error: 'expected the event name, e.g. "order_placed"' })
      .trim()
      .min(1, { error: 'expected a non-empty event name' })
      .max(200, { error: 'expected an event name of at most 200 characters' }),
    properties: z.record(z.string(), z.unknown(), { error: 'expected an object' }).optional(),
    occurred_at: timestamp.optional(),
    idempotency_key: idempotencyKey.optional(),
  },
  {
    error: expectedObject(
      'expected a JSON object with event and the contact (email, contact_id, ...)',
    ),
  },
);

export function eventsRoutes(options: EventsApiOptions): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.post('/', async (c) => {
    const body = validate(trackSchema, await readJson(c, options.maxBodyBytes));
    const key = keyOf(body.idempotency_key, c.req.header('idempotency-key'));
    const identity = {
      ...(body.email ? { email: body.email } : {}),
      ...(body.auth_user_id ? { authUserId: body.auth_user_id } : {}),
      ...(body.phone ? { phone: body.phone } : {}),
      ...(body.external_id ? { externalId: body.external_id } : {}),
    };
    const identified = Object.keys(identity).length > 0;
    if (body.contact_id && identified) {
      throw invalid(
        'contact_id',
        'give contact_id or email/auth_user_id/phone/external_id, not both',
      );
    }
    if (!body.contact_id && !identified) {
      throw invalid(
        '(body)',
        'name the contact: email, contact_id, auth_user_id, phone or external_id',
      );
    }
    if (body.occurred_at) await checkOccurredAt(options.sql, body.occurred_at);
    const requested: RequestedEvent = {
      contact: body.contact_id ? { id: body.contact_id } : identity,
      event: body.event,
      properties: body.properties ?? {},
      ...(body.occurred_at ? { occurredAt: body.occurred_at.at } : {}),
    };
    try {
      const { event, inboxed } = await trackEvent(
        options.sql,
        {
          ...requested,
          occurredAt: requested.occurredAt ?? new Date(),
          ...(key !== undefined ? { idempotencyKey: key } : {}),
        },
        options.route,
      );
      if (inboxed) options.onEvents?.();
      if (event.duplicate && key !== undefined) {
        const differs = await differences(options.sql, event, requested);
        if (differs.length) throw keyReused(key, event, differs);
      }
      return c.json(event, event.duplicate ? 200 : 201);
    } catch (error) {
      if (error instanceof UnknownContact) throw invalid('contact_id', error.message);
      throw error;
    }
  });
  return app;
}
