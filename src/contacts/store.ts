// The contact book's write paths that everything shares: find-or-create a
// contact from what a row says about it (auth user id, email, phone, external
// id), a batch upsert keyed by auth user for syncs, attributes and deletion.
// Emails are stored lower-cased and trimmed.
import type postgres from 'postgres';
import { isUniqueViolation } from '../db/errors.js';
import { records } from '../db/records.js';
import { fillContact } from '../engine/sql/fill-contact.js';
import { findContact } from '../engine/sql/find-contact.js';
import { insertContact } from '../engine/sql/insert-contact.js';
import { insertContacts } from '../engine/sql/insert-contacts.js';
import { readContacts } from '../engine/sql/read-contacts.js';

export interface ContactIdentity {
  authUserId?: string | null;
  email?: string | null;
  phone?: string | null;
  externalId?: string | null;
}

export type Db = postgres.Sql | postgres.TransactionSql;

/** An identity as the store looks it up: email normalized, blank fields null. */
export interface ContactKeys {
  authUserId: string | null;
  email: string | null;
  phone: string | null;
  externalId: string | null;
}

function keysOf(identity: ContactIdentity): ContactKeys {
  return {
    authUserId: identity.authUserId || null,
    email: normalizeEmail(identity.email),
    phone: identity.phone || null,
    externalId: identity.externalId || null,
  };
}

export function normalizeEmail(email: string | null | undefined): string | null {
  const trimmed = email?.trim().toLowerCase();
  return trimmed ? trimmed : null;
}

export function hasIdentity(identity: ContactIdentity): boolean {
  return !!(
    identity.authUserId ||
    normalizeEmail(identity.email) ||
    identity.phone ||
    identity.externalId
  );
}

/**
 * The contact this identity names, created if there is none. Looks up by auth
 * user id, then email, then phone, then external id; fills in identity fields
 * the found contact lacks. Safe against a concurrent creation of the same
 * contact (the loser re-reads the winner's row).
 */
export async function resolveContact(
  db: Db,
  identity: ContactIdentity,
  attributes: Record<string, unknown> = {},
): Promise<{ id: string; created: boolean }> {
  const keys = keysOf(identity);
  if (!keys.authUserId && !keys.email && !keys.phone && !keys.externalId)
    throw new Error('a contact needs an id, email, phone or external id');
  for (let attempt = 0; attempt < 3; attempt++) {
    const found = await findContact(db, keys);
    if (found) {
      // Filling in identity fields can collide with another contact that
      // holds the same email or phone: keep the match as it is then. In a
      // transaction a failed statement aborts it, so the update runs in a
      // savepoint there.
      const fill = (q: Db) => fillContact(q, found, keys, attributes);
      await ('savepoint' in db ? db.savepoint((sp) => fill(sp)) : fill(db)).catch(
        (error: unknown) => {
          if (!isUniqueViolation(error)) throw error;
        },
      );
      return { id: found, created: false };
    }
    const inserted = await insertContact(db, keys, attributes);
    if (inserted) return { id: inserted, created: true };
  }
  throw new Error('could not resolve the contact: it kept changing concurrently');
}

/**
 * Creates a contact for each identity that shares no field with an existing
 * contact or with an earlier identity of the list, in one statement; returns
 * the new contact's id for each identity, or null where it was not created
 * (resolveContact then finds or merges the contact it collides with).
 */
export async function createContacts(
  db: Db,
  identities: ContactIdentity[],
): Promise<(string | null)[]> {
  if (identities.length === 0) return [];
  const created = await insertContacts(db, identities.map(keysOf));
  const ids: (string | null)[] = identities.map(() => null);
  for (const { n, id } of created) ids[n - 1] = id;
  return ids;
}

export interface SyncedUser {
  authUserId: string;
  email: string | null;
  phone: string | null;
  attributes: Record<string, unknown>;
  deletedAt: Date | null;
}

/** What a users upsert did: contacts created, updated, newly marked deleted. */
export interface UsersUpserted {
  created: number;
  updated: number;
  deleted: number;
}

