// A found contact completed from what an event says about it: identity
// fields it lacks filled in, attributes merged. Changes nothing (no row
// version written) when there is nothing to fill in. May fail with a unique
// violation (the email or phone belongs to another contact): resolveContact
// runs it in a savepoint inside a transaction and keeps the match as it is.
import type postgres from 'postgres';
import type { ContactKeys, Db } from '../store.js';

export function fillContact(
  db: Db,
  contactId: string,
  keys: ContactKeys,
  attributes: Record<string, unknown>,
): postgres.PendingQuery<postgres.Row[]> {
  const { authUserId, email, phone, externalId } = keys;
  return db`
        update nudge_engine.contacts set
          auth_user_id = coalesce(auth_user_id, ${authUserId}::uuid),
          email = coalesce(email, ${email}),
          phone = coalesce(phone, ${phone}),
          external_id = coalesce(external_id, ${externalId}),
          attributes = attributes || ${db.json(attributes as postgres.JSONValue)},
          updated_at = now()
        where id = ${contactId}
          and (auth_user_id is null and ${authUserId}::uuid is not null
            or email is null and ${email}::text is not null
            or phone is null and ${phone}::text is not null
            or external_id is null and ${externalId}::text is not null
            or ${Object.keys(attributes).length > 0})`;
}
