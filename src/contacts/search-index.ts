// The search indexer: turns contacts noted in nudge_engine.contact_search_queue
// (by the triggers of migration 005, on every write that changes a contact's
// email, attributes or deletion) into their documents in
// nudge_engine.contact_search, which holds the GIN index searches start
// from. It runs in the engine (nudge start, nudge worker), one process at a
// time; searches are exact meanwhile (query.ts checks queued contacts
// without the index).
import type postgres from 'postgres';
import { lockKey } from '../db/locks.js';

/** Contacts indexed per transaction (20,000 measured no faster on 200k contacts). */
const BATCH = 5_000;

/**
 * Indexes up to `limit` queued contacts in one transaction and returns how
 * many queue entries it consumed (0 when the queue is empty or another
 * process is indexing). A contact written again while this runs stays
 * queued: only the queue rows this statement's snapshot saw are deleted.
 */
export async function indexContacts(sql: postgres.Sql, limit = BATCH): Promise<number> {
  return sql.begin(async (tx) => {
    const [lock] = await tx<{ locked: boolean }[]>`
      select pg_try_advisory_xact_lock(${tx.unsafe(lockKey('searchIndexer'))}) as locked`;
    if (!lock?.locked) return 0;
    // Each queued contact is looked up once: live ones get their document,
    // deleted or vanished ones lose it.
    const [row] = await tx<{ consumed: number }[]>`
      with claimed as (
        delete from nudge_engine.contact_search_queue
         where ctid = any (array(select ctid from nudge_engine.contact_search_queue limit ${limit}))
        returning contact_id
      ), targets as (
        select ids.contact_id, c.email, c.attributes, c.deleted_at is null and c.id is not null as live
          from (select distinct contact_id from claimed) ids
          left join nudge_engine.contacts c on c.id = ids.contact_id
      ), removed as (
        delete from nudge_engine.contact_search s using targets t
         where s.contact_id = t.contact_id and not t.live
      ), written as (
        insert into nudge_engine.contact_search (contact_id, document)
        select contact_id, nudge_engine.contact_search_document(email, attributes)
          from targets where live
        on conflict (contact_id) do update set document = excluded.document
      )
      select count(*)::int as consumed from claimed`;
    return row?.consumed ?? 0;
  });
}
