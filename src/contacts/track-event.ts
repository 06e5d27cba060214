// Tracking an event from outside (POST /v1/events): the event is stored on its
// contact's timeline and handed to the engine's inbox in one transaction, so
// features triggered by the event's name (`trigger: { event: order_placed }`)
// run on it. An idempotency key makes a retried call return the first event.
//
// A call whose key is already held writes nothing — no contact created,
// restored or filled in — whether it repeats the first call (a 200 replay) or
// asks for another event (the route's 422, server/api/reused-key.ts). The
// key is held once an event row carries it, so:
// - a key used before is found by a read before the transaction, and the
//   call returns that event without touching its contact;
// - a key taken by a concurrent call after that read is found by the event
//   insert itself: the unique index on idempotency_key makes the insert wait
//   for the other transaction and then do nothing (or succeed, if the other
//   rolled back and the key is free again). By then this call has found or
//   created its contact, so it throws KeyHeld, which rolls its whole
//   transaction back, and reads the winner's event as in the first case.
// The comparison of what was asked with what was stored stays in the route,
// after the rollback: both answers write nothing, so it need not be in the
// transaction. Not taken: locking the key (an advisory lock) before resolving
// the contact would spare the loser its rolled-back work, but costs every
// keyed call a statement and a lock namespace, for the rare race the unique
// index already settles. A call without a key pays nothing for any of this:
// one transaction, as before.
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

/** Thrown inside the event's transaction to roll it back: another event holds the key. */
class KeyHeld extends Error {
  override name = 'KeyHeld';
}

/**
 * Stores the event and its inbox row; returns the stored event and whether
 * the engine has something new to do. A call whose key another event holds
 * (before, or by winning a concurrent insert) returns that event, marked
 * duplicate, and has written nothing.
 */
export async function trackEvent(
  sql: postgres.Sql,
  input: TrackInput,
  route: Router,
): Promise<{ event: TrackedEvent; inboxed: boolean }> {
  const key = input.idempotencyKey === undefined ? null : KEY_PREFIX + input.idempotencyKey;
  // A second turn only after losing the insert race: the winner has committed
  // and the read finds its event. A third only if that event was deleted in
  // between and the key was taken again.
  for (let attempt = 0; attempt < 3; attempt++) {
    if (key) {
      const existing = await findByKey(sql, key);
      if (existing) return { event: shape(existing, true), inboxed: false };
    }
    try {
      return await storeEvent(sql, input, key, route);
    } catch (error) {
      if (!(error instanceof KeyHeld)) throw error;
    }
  }
  throw new Error(`idempotency key ${input.idempotencyKey} kept changing hands concurrently`);
}

/** The event, its contact and its inbox row in one transaction; KeyHeld rolls it all back. */
function storeEvent(
  sql: postgres.Sql,
  input: TrackInput,
  key: string | null,
  route: Router,
): Promise<{ event: TrackedEvent; inboxed: boolean }> {
  return sql.begin(async (tx) => {
    const contact = await liveContact(tx, await contactIdFor(tx, input.contact));
    const [row] = await tx<EventRow[]>`
      insert into nudge_engine.events (contact_id, name, properties, source, occurred_at, idempotency_key)
      values (${contact.id}, ${input.event}, ${tx.json(input.properties as postgres.JSONValue)}, 'api',
              ${input.occurredAt}, ${key})
      on conflict (idempotency_key) do nothing
      returning id, name, contact_id, occurred_at, idempotency_key`;
    // Taken by a call that committed while this one resolved its contact:
    // undo that contact's creation or change with everything else.
    if (!row) throw new KeyHeld();
    await tx`
      update nudge_engine.contacts
         set last_event_at = greatest(last_event_at, ${input.occurredAt})
       where id = ${contact.id}`;
    // `new` for the feature: the properties, plus who the event is about, so a
    // feature's contact mapping (`contact: { email: new.email }`) finds them.
    // Always theirs, null when they have none: a property named `email` (an
    // invitee's) must not make the event someone else's.
    const inbox: InboxEvent = {
      source: 'api',
      sourceKey: `event:${row.id}`,
      eventName: input.event,
      newRow: {
        ...input.properties,
        contact_id: contact.id,
        email: contact.email,
        auth_user_id: contact.auth_user_id,
      },
      occurredAt: input.occurredAt,
    };
    await insertInbox(tx, [inbox], route);
    return { event: shape(row, false), inboxed: true };
  });
}

async function findByKey(db: postgres.Sql, key: string) {
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
