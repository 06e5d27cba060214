// The set-based writes a sync batch makes in the engine store: users through
// store.ts's upsertUsers (a batch that hits an address another contact holds
// makes room for it as addresses.ts decides, then is split in savepoints
// until any row the store still refuses is found and skipped), contacts found
// or created for table rows, attributes merged, events inserted once per key,
// and auth users that no longer exist marked deleted on their contact.
import type postgres from 'postgres';
import { isBadData, isUniqueViolation } from '../../db/errors.js';
import { records } from '../../db/records.js';
import { type AddressConflict, claimAddresses } from '../addresses.js';
import type { ContactRef, SyncedEvent } from '../mapping.js';
import { type SyncedUser, upsertUsers } from '../store.js';

type Tx = postgres.TransactionSql;

export interface UserWrite {
  written: number;
  created: number;
  updated: number;
  /** Users newly marked deleted (soft-deleted in Supabase). */
  deleted: number;
  /** Users the store refused, with why: not written at all. */
  failed: { user: SyncedUser; reason: string }[];
  /** Users written without an address another contact holds (addresses.ts). */
  conflicts: AddressConflict[];
  /** Addresses deleted contacts gave up, and contacts known only by email merged into a user's. */
  released: number;
  merged: number;
}

type Upserted = Omit<UserWrite, 'written'>;

const nothing = (): Upserted => ({
  created: 0,
  updated: 0,
  deleted: 0,
  failed: [],
  conflicts: [],
  released: 0,
  merged: 0,
});

/**
 * Upserts the users' contacts. The batch goes in one statement; only when
 * the store refuses it (an address another contact holds, a value it
 * rejects) is room made for the addresses and the batch split until the
 * rows it still refuses are found. A user is left out only for a refusal
 * that is not about its addresses.
 */
export async function writeUsers(tx: Tx, users: SyncedUser[]): Promise<UserWrite> {
  if (users.length === 0) return { written: 0, ...nothing() };
  let result: Upserted;
  try {
    result = { ...nothing(), ...(await tx.savepoint((sp) => upsertUsers(sp, users))) };
  } catch (error) {
    if (!isBadData(error)) throw error;
    result = await claimSplitting(tx, users);
  }
  return { written: users.length - result.failed.length, ...result };
}

/** claimAddresses and the upsert in one savepoint (a refusal undoes both); halves on a refusal. */
async function claimSplitting(tx: Tx, users: SyncedUser[]): Promise<Upserted> {
  try {
    return await tx.savepoint(async (sp) => {
      const claim = await claimAddresses(sp, users);
      const counts = await upsertUsers(sp, claim.users);
      return {
        ...counts,
        failed: [],
        conflicts: claim.conflicts,
        released: claim.released,
        merged: claim.merged,
      };
    });
  } catch (error) {
    if (!isBadData(error)) throw error;
    if (users.length === 1)
      return { ...nothing(), failed: [{ user: users[0]!, reason: refusal(error) }] };
    const half = Math.ceil(users.length / 2);
    const first = await claimSplitting(tx, users.slice(0, half));
    const second = await claimSplitting(tx, users.slice(half));
    return {
      created: first.created + second.created,
      updated: first.updated + second.updated,
      deleted: first.deleted + second.deleted,
      failed: [...first.failed, ...second.failed],
      conflicts: [...first.conflicts, ...second.conflicts],
      released: first.released + second.released,
      merged: first.merged + second.merged,
    };
  }
}

function refusal(error: unknown): string {
  const e = error as { code?: string; constraint_name?: string; message?: string };
  // After claimAddresses, only a race (another transaction took the address
  // in between) gets here: the next run reads the user again.
  if (isUniqueViolation(e) && e.constraint_name === 'contacts_email_key') {
    return 'its email was taken by another contact while it was written';
  }
  if (isUniqueViolation(e) && e.constraint_name === 'contacts_phone_key') {
    return 'its phone was taken by another contact while it was written';
  }
  return `the engine store refused it: ${e.message ?? String(error)} (SQLSTATE ${e.code})`;
}

/**
 * Marks deleted the contacts of auth users in the id range (from, to] that
 * the page did not contain: a full sync reads auth.users in id order, so any
 * contact in that range it did not see has lost its user — if the contact
 * was there when the page was read. `readAt` is the engine store's time
 * before the read: a contact made or changed since (live sync of a user who
 * signed up after the read, a table row naming the user) is left for the
 * next full run, which reads its user. (NOT IN a subquery is a hashed
 * lookup; `<> all(array)` would compare every pair.)
 */
export async function markDeletedBetween(
  tx: Tx | postgres.Sql,
  from: string | null,
  to: string | null,
  seen: string[],
  readAt: string,
): Promise<number> {
  const result = await tx`
    update nudge_engine.contacts set deleted_at = now(), updated_at = now()
     where auth_user_id is not null and deleted_at is null
       ${from === null ? tx`` : tx`and auth_user_id > ${from}::uuid`}
       ${to === null ? tx`` : tx`and auth_user_id <= ${to}::uuid`}
       and auth_user_id not in (select unnest(${seen}::uuid[]))
       and created_at < ${readAt}::timestamptz and updated_at < ${readAt}::timestamptz`;
  return result.count;
}

