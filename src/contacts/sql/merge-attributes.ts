// Attributes merged into a contact (the given keys over its own): live
// sync of a mapped table's row, a `set` action, the API. One row, by id.
import type postgres from 'postgres';
import type { Db } from '../store.js';

export async function mergeAttributes(
  db: Db,
  contactId: string,
  attributes: Record<string, unknown>,
): Promise<void> {
  await db`
    update nudge_engine.contacts set attributes = attributes || ${db.json(attributes as postgres.JSONValue)}, updated_at = now()
     where id = ${contactId}`;
}