/**
 * Upserts contacts for auth users: `users` is a SELECT of (id, email, phone,
 * attributes, deleted_at) — rows sent from this process, or auth.users read
 * in the database (sync/in-database.ts) — called once per statement. First
 * attaches contacts created earlier with only the user's email, then
 * inserts or updates by auth user id, attributes merged over existing ones.
 * Throws if a row conflicts (e.g. its email belongs to another user's
 * contact); callers split the batch to find and skip that row. A contact
 * attached by email counts as updated. With `ids`, also returns the auth
 * user ids it wrote.
 */
export async function upsertUserRows(
  db: Db,
  users: () => postgres.PendingQuery<postgres.Row[]>,
  options: { ids?: boolean } = {},
): Promise<UsersUpserted & { ids: string[] }> {
  // Contacts known only by email are few or none: the EXISTS is evaluated
  // once, and when there are none the users are not read for them.
  await db`
    update nudge_engine.contacts c set auth_user_id = i.id, updated_at = now()
      from (${users()}) i
     where exists (select from nudge_engine.contacts n where n.auth_user_id is null and n.email is not null)
       and c.auth_user_id is null and i.email is not null and c.email = i.email
       and not exists (select from nudge_engine.contacts x where x.auth_user_id = i.id)`;
  // A row ON CONFLICT updated carries this transaction's id in xmax; a row
  // it inserted has none: that tells the two apart without reading first.
  const [counts] = await db<(UsersUpserted & { ids: string[] | null })[]>`
    with users as (${users()}),
    newly_deleted as (
      select count(*)::int as n from users i
        left join nudge_engine.contacts c on c.auth_user_id = i.id
       where i.deleted_at is not null and c.deleted_at is null
    ), upserted as (
      insert into nudge_engine.contacts (auth_user_id, email, phone, attributes, deleted_at)
      select id, email, phone, attributes, deleted_at from users
      on conflict (auth_user_id) do update set
        email = excluded.email,
        phone = excluded.phone,
        attributes = nudge_engine.contacts.attributes || excluded.attributes,
        deleted_at = excluded.deleted_at,
        updated_at = now()
      returning auth_user_id, xmax = 0 as created
    )
    select count(*) filter (where created)::int as created,
           count(*) filter (where not created)::int as updated,
           (select n from newly_deleted) as deleted,
           ${options.ids ? db`array_agg(auth_user_id::text)` : db`null`} as ids
      from upserted`;
  return { ...counts!, ids: counts!.ids ?? [] };
}

/** upsertUserRows for users mapped in this process. */
export async function upsertUsers(db: Db, users: SyncedUser[]): Promise<UsersUpserted> {
  if (users.length === 0) return { created: 0, updated: 0, deleted: 0 };
  const rows = users.map((u) => ({
    id: u.authUserId,
    email: normalizeEmail(u.email),
    phone: u.phone || null,
    attributes: u.attributes,
    deleted_at: u.deletedAt ?? null,
  }));
  const { ids: _, ...counts } = await upsertUserRows(
    db,
    () =>
      db`select * from ${records(db, rows, 'id uuid, email text, phone text, attributes jsonb, deleted_at timestamptz', 'i')}`,
  );
  return counts;
}

/** Merges attributes into a contact. */
export async function setAttributes(
  db: Db,
  contactId: string,
  attributes: Record<string, unknown>,
): Promise<void> {
  await db`
    update nudge_engine.contacts set attributes = attributes || ${db.json(attributes as postgres.JSONValue)}, updated_at = now()
     where id = ${contactId}`;
}

/** A contact with its attributes, as conditions on contact.* see it. */
export async function contactRow(
  db: Db,
  contactId: string,
): Promise<Record<string, unknown> | null> {
  return (await contactRows(db, [contactId])).get(contactId) ?? null;
}

/** contactRow for several contacts in one query; absent ids are left out. */
export async function contactRows(
  db: Db,
  contactIds: string[],
): Promise<Map<string, Record<string, unknown>>> {
  if (contactIds.length === 0) return new Map();
  const rows = await readContacts(db, contactIds);
  return new Map(rows.map((r) => [r.id, r.row]));
}
