// Contacts the lanes create from an app table (orders.user_id) filled from
// the Supabase Auth user they name, in the lane's transaction: the engine
// passes this as the contacts store's onContactsCreated hook.
import type postgres from 'postgres';
import { records } from '../db/records.js';

/**
 * A contact first seen through another table (orders.user_id) gets its email
 * and phone from the Supabase Auth user it names, so templates and
 * conditions see them without waiting for a sync.
 */
export async function fillFromAuthUsers(
  source: postgres.Sql,
  tx: postgres.TransactionSql,
  created: { id: string; identity: { authUserId?: string | null } }[],
): Promise<void> {
  const byUser = new Map<string, string>();
  for (const { id, identity } of created)
    if (identity.authUserId) byUser.set(identity.authUserId, id);
  if (byUser.size === 0) return;
  const users = await source<{ id: string; email: string | null; phone: string | null }[]>`
    select id, email, phone from auth.users where id = any(${[...byUser.keys()]}::uuid[])`;
  if (users.length === 0) return;
  await tx`
    update nudge_engine.contacts c
       set email = coalesce(c.email, lower(u.email)), phone = coalesce(c.phone, u.phone)
      from ${records(
        tx,
        users.map((u) => ({ contact_id: byUser.get(u.id)!, email: u.email, phone: u.phone })),
        'contact_id uuid, email text, phone text',
        'u',
      )}
     where c.id = u.contact_id
       and not exists (select from nudge_engine.contacts o
                        where o.id <> c.id and (o.email = lower(u.email) or o.phone = u.phone))`;
}
