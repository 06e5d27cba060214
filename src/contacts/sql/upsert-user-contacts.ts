// Contacts of auth users inserted or updated by auth user id in one
// statement, attributes merged over existing ones, counted: created, updated
// (a row ON CONFLICT updated carries this transaction's id in xmax; one it
// inserted has none, which tells them apart without reading first), newly
// deleted, and with `ids` the auth user ids written. `users` is a SELECT of
// (id, email, phone, attributes, deleted_at). Live sync of auth.users, and
// `nudge sync users` page by page.
import type postgres from 'postgres';
import type { Db, UsersUpserted } from '../store.js';

export async function upsertUserContacts(
  db: Db,
  users: postgres.PendingQuery<postgres.Row[]>,
  ids: boolean,
): Promise<UsersUpserted & { ids: string[] | null }> {
  const [counts] = await db<(UsersUpserted & { ids: string[] | null })[]>`
    with users as (${users}),
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
           ${ids ? db`array_agg(auth_user_id::text)` : db`null`} as ids
      from upserted`;
  return counts!;
}
