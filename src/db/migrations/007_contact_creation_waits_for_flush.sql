-- A transaction that creates a contact, or changes how one is found, waits
-- for its commit to be flushed.
--
-- The engine's lane transactions commit without waiting for the WAL flush
-- (synchronous_commit off, set locally in each; src/engine/process.ts): if
-- the server crashes before the flush, the transaction is undone and its
-- events are processed again, which decides the same actions under the same
-- keys — the key names the contact, and the contact is the same row. That
-- holds only if contacts are found again as they were: a contact created
-- again gets a new id, and one whose email, phone, user id or external id
-- was filled in (or that was marked deleted or restored) may be found, or
-- not, by an event of another lane redone in another order. An action sent
-- before the crash could then come again under another key. So a statement
-- that inserts a contact, or changes one of those columns, puts
-- synchronous_commit back to the session's own setting for the rest of its
-- transaction (a rolled-back savepoint takes that back too).
--
-- No SET clause on the function: one would undo the setting as it returns.
-- Every name is qualified instead. The insert check is an IF of its own: only
-- the insert trigger has the transition table, and PL/pgSQL plans a
-- statement when it first runs it.
CREATE FUNCTION nudge_engine.contact_identity_waits_for_flush() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NOT EXISTS (SELECT FROM nudge_contacts_created) THEN
      RETURN NULL;
    END IF;
  END IF;
  IF pg_catalog.current_setting('synchronous_commit') = 'off' THEN
    PERFORM pg_catalog.set_config('synchronous_commit',
      (SELECT s.reset_val FROM pg_catalog.pg_settings s WHERE s.name = 'synchronous_commit'), true);
  END IF;
  RETURN NULL;
END
$$;

-- Inserts once per statement (a sync inserts thousands of rows at once);
-- updates per row, only the rows whose identity changed.
CREATE TRIGGER contacts_created_wait_for_flush AFTER INSERT ON nudge_engine.contacts
  REFERENCING NEW TABLE AS nudge_contacts_created
  FOR EACH STATEMENT EXECUTE FUNCTION nudge_engine.contact_identity_waits_for_flush();
CREATE TRIGGER contacts_identity_wait_for_flush
  AFTER UPDATE OF auth_user_id, email, phone, external_id, deleted_at ON nudge_engine.contacts
  FOR EACH ROW
  WHEN (OLD.auth_user_id IS DISTINCT FROM NEW.auth_user_id
        OR OLD.email IS DISTINCT FROM NEW.email
        OR OLD.phone IS DISTINCT FROM NEW.phone
        OR OLD.external_id IS DISTINCT FROM NEW.external_id
        OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL))
  EXECUTE FUNCTION nudge_engine.contact_identity_waits_for_flush();
