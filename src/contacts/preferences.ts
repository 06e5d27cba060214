// A contact's email preferences: which topics they receive. No row means
// subscribed; a row for a topic decides that topic; a row for '*' decides
// every topic without a row of its own (a complaint, "unsubscribe from all").
// Changes take effect at once: every send checks them when it runs.
import type postgres from 'postgres';
import { ALL_TOPICS } from '../email/topics.js';
import type { Db } from './store.js';

export type PreferenceSource = 'one-click' | 'preference page' | 'api' | 'complaint' | 'mailto';

/** For each (contact, topic), whether the contact opted out of it: one query. */
export async function optedOut(
  db: Db,
  pairs: { contactId: string; topic: string }[],
): Promise<boolean[]> {
  if (pairs.length === 0) return [];
  const rows = await db<{ i: number; out: boolean }[]>`
    select p.i, coalesce(
             (select not subscribed from nudge_engine.email_preferences
               where contact_id = p.contact_id and topic = p.topic),
             (select not subscribed from nudge_engine.email_preferences
               where contact_id = p.contact_id and topic = ${ALL_TOPICS}),
             false) as out
      from unnest(${pairs.map((p) => p.contactId)}::uuid[], ${pairs.map((p) => p.topic)}::text[])
           with ordinality as p(contact_id, topic, i)`;
  const out = new Array<boolean>(pairs.length).fill(false);
  for (const row of rows) out[Number(row.i) - 1] = row.out;
  return out;
}

/** Whether the contact receives each of `topics` now. */
export async function preferencesOf(
  db: Db,
  contactId: string,
  topics: string[],
): Promise<Record<string, boolean>> {
  const out = await optedOut(
    db,
    topics.map((topic) => ({ contactId, topic })),
  );
  return Object.fromEntries(topics.map((topic, i) => [topic, !out[i]]));
}

/**
 * Sets topics on or off (topic '*' for all at once: it also clears the
 * choices made per topic). Atomic: in its own transaction (or the caller's),
 * so a send reading preferences meanwhile sees them before or after the
 * change, never the per-topic choices cleared and not yet written again.
 * Idempotent: setting what is already set changes nothing but updated_at. A
 * change is an event on the contact's timeline (email.preferences_changed,
 * with the changes and their source). False when there is no such contact
 * (deleted since the link was sent): nothing to do.
 */
export async function setPreferences(
  db: Db,
  contactId: string,
  changes: Record<string, boolean>,
  source: PreferenceSource,
): Promise<boolean> {
  if ('begin' in db) {
    return db.begin((tx) => writePreferences(tx, contactId, changes, source)) as Promise<boolean>;
  }
  return writePreferences(db, contactId, changes, source);
}

async function writePreferences(
  tx: postgres.TransactionSql,
  contactId: string,
  changes: Record<string, boolean>,
  source: PreferenceSource,
): Promise<boolean> {
  const [contact] = await tx`select from nudge_engine.contacts where id = ${contactId}`;
  if (!contact) return false;
  const rows = await tx<{ topic: string; subscribed: boolean }[]>`
    select topic, subscribed from nudge_engine.email_preferences where contact_id = ${contactId}`;
  const before = new Map(rows.map((r) => [r.topic, r.subscribed]));
  const after = new Map(changes[ALL_TOPICS] === undefined ? before : []);
  for (const [topic, subscribed] of Object.entries(changes)) after.set(topic, subscribed);
  if (changes[ALL_TOPICS] !== undefined) {
    // Every topic at once: the per-topic choices before it no longer count.
    await tx`delete from nudge_engine.email_preferences
              where contact_id = ${contactId} and topic <> ${ALL_TOPICS}`;
  }
  if (Object.keys(changes).length === 0) return true;
  await tx`
    insert into nudge_engine.email_preferences (contact_id, topic, subscribed, source)
    select ${contactId}::uuid, key, value::boolean, ${source}
      from jsonb_each_text(${tx.json(changes)})
    on conflict (contact_id, topic) do update
       set subscribed = excluded.subscribed, source = excluded.source, updated_at = now()`;
  const changed =
    before.size !== after.size || [...after].some(([topic, on]) => before.get(topic) !== on);
  if (changed) {
    // On the contact's timeline: who changed what, and how (a repeat of the same choice is not).
    await tx`
      insert into nudge_engine.events (contact_id, name, properties, source, occurred_at)
      values (${contactId}, 'email.preferences_changed',
              ${tx.json({ changes, source })}, 'nudge', now())`;
  }
  return true;
}
