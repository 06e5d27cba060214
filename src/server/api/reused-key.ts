// An idempotency key names one event. POST /v1/events answers a call whose
// key was used before with the first event only when the call asks for that
// same event again (a retry); a key reused for another event is a 422
// `idempotency_key_reused` instead of a silent 200 with an event the caller
// did not send (Stripe refuses such a call too; the IETF Idempotency-Key
// draft answers it with 422). The comparison runs after trackEvent returned
// the stored event having written nothing (contacts/track-event.ts), so a
// refused call leaves no contact behind, also when it raced the first.
import type postgres from 'postgres';
import { findContact } from '../../contacts/sql/find-contact.js';
import { normalizeEmail } from '../../contacts/store.js';
import type { TrackedEvent } from '../../contacts/track-event.js';
import { HttpError } from '../http-error.js';

/** The event a call asks for, as POST /v1/events read it. */
export interface RequestedEvent {
  event: string;
  properties: Record<string, unknown>;
  /** Compared only when the call gives it: a retry cannot repeat the first call's "now". */
  occurredAt?: Date;
  contact:
    | { id: string }
    | { email?: string; authUserId?: string; phone?: string; externalId?: string };
}

/**
 * What of the requested event differs from the stored one (`event`,
 * `contact`, `properties`, `occurred_at`), compared with what was stored:
 * properties as jsonb (key order and spacing do not count), the contact as
 * the one the call's identity names now (a contact_id, or the contact its
 * email, auth_user_id, phone or external_id finds).
 */
export async function differences(
  sql: postgres.Sql,
  stored: TrackedEvent,
  requested: RequestedEvent,
): Promise<string[]> {
  const [row] = await sql<{ same_properties: boolean }[]>`
    select properties = ${sql.json(requested.properties as postgres.JSONValue)}::jsonb as same_properties
      from nudge_engine.events where id = ${stored.id}`;
  const contact =
    'id' in requested.contact
      ? requested.contact.id
      : await findContact(sql, {
          authUserId: requested.contact.authUserId ?? null,
          email: normalizeEmail(requested.contact.email),
          phone: requested.contact.phone ?? null,
          externalId: requested.contact.externalId ?? null,
        });
  const differs: string[] = [];
  if (requested.event !== stored.event) differs.push('event');
  if (contact !== stored.contact_id) differs.push('contact');
  if (!row?.same_properties) differs.push('properties');
  if (requested.occurredAt && requested.occurredAt.getTime() !== stored.occurred_at.getTime())
    differs.push('occurred_at');
  return differs;
}

/** The 422 for a key first used for another event: the key, that event, and what differs. */
export function keyReused(key: string, first: TrackedEvent, differs: string[]): HttpError {
  return new HttpError(
    422,
    'idempotency_key_reused',
    `idempotency_key "${key}" was first used for another event (#${first.id} ${first.event} at ${first.occurred_at.toISOString()}); this call's ${differs.join(', ')} ${differs.length === 1 ? 'differs' : 'differ'}: send a new key for a new event, or the first call's body again to get its event`,
    {},
    { idempotency_key: key, differs, first_event_id: first.id },
  );
}
