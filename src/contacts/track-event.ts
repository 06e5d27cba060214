// Tracking an event from outside (POST /v1/events): the event is stored on its
// contact's timeline and handed to the engine's inbox in one transaction, so
// features triggered by the event's name (`trigger: { event: order_placed }`)
// run on it. An idempotency key makes a retried call return the first event.
import type postgres from 'postgres';
import { type InboxEvent, insertInbox, type Router } from '../engine/intake/inbox.js';
import { type ContactIdentity, resolveContact } from './store.js';

export interface TrackInput {
  /** An existing contact, or an identity to find or create one by. */
  contact: { id: string } | ContactIdentity;
  event: string;
  properties: Record<string, unknown>;
  occurredAt: Date;
  idempotencyKey?: string;
}

export interface TrackedEvent {
  id: number;
  event: string;
  contact_id: string;
  occurred_at: Date;
  idempotency_key: string | null;
  /** True when the idempotency key had been used: this is the first call's event. */
  duplicate: boolean;
}

export class UnknownContact extends Error {
  override name = 'UnknownContact';
}

/** Keys of API callers live apart from the engine's own (action runs use theirs). */
const KEY_PREFIX = 'api:';

interface EventRow {
  id: string;
  name: string;
  contact_id: string;
  occurred_at: Date;
  idempotency_key: string | null;
}

/**
 * Stores the event and its inbox row; returns the stored event and whether
 * the engine has something new to do. A concurrent call with the same key
 * loses the insert race and returns the winner's event.
 */
export async function trackEvent(
  sql: postgres.Sql,
  input: TrackInput,
  route: Router,
): Promise<{ event: TrackedEvent; inboxed: boolean }> {
  const key = input.idempotencyKey === undefined ? null : KEY_PREFIX + input.idempotencyKey;
  if (key) {
    const existing = await findByKey(sql, key);
    if (existing) return { event: shape(existing, true), inboxed: false };
  }
  return sql.begin(async (tx) => {
    const contact = await liveContact(tx, await contactIdFor(tx, input.contact));
    const [row] = await tx<EventRow[]>`
      insert into nudge_engine.events (contact_id, name, properties, source, occurred_at, idempotency_key)
      values (${contact.id}, ${input.event}, ${tx.json(input.properties as postgres.JSONValue)}, 'api',
              ${input.occurredAt}, ${key})
      on conflict (idempotency_key) do nothing
      returning id, name, contact_id, occurred_at, idempotency_key`;
    if (!row) {
      const existing = await findByKey(tx, key!);
      return { event: shape(existing!, true), inboxed: false };
    }
    await tx`
      update nudge_engine.contacts
         set last_event_at = greatest(last_event_at, ${input.occurredAt})
       where id = ${contact.id}`;
    // `new` for the feature: the properties, plus who the event is about, so a
    // feature's contact mapping (`contact: { email: new.email }`) finds them.
    const inbox: InboxEvent = {
      source: 'api',
      sourceKey: `event:${row.id}`,
      eventName: input.event,
      newRow: {
        ...input.properties,
        contact_id: contact.id,
        ...(contact.email ? { email: contact.email } : {}),
        ...(contact.auth_user_id ? { auth_user_id: contact.auth_user_id } : {}),
      },
      occurredAt: input.occurredAt,
    };
    await insertInbox(tx, [inbox], route);
    return { event: shape(row, false), inboxed: true };
  });
}

async function findByKey(db: postgres.Sql | postgres.TransactionSql, key: string) {
  const [row] = await db<EventRow[]>`
    select id, name, contact_id, occurred_at, idempotency_key
      from nudge_engine.events where idempotency_key = ${key}`;
  return row;
}

/** The contact's id, found or created in the event's transaction. */
async function contactIdFor(
  tx: postgres.TransactionSql,
  contact: TrackInput['contact'],
): Promise<string> {
  if ('id' in contact) return contact.id;
  const { id } = await resolveContact(tx, contact);
  // Someone deleted and now active again is a contact again.
  await tx`update nudge_engine.contacts set deleted_at = null, updated_at = now()
            where id = ${id} and deleted_at is not null`;
  return id;
}

async function liveContact(
  tx: postgres.TransactionSql,
  id: string,
): Promise<{ id: string; email: string | null; auth_user_id: string | null }> {
  const [row] = await tx<{ id: string; email: string | null; auth_user_id: string | null }[]>`
    select id, email, auth_user_id from nudge_engine.contacts
     where id = ${id} and deleted_at is null`;
  if (!row) throw new UnknownContact(`no contact with id ${id}`);
  return row;
}

function shape(row: EventRow, duplicate: boolean): TrackedEvent {
  return {
    id: Number(row.id),
    event: row.name,
    contact_id: row.contact_id,
    occurred_at: row.occurred_at,
    idempotency_key: row.idempotency_key?.slice(KEY_PREFIX.length) ?? null,
    duplicate,
  };
}
