// The search indexer: turns contacts noted in nudge_engine.contact_search_queue
// (by the triggers of migration 005, on every write that changes a contact's
// email, attributes or deletion) into their documents in
// nudge_engine.contact_search, which holds the GIN index searches start
// from. It runs in the engine (nudge start, nudge worker), one process at a
// time; searches are exact meanwhile (query.ts checks queued contacts
// without the index).
import type postgres from 'postgres';

/** Contacts indexed per statement: big enough for the GIN's bulk path, small enough to commit often. */
export const SEARCH_INDEX_BATCH = 5_000;

const INDEXER_LOCK = 'nudge contact search indexer';

/**
 * Indexes up to `limit` queued contacts in one transaction and returns how
 * many queue entries it consumed (0 when the queue is empty or another
 * process is indexing). A contact written again while this runs stays
 * queued: only the queue rows this statement's snapshot saw are deleted.
 */
export async function indexContacts(
  sql: postgres.Sql,
  limit = SEARCH_INDEX_BATCH,
): Promise<number> {
  return sql.begin(async (tx) => {
    const [lock] = await tx<{ locked: boolean }[]>`
      select pg_try_advisory_xact_lock(hashtext(${INDEXER_LOCK})) as locked`;
    if (!lock?.locked) return 0;
    // The GIN index's pending list is merged in memory of this size: the
    // default 4 MB splits one merge into many (docs/benchmarks.md).
    await tx`set local work_mem = '64MB'`;
    const [row] = await tx<{ consumed: number }[]>`
      with claimed as (
        delete from nudge_engine.contact_search_queue
         where ctid = any (array(select ctid from nudge_engine.contact_search_queue limit ${limit}))
        returning contact_id
      ), ids as (
        select distinct contact_id from claimed
      ), removed as (
        delete from nudge_engine.contact_search s using ids
         where s.contact_id = ids.contact_id
           and not exists (select from nudge_engine.contacts c
                            where c.id = ids.contact_id and c.deleted_at is null)
      ), written as (
        insert into nudge_engine.contact_search (contact_id, document)
        select c.id, nudge_engine.contact_search_document(c.email, c.attributes)
          from nudge_engine.contacts c join ids on c.id = ids.contact_id
         where c.deleted_at is null
        on conflict (contact_id) do update set document = excluded.document
      )
      select count(*)::int as consumed from claimed`;
    return row?.consumed ?? 0;
  });
}

/** Contacts waiting for their document (queue entries; a contact can have several). */
export async function searchBacklog(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from nudge_engine.contact_search_queue`;
  return row?.n ?? 0;
}
