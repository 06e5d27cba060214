// POST /ingest/resend: Resend's webhooks (delivery, bounce, complaint, open,
// click), signed Svix-style: svix-id, svix-timestamp and svix-signature
// (space-separated `v1,<base64>` HMAC-SHA256 over `id.timestamp.body` with
// the base64 key of a whsec_ secret: the Standard Webhooks scheme). A
// timestamp more than 5 minutes off is refused (replay window), and each
// svix-id is applied once: a redelivery answers 200 and changes nothing.
// Resend retries what is not answered 2xx, so a failure to store is a 500.
import type { Context } from 'hono';
import type postgres from 'postgres';
import { Webhook } from 'standardwebhooks';
import {
  applyDeliveryEvent,
  DELIVERY_EVENTS,
  type DeliveryEventType,
} from '../../email/delivery-events.js';
import { parseJson, readCapped } from '../body.js';
import { HttpError } from '../http-error.js';
import { deliveryId, TIMESTAMP_TOLERANCE_S } from '../ingest.js';

/** The longest recipient address taken (a line of a message: RFC 5322's 998, rounded). */
const MAX_ADDRESS_BYTES = 1000;

export interface ResendIngestOptions {
  sql: postgres.Sql;
  /** email.resend.webhook_secret; without it every request is refused. */
  secret: string | undefined;
  maxBodyBytes: number;
  now?: () => number;
  onApplied?: (type: string) => void;
}

export function makeResendIngest(options: ResendIngestOptions) {
  const verifier = options.secret ? new Webhook(options.secret) : undefined;
  const now = options.now ?? Date.now;

  return async (c: Context) => {
    // Read (within the limit) before the checks: a body over it is a 413 on every door.
    const body = await readCapped(c.req.raw, options.maxBodyBytes);
    if (!verifier) {
      throw new HttpError(
        401,
        'not_configured',
        'Resend webhooks are not accepted: set email.resend.webhook_secret in nudge.yaml',
      );
    }
    const svix = {
      id: c.req.header('svix-id') ?? '',
      timestamp: c.req.header('svix-timestamp') ?? '',
      signature: c.req.header('svix-signature') ?? '',
    };
    const missing = Object.entries(svix).filter(([, value]) => !value);
    if (missing.length > 0) {
      throw new HttpError(
        401,
        'missing_signature',
        `missing header ${missing.map(([name]) => `svix-${name}`).join(', ')}`,
      );
    }
    if (!/^\d{1,12}$/.test(svix.timestamp)) {
      throw new HttpError(401, 'bad_timestamp', 'svix-timestamp must be Unix seconds');
    }
    const skew = Math.floor(now() / 1000) - Number(svix.timestamp);
    if (Math.abs(skew) > TIMESTAMP_TOLERANCE_S) {
      throw new HttpError(
        401,
        'stale_timestamp',
        `svix-timestamp is ${Math.abs(skew)}s ${skew > 0 ? 'old' : 'in the future'} (more than 5 minutes)`,
      );
    }
    try {
      // The timestamp is checked above, against `now`; the library checks it again.
      verifier.verify(
        body,
        {
          'webhook-id': svix.id,
          'webhook-timestamp': svix.timestamp,
          'webhook-signature': svix.signature,
        },
        { jsonParse: false },
      );
    } catch {
      throw new HttpError(
        401,
        'bad_signature',
        'svix-signature does not match: signed with another secret, or the body was changed',
      );
    }
    deliveryId('svix-id', svix.id);
    const payload = parseJson(body, c.req.header('content-type')) as {
      type?: unknown;
      created_at?: unknown;
      data?: Record<string, unknown>;
    };
    if (typeof payload !== 'object' || payload === null || typeof payload.type !== 'string') {
      throw new HttpError(
        422,
        'invalid_payload',
        'type: expected the event type, e.g. email.delivered',
      );
    }
    const type = payload.type;
    const known = (DELIVERY_EVENTS as readonly string[]).includes(type);
    const data = payload.data ?? {};
    // A created_at PostgreSQL cannot store (year 0, a negative or 5-digit year)
    // is as one JS cannot read: the time it arrived, not a 500 Resend retries.
    const created = new Date(typeof payload.created_at === 'string' ? payload.created_at : now());
    const year = created.getUTCFullYear();
    const occurred = year >= 1 && year <= 9999 ? created : new Date(now());
    const to = Array.isArray(data.to)
      ? data.to.filter((t): t is string => typeof t === 'string')
      : typeof data.to === 'string'
        ? [data.to]
        : [];
    // An address is a key (suppressions): one past what an index entry holds
    // would fail in the database as a 500. No address comes near it (RFC 5321: 254).
    const long = to.findIndex((address) => Buffer.byteLength(address) > MAX_ADDRESS_BYTES);
    if (long >= 0) {
      throw new HttpError(
        422,
        'invalid_payload',
        `data.to${Array.isArray(data.to) ? `[${data.to.indexOf(to[long])}]` : ''}: expected an email address of at most ${MAX_ADDRESS_BYTES} bytes`,
      );
    }
    const outcome = await options.sql.begin(async (tx) => {
      const [fresh] = await tx`
        insert into nudge_engine.provider_deliveries (provider, delivery_id, event_type)
        values ('resend', ${svix.id}, ${type})
        on conflict do nothing returning delivery_id`;
      if (!fresh) return { duplicate: true };
      if (!known) return { ignored: true };
      const { email_id, to: _to, created_at: _at, from: _from, subject: _subject, ...rest } = data;
      const applied = await applyDeliveryEvent(tx, {
        deliveryId: svix.id,
        type: type as DeliveryEventType,
        occurredAt: occurred,
        messageId: typeof email_id === 'string' ? email_id : null,
        to,
        data: rest,
      });
      return { applied };
    });
    if ('applied' in outcome) options.onApplied?.(type);
    return c.json({ received: type, ...outcome }, 200);
  };
}
