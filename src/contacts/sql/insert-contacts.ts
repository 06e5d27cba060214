// A batch's new contacts in one statement: one for each identity that shares
// no field with an existing contact or an earlier identity of the list
// (on conflict do nothing). Returns, for identity n (1-based), the id created.
import type { ContactKeys, Db } from '../store.js';

export function insertContacts(db: Db, keys: ContactKeys[]): Promise<{ n: number; id: string }[]> {
  const column = (pick: (k: ContactKeys) => string | null) => keys.map(pick);
  return db<{ n: number; id: string }[]>`
    with input as (
      select * from unnest(${column((k) => k.authUserId)}::uuid[], ${column((k) => k.email)}::text[],
                           ${column((k) => k.phone)}::text[], ${column((k) => k.externalId)}::text[])
             with ordinality as i(a, e, p, x, n)
    ), inserted as (
      insert into nudge_engine.contacts (auth_user_id, email, phone, external_id)
      select a, e, p, x from input order by n
      on conflict do nothing
      returning id, auth_user_id, email, phone, external_id
    )
    select input.n::int as n, inserted.id from inserted
      join input on inserted.auth_user_id is not distinct from input.a and inserted.email is not distinct from input.e
                and inserted.phone is not distinct from input.p and inserted.external_id is not distinct from input.x`;
}
