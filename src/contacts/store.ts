// The contact book's write paths that everything shares: find-or-create a
// contact from what a row says about it (auth user id, email, phone, external
// id), a batch upsert keyed by auth user for syncs, attributes and deletion.
// Emails are stored lower-cased and trimmed. The statements are one per file
// in ./sql/, with find-contacts.ts, the lanes' batch lookup (called directly).
import type postgres from 'postgres';
import { isUniqueViolation } from '../db/errors.js';
import { records } from '../db/records.js';
import { attachUsersByEmail } from './sql/attach-users-by-email.js';
import { fillContact } from './sql/fill-contact.js';
import { findContact } from './sql/find-contact.js';
import { insertContact } from './sql/insert-contact.js';
import { insertContacts } from './sql/insert-contacts.js';
import { mergeAttributes } from './sql/merge-attributes.js';
import { readContacts } from './sql/read-contacts.js';
import { upsertUserContacts } from './sql/upsert-user-contacts.js';

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

export function keysOf(identity: ContactIdentity): ContactKeys {
  return {
    authUserId: identity.authUserId || null,
    email: normalizeEmail(identity.email),
    phone: identity.phone || null,
    externalId: identity.externalId || null,
  };
}

/** The key resolveContact would see an identity under: its keys, in the order it tries them. */
export function identityKey(identity: ContactIdentity): string {
  const { authUserId, email, phone, externalId } = keysOf(identity);
  return JSON.stringify([authUserId, email, phone, externalId]);
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
 * Throws if a row conflicts (e.g. its email belongs to another contact);
 * sync/write.ts's writeUsers then makes room for the addresses
 * (addresses.ts) and splits the batch to find any row still refused. A
 * contact attached by email counts as updated. With `ids`, also returns the
 * auth user ids it wrote.
 */
export async function upsertUserRows(
  db: Db,
  users: () => postgres.PendingQuery<postgres.Row[]>,
  options: { ids?: boolean } = {},
): Promise<UsersUpserted & { ids: string[] }> {
  await attachUsersByEmail(db, users());
  const counts = await upsertUserContacts(db, users(), options.ids === true);
  return { ...counts, ids: counts.ids ?? [] };
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
  await mergeAttributes(db, contactId, attributes);
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
