// The contacts other than each auth user's own that hold the email or phone
// the user comes with, and the users' own contacts: what addresses.ts decides
// on when an upsert of users hit contacts_email_key or contacts_phone_key.
// Two index lookups a user (a UNION ALL of two joins, not one join on an OR,
// so each side uses its unique index).
import { records } from '../../db/records.js';
import type { Db } from '../store.js';

export interface Holder {
  /** The user's place in the batch. */
  n: number;
  field: 'email' | 'phone';
  id: string;
  auth_user_id: string | null;
  phone: string | null;
  external_id: string | null;
  deleted: boolean;
}

export interface OwnContact {
  id: string;
  auth_user_id: string;
  email: string | null;
  phone: string | null;
  external_id: string | null;
}

export async function addressHolders(
  db: Db,
  wanted: { n: number; id: string; email: string | null; phone: string | null }[],
): Promise<{ holders: Holder[]; own: OwnContact[] }> {
  const shape = 'n int, id uuid, email text, phone text';
  const holders = await db<Holder[]>`
    select w.n, 'email' as field, c.id, c.auth_user_id::text, c.phone, c.external_id,
           c.deleted_at is not null as deleted
      from ${records(db, wanted, shape, 'w')}
      join nudge_engine.contacts c on c.email = w.email
     where c.auth_user_id is distinct from w.id
    union all
    select w.n, 'phone', c.id, c.auth_user_id::text, c.phone, c.external_id,
           c.deleted_at is not null
      from ${records(db, wanted, shape, 'w')}
      join nudge_engine.contacts c on c.phone = w.phone
     where c.auth_user_id is distinct from w.id`;
  const own = await db<OwnContact[]>`
    select id, auth_user_id::text, email, phone, external_id from nudge_engine.contacts
     where auth_user_id = any(${wanted.map((w) => w.id)}::uuid[])`;
  return { holders, own };
}

/** Takes these addresses off their contacts (deleted ones, or a user of the batch moving off it). */
export async function releaseAddresses(
  db: Db,
  emails: string[],
  phones: string[],
): Promise<number> {
  if (emails.length === 0 && phones.length === 0) return 0;
  const result = await db`
    update nudge_engine.contacts
       set email = case when id = any(${emails}::uuid[]) then null else email end,
           phone = case when id = any(${phones}::uuid[]) then null else phone end,
           updated_at = now()
     where id = any(${[...emails, ...phones]}::uuid[])`;
  return result.count;
}
