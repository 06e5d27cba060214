// A new contact from an identity, unless one of its fields is taken (then
// nothing: resolveContact looks again, as a concurrent creation won).
import type postgres from 'postgres';
import type { ContactKeys, Db } from '../store.js';

export async function insertContact(
  db: Db,
  keys: ContactKeys,
  attributes: Record<string, unknown>,
): Promise<string | undefined> {
  const { authUserId, email, phone, externalId } = keys;
  const [inserted] = await db<{ id: string }[]>`
      insert into nudge_engine.contacts (auth_user_id, email, phone, external_id, attributes)
      values (${authUserId}::uuid, ${email}, ${phone}, ${externalId}, ${db.json(attributes as postgres.JSONValue)})
      on conflict do nothing
      returning id`;
  return inserted?.id;
}
