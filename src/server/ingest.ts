// POST /ingest: the HTTP door into the engine's inbox, for capture: webhook
// triggers (via pg_net), Supabase Database Webhooks and named events.
//
// Checks run cheapest first and nothing unauthenticated is parsed: declared
// size (413, in the server's limitDeclaredBody), credentials and timestamp (401), the streamed body counted
// against the limit as it arrives (413; never buffered past it), signature
// (401), a delivery id over 200 characters (400), JSON (400), shape (422).
// Then the rows go to the inbox keyed by the delivery's webhook-id, so a
// sender that retries — or pg_net and Nudge's reconcile both delivering one
// batch — stores each row once. The answer is
// 202 with how many rows were new; the engine is woken only when some were.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import type postgres from 'postgres';
import { Webhook } from 'standardwebhooks';
import { insertInbox, type Router } from '../engine/intake/inbox.js';
import { parseJson, readCapped } from './body.js';
import { HttpError } from './http-error.js';
import type { IngestSecrets } from './ingest-secrets.js';
import type { ServerMetrics } from './metrics.js';
import { eventsFromPayload } from './payloads.js';

/** Standard Webhooks' tolerance: timestamps more than 5 minutes off are refused. */
export const TIMESTAMP_TOLERANCE_S = 5 * 60;

/** The longest delivery id (webhook-id, svix-id, idempotency-key) kept as a key. */
export const MAX_DELIVERY_ID = 200;

/**
 * A sender's delivery id, refused (400) past MAX_DELIVERY_ID characters: the
 * inbox keeps it in a unique index, whose entries PostgreSQL caps at about
 * 2.7 kB — a longer id would fail there as a 500 (and a sender retries a 500).
 */
export function deliveryId(header: string, value: string): string {
  if (value.length > MAX_DELIVERY_ID) {
    throw new HttpError(
      400,
      'bad_header',
      `${header}: expected at most ${MAX_DELIVERY_ID} characters, got ${value.length}`,
    );
  }
  return value;
}

export interface IngestOptions {
  sql: postgres.Sql;
  route: Router;
  secrets: IngestSecrets;
  maxBodyBytes: number;
  metrics: ServerMetrics;
  onEvents?: () => void;
}

export function makeIngestHandler(options: IngestOptions) {
  const verifiers = options.secrets.signing.map((secret) => new Webhook(secret));
  const shared = digest(options.secrets.shared);

  return async (c: Context) => {
    const webhook = {
      'webhook-id': c.req.header('webhook-id') ?? '',
      'webhook-timestamp': c.req.header('webhook-timestamp') ?? '',
      'webhook-signature': c.req.header('webhook-signature') ?? '',
    };
    const signed = Object.values(webhook).some(Boolean);
    let deliveryKey: string;
    let body: string;
    if (signed) {
      const missing = Object.entries(webhook).filter(([, value]) => !value);
      if (missing.length > 0) {
        // A shared secret beside a lone webhook-id: say which way the request is read.
        const alsoSecret =
          sharedSecretOf(c) === undefined
            ? ''
            : '; a webhook-* header makes it a signed request (Standard Webhooks), so the shared secret sent is not read: sign it, or drop the webhook-* headers and name the delivery with idempotency-key';
        throw new HttpError(
          401,
          'missing_signature',
          `missing header ${missing.map(([name]) => name).join(', ')}${alsoSecret}`,
        );
      }
      checkTimestamp(webhook['webhook-timestamp']);
      body = await readCapped(c.req.raw, options.maxBodyBytes);
      if (!verifiers.some((verifier) => verifies(verifier, body, webhook))) {
        throw new HttpError(
          401,
          'bad_signature',
          'webhook-signature does not match: signed with another secret, or the body was changed',
        );
      }
      deliveryKey = deliveryId('webhook-id', webhook['webhook-id']);
    } else {
      const token = sharedSecretOf(c);
      if (token === undefined) {
        throw new HttpError(
          401,
          'missing_signature',
          'sign the request per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature), ' +
            'or send the shared secret in x-nudge-secret or Authorization: Bearer',
        );
      }
      if (!timingSafeEqual(digest(token), shared)) {
        throw new HttpError(
          401,
          'bad_secret',
          'the shared secret does not match (`nudge secret shared` prints it; the whsec_ secret signs, it is not sent)',
        );
      }
      body = await readCapped(c.req.raw, options.maxBodyBytes);
      // Supabase Database Webhooks carry no delivery id (and pg_net never
      // resends one), so each is its own delivery unless the sender names it.
      const named = c.req.header('idempotency-key');
      deliveryKey =
        named === undefined ? `db-webhook:${randomUUID()}` : deliveryId('idempotency-key', named);
    }

    const { shape, events } = eventsFromPayload(
      parseJson(body, c.req.header('content-type')),
      deliveryKey,
      new Date(),
    );
    const inserted = await insertInbox(options.sql, events, options.route);
    options.metrics.accepted.inc({ shape });
    options.metrics.rows.inc({ stored: 'new' }, inserted);
    options.metrics.rows.inc({ stored: 'duplicate' }, events.length - inserted);
    if (inserted > 0) options.onEvents?.();
    return c.json({ received: events.length, new: inserted }, 202);
  };
}

function checkTimestamp(header: string): void {
  if (!/^\d{1,12}$/.test(header)) {
    throw new HttpError(401, 'bad_timestamp', 'webhook-timestamp must be Unix seconds');
  }
  const skew = Math.floor(Date.now() / 1000) - Number(header);
  if (skew > TIMESTAMP_TOLERANCE_S) {
    throw new HttpError(
      401,
      'stale_timestamp',
      `webhook-timestamp is ${skew}s old (more than 5 minutes)`,
    );
  }
  if (-skew > TIMESTAMP_TOLERANCE_S) {
    throw new HttpError(
      401,
      'stale_timestamp',
      `webhook-timestamp is ${-skew}s in the future (more than 5 minutes)`,
    );
  }
}

function verifies(verifier: Webhook, body: string, headers: Record<string, string>): boolean {
  try {
    verifier.verify(body, headers, { jsonParse: false });
    return true;
  } catch {
    return false;
  }
}

function sharedSecretOf(c: Context): string | undefined {
  const header = c.req.header('x-nudge-secret');
  if (header) return header;
  const bearer = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '');
  return bearer?.[1]?.trim();
}

/** Equal-length digests, so comparing them leaks neither content nor length. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
