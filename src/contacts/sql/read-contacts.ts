// Contacts as conditions on contact.* see them, in one statement: each row's
// attributes with its own fields over them (id, identities, created_at,
// deleted_at). Read for every contact a batch's events concern.
import type { Db } from '../store.js';

/** A contact's own fields, which conditions and templates see over its attributes (the row below). */
export const CONTACT_FIELDS = [
  'id',
  'auth_user_id',
  'email',
  'phone',
  'external_id',
  'created_at',
  'deleted_at',
] as const;

export function readContacts(
  db: Db,
  contactIds: string[],
): Promise<{ id: string; row: Record<string, unknown> }[]> {
  return db<{ id: string; row: Record<string, unknown> }[]>`
    select id, attributes || jsonb_build_object('id', id, 'auth_user_id', auth_user_id, 'email', email,
             'phone', phone, 'external_id', external_id, 'created_at', created_at, 'deleted_at', deleted_at) as row
      from nudge_engine.contacts where id = any(${contactIds}::uuid[])`;
}
