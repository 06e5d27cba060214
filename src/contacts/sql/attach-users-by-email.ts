// Contacts created earlier with only an auth user's email, given that user's
// id, before the users are upserted by id (upsert-user-contacts.ts). Such
// contacts are few or none: the EXISTS is evaluated once, and when there are
// none the users are not read for them. `users` is a SELECT of (id, email,
// phone, attributes, deleted_at).
import type postgres from 'postgres';
import type { Db } from '../store.js';

export async function attachUsersByEmail(
  db: Db,
  users: postgres.PendingQuery<postgres.Row[]>,
): Promise<void> {
  await db`
    update nudge_engine.contacts c set auth_user_id = i.id, updated_at = now()
      from (${users}) i
     where exists (select from nudge_engine.contacts n where n.auth_user_id is null and n.email is not null)
       and c.auth_user_id is null and i.email is not null and c.email = i.email
       and not exists (select from nudge_engine.contacts x where x.auth_user_id = i.id)`;
}
