// The contact an identity names, in one indexed statement: by auth user id,
// then email, then phone, then external id (the first that matches wins).
// The first step of resolveContact (contacts/store.ts), on every event whose
// contact the batch's lookup did not find.
import type { ContactKeys, Db } from '../store.js';

export async function findContact(db: Db, keys: ContactKeys): Promise<string | undefined> {
  const { authUserId, email, phone, externalId } = keys;
  const [found] = await db<{ id: string }[]>`
      select id from nudge_engine.contacts
       where (${authUserId}::uuid is not null and auth_user_id = ${authUserId}::uuid)
          or (${email}::text is not null and email = ${email})
          or (${phone}::text is not null and phone = ${phone})
          or (${externalId}::text is not null and external_id = ${externalId})
       order by (auth_user_id = ${authUserId}::uuid) is true desc,
                (email = ${email}) is true desc,
                (phone = ${phone}) is true desc
       limit 1`;
  return found?.id;
}