/** Marks these contacts' users deleted (verified gone through the Auth API). */
export async function markDeleted(sql: postgres.Sql, authUserIds: string[]): Promise<number> {
  if (authUserIds.length === 0) return 0;
  const result = await sql`
    update nudge_engine.contacts set deleted_at = now(), updated_at = now()
     where auth_user_id = any(${authUserIds}::uuid[]) and deleted_at is null`;
  return result.count;
}

/** Bumps updated_at so an API-mode full sync knows these users were seen (skipped rows). */
export async function touchUsers(tx: Tx, authUserIds: string[]): Promise<void> {
  if (authUserIds.length === 0) return;
  await tx`update nudge_engine.contacts set updated_at = now() where auth_user_id = any(${authUserIds}::uuid[])`;
}

export const refKey = (ref: ContactRef) =>
  'authUserId' in ref ? `user:${ref.authUserId}` : `email:${ref.email}`;

/**
 * The contact of each reference, created when there is none yet (a user id
 * alone, or an email alone; a later users sync fills in the rest).
 */
export async function contactIds(
  tx: Tx,
  refs: ContactRef[],
): Promise<{ ids: Map<string, string>; created: number }> {
  const userIds = [...new Set(refs.flatMap((r) => ('authUserId' in r ? [r.authUserId] : [])))];
  const emails = [...new Set(refs.flatMap((r) => ('email' in r ? [r.email] : [])))];
  const found = new Map<string, string>();
  let created = 0;
  if (userIds.length > 0) {
    created += (
      await tx`
      insert into nudge_engine.contacts (auth_user_id)
      select id from unnest(${userIds}::uuid[]) as i(id)
      on conflict do nothing`
    ).count;
    const rows = await tx<{ id: string; key: string }[]>`
      select id, auth_user_id::text as key from nudge_engine.contacts
       where auth_user_id = any(${userIds}::uuid[])`;
    for (const row of rows) found.set(`user:${row.key}`, row.id);
  }
  if (emails.length > 0) {
    created += (
      await tx`
      insert into nudge_engine.contacts (email)
      select email from unnest(${emails}::text[]) as i(email)
      on conflict do nothing`
    ).count;
    const rows = await tx<{ id: string; key: string }[]>`
      select id, email as key from nudge_engine.contacts where email = any(${emails}::text[])`;
    for (const row of rows) found.set(`email:${row.key}`, row.id);
  }
  return { ids: found, created };
}

/** Merges attributes into contacts; later entries for one contact win over earlier ones. */
export async function mergeAttributes(
  tx: Tx,
  updates: { contactId: string; attributes: Record<string, unknown> }[],
): Promise<number> {
  const merged = new Map<string, Record<string, unknown>>();
  for (const { contactId, attributes } of updates) {
    merged.set(contactId, { ...merged.get(contactId), ...attributes });
  }
  if (merged.size === 0) return 0;
  const result = await tx`
    update nudge_engine.contacts c
       set attributes = c.attributes || v.attributes, updated_at = now()
      from ${records(
        tx,
        [...merged].map(([id, attributes]) => ({ id, attributes })),
        'id uuid, attributes jsonb',
        'v',
      )}
     where c.id = v.id`;
  return result.count;
}

/**
 * Inserts events on their contacts' timelines and moves their last_event_at;
 * a key seen before adds nothing. Used by `nudge sync` and live sync alike.
 * These events are history: they are not handed to the engine's inbox, so a
 * backfill of old orders starts no feature.
 */
export async function insertEvents(
  tx: Tx,
  events: { contactId: string; event: SyncedEvent }[],
  source: string,
): Promise<number> {
  if (events.length === 0) return 0;
  const result = await tx`
    with added as (
      insert into nudge_engine.events (contact_id, name, properties, source, occurred_at, idempotency_key)
      select e.contact_id, e.name, e.properties, ${source}, coalesce(e.occurred_at, now()), e.key
        from ${records(
          tx,
          events.map(({ contactId, event }) => ({
            contact_id: contactId,
            name: event.name,
            properties: event.properties,
            occurred_at: event.occurredAt,
            key: event.idempotencyKey,
          })),
          'contact_id uuid, name text, properties jsonb, occurred_at timestamptz, key text',
          'e',
        )}
      on conflict (idempotency_key) do nothing
      returning contact_id, occurred_at)
    update nudge_engine.contacts c set last_event_at = greatest(c.last_event_at, a.at)
      from (select contact_id, max(occurred_at) as at from added group by contact_id) a
     where c.id = a.contact_id
    returning (select count(*) from added)::int as added`;
  return (result[0] as { added?: number } | undefined)?.added ?? 0;
}
