-- A transaction that creates a contact waits for its commit to be flushed.
--
-- The engine's lane transactions commit without waiting for the WAL flush
-- (synchronous_commit off, set locally in each; src/engine/process.ts): if
-- the server crashes before the flush, the transaction is undone and its
-- events are processed again, which decides the same actions under the same
-- keys — the key names the contact, and the contact is the same row. A
-- contact created there would not be: created again, it gets a new id, and
-- an action sent before the crash would come again under another key. So a
-- statement that inserts a contact turns synchronous_commit back on for the
-- rest of its transaction (a rolled-back savepoint takes that back too).
--
-- No SET clause on the function: one would undo the setting as it returns.
-- Every name is qualified instead.
CREATE FUNCTION nudge_engine.contact_creation_waits_for_flush() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF EXISTS (SELECT FROM nudge_contacts_created) THEN
    PERFORM pg_catalog.set_config('synchronous_commit', 'on', true);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER contacts_created_wait_for_flush AFTER INSERT ON nudge_engine.contacts
  REFERENCING NEW TABLE AS nudge_contacts_created
  FOR EACH STATEMENT EXECUTE FUNCTION nudge_engine.contact_creation_waits_for_flush();
