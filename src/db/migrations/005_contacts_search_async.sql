-- The search documents leave the contacts table: every write of a contact
-- maintained the full-text index inside the writer's statement, and that
-- index was the largest part of what a users sync paid per contact
-- (docs/benchmarks.md). Now a write only notes which contact changed, in a
-- table with no index (contact_search_queue, filled by statement triggers
-- from their transition tables), and the engine's indexer
-- (src/contacts/search-index.ts) turns the noted contacts into documents in
-- contact_search, which holds the GIN index.
--
-- Searches stay exact while the indexer catches up: the index is only ever a
-- prefilter (src/contacts/query.ts), and a contact still in the queue is
-- handed to the exact check whatever its indexed document says.

CREATE TABLE nudge_engine.contact_search (
  contact_id uuid PRIMARY KEY,
  document tsvector NOT NULL
);
CREATE INDEX contact_search_document_idx ON nudge_engine.contact_search
  USING gin (document) WITH (gin_pending_list_limit = 65536);

-- Contacts whose document is missing or out of date; an id may appear more
-- than once. No index and no key: writing here must cost the writer little.
CREATE TABLE nudge_engine.contact_search_queue (contact_id uuid NOT NULL);

CREATE FUNCTION nudge_engine.queue_contact_search() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO nudge_engine.contact_search_queue (contact_id)
      SELECT n.id FROM nudge_contacts_new n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO nudge_engine.contact_search_queue (contact_id)
      SELECT o.id FROM nudge_contacts_old o;
  ELSE
    -- Only changes to what the document is made of, or to whether it is
    -- kept at all. EXCEPT, not a join: a set operation is hashed or sorted,
    -- where this function's cached plan could join two large transition
    -- tables by nested loop.
    INSERT INTO nudge_engine.contact_search_queue (contact_id)
      SELECT changed.id FROM (
        SELECT n.id, n.email, n.attributes, n.deleted_at IS NULL FROM nudge_contacts_new n
        EXCEPT
        SELECT o.id, o.email, o.attributes, o.deleted_at IS NULL FROM nudge_contacts_old o
      ) changed;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER contacts_search_insert AFTER INSERT ON nudge_engine.contacts
  REFERENCING NEW TABLE AS nudge_contacts_new
  FOR EACH STATEMENT EXECUTE FUNCTION nudge_engine.queue_contact_search();
CREATE TRIGGER contacts_search_update AFTER UPDATE ON nudge_engine.contacts
  REFERENCING OLD TABLE AS nudge_contacts_old NEW TABLE AS nudge_contacts_new
  FOR EACH STATEMENT EXECUTE FUNCTION nudge_engine.queue_contact_search();
CREATE TRIGGER contacts_search_delete AFTER DELETE ON nudge_engine.contacts
  REFERENCING OLD TABLE AS nudge_contacts_old
  FOR EACH STATEMENT EXECUTE FUNCTION nudge_engine.queue_contact_search();

-- Contacts written before this migration are indexed by the engine like
-- any other: queued here, cheaply, not indexed inside the migration.
INSERT INTO nudge_engine.contact_search_queue (contact_id)
  SELECT id FROM nudge_engine.contacts WHERE deleted_at IS NULL;

DROP INDEX nudge_engine.contacts_search_idx;
