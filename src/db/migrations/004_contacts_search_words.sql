-- The search document without numbers. Syncs write every contact through the
-- full-text index, and the numbers in a contact's strings — above all the
-- timestamps in its attributes (created_at, last_sign_in_at, confirmed_at:
-- eight number tokens each) — were most of that index's entries and most of
-- its upkeep: measured in bench/sync.ts, writing contacts ran about 1.6 times
-- faster without them (docs/benchmarks.md). The configuration is `simple`
-- without the parser's number token types; every other token (words, emails,
-- hosts, URLs, words with digits such as t06 or user1) is kept as `simple`
-- keeps it.
--
-- A search whose text has no digit produces no number token, so its query is
-- the same under both configurations and the document still holds every word
-- it can match: the index stays an exact superset for it. A search with a
-- digit is answered without the index (src/contacts/query.ts).
CREATE TEXT SEARCH CONFIGURATION nudge_engine.search (COPY = pg_catalog.simple);
ALTER TEXT SEARCH CONFIGURATION nudge_engine.search
  DROP MAPPING FOR int, uint, float, sfloat, version;

CREATE FUNCTION nudge_engine.contact_search_document(email text, attributes jsonb)
RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.to_tsvector('nudge_engine.search'::regconfig, coalesce(email, ''))
      || pg_catalog.jsonb_to_tsvector('nudge_engine.search'::regconfig, coalesce(attributes, '{}'::jsonb), '["string"]'::jsonb)
$$;

DROP INDEX nudge_engine.contacts_search_idx;
CREATE INDEX contacts_search_idx ON nudge_engine.contacts
  USING gin (nudge_engine.contact_search_document(email, attributes))
  WITH (gin_pending_list_limit = 65536)
  WHERE deleted_at IS NULL;
DROP FUNCTION nudge_engine.contact_search_vector(text, jsonb);

-- Contacts known only by email (made by an event before their user synced)
-- are what a users sync attaches to their auth user. Looking for them among
-- all contacts by email cost a sync as much as reading auth.users; among
-- these few it costs nothing.
CREATE INDEX contacts_unattached_email_idx ON nudge_engine.contacts (email)
  WHERE auth_user_id IS NULL AND email IS NOT NULL;
