// A contact known only by email folded into an auth user's contact (see
// addresses.ts for when): its events, list memberships and email
// preferences move over, its attributes go under the user's, its external id
// moves if the user's contact has none, and it is left marked deleted with no
// email, phone or external id. Decisions in the log keep naming it: they are
// history.
//
// Only a contact nothing else keys by its id can be folded in so: the
// engine's journeys, action runs and experiment entries are keyed by
// (feature, contact) and their idempotency keys name the contact, so moving
// them could run a stage or send an action twice. lockMergeable reads that
// under FOR UPDATE: the row lock conflicts with the KEY SHARE lock a foreign
// key check takes, so no journey or event can be added to the contact by
// another transaction until this one ends.
import { records } from '../../db/records.js';
import type { Db } from '../store.js';

export interface Mergeable {
  id: string;
  phone: string | null;
  external_id: string | null;
  attributes: Record<string, unknown>;
  last_event_at: Date | null;
  /** What the engine keys by this contact, if anything: it then stays as it is. */
  keyed: 'journeys' | 'action runs' | 'experiment entries' | null;
}

/** Locks these contacts if they still have no user and are not deleted; says what keys them. */
export async function lockMergeable(db: Db, ids: string[]): Promise<Mergeable[]> {
  if (ids.length === 0) return [];
  return db<Mergeable[]>`
    select c.id, c.phone, c.external_id, c.attributes, c.last_event_at,
           case when exists (select from nudge_engine.journeys j where j.contact_id = c.id) then 'journeys'
                when exists (select from nudge_engine.action_runs a where a.contact_id = c.id) then 'action runs'
                when exists (select from nudge_engine.experiment_entries x where x.contact_id = c.id) then 'experiment entries'
           end as keyed
      from nudge_engine.contacts c
     where c.id = any(${ids}::uuid[]) and c.auth_user_id is null and c.deleted_at is null
     for update of c`;
}

/** Folds each `from` contact into its `into` contact (pairs are disjoint). */
export async function mergeContacts(
  db: Db,
  pairs: { from: Mergeable; into: string }[],
): Promise<void> {
  if (pairs.length === 0) return;
  const moves = () =>
    records(
      db,
      pairs.map((p) => ({ from_id: p.from.id, into_id: p.into })),
      'from_id uuid, into_id uuid',
      'p',
    );
  await db`
    update nudge_engine.events e set contact_id = p.into_id
      from ${moves()} where e.contact_id = p.from_id`;
  await db`
    insert into nudge_engine.list_members (list_id, contact_id, added_at)
    select m.list_id, p.into_id, m.added_at
      from nudge_engine.list_members m join ${moves()} on m.contact_id = p.from_id
    on conflict do nothing`;
  await db`delete from nudge_engine.list_members m using ${moves()} where m.contact_id = p.from_id`;
  // A topic both chose: unsubscribed wins (mail someone refused is never sent).
  await db`
    insert into nudge_engine.email_preferences as f (contact_id, topic, subscribed, source, updated_at)
    select p.into_id, o.topic, o.subscribed, o.source, o.updated_at
      from nudge_engine.email_preferences o join ${moves()} on o.contact_id = p.from_id
    on conflict (contact_id, topic) do update set
      subscribed = f.subscribed and excluded.subscribed,
      source = case when f.subscribed and not excluded.subscribed then excluded.source else f.source end,
      updated_at = greatest(f.updated_at, excluded.updated_at)`;
  await db`delete from nudge_engine.email_preferences o using ${moves()} where o.contact_id = p.from_id`;
  // The tombstone first: its external id must be free before the user's contact takes it.
  await db`
    update nudge_engine.contacts c
       set email = null, phone = null, external_id = null, deleted_at = now(), updated_at = now()
      from ${moves()} where c.id = p.from_id`;
  await db`
    update nudge_engine.contacts c
       set attributes = v.attributes || c.attributes,
           external_id = coalesce(c.external_id, v.external_id),
           last_event_at = greatest(c.last_event_at, v.last_event_at),
           updated_at = now()
      from ${records(
        db,
        pairs.map((p) => ({
          id: p.into,
          attributes: p.from.attributes,
          external_id: p.from.external_id,
          last_event_at: p.from.last_event_at,
        })),
        'id uuid, attributes jsonb, external_id text, last_event_at timestamptz',
        'v',
      )}
     where c.id = v.id`;
}
