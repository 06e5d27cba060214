-- Features paused live (the dashboard's switch, `nudge pause` / `nudge resume`).
--
-- A row here pauses a feature in every engine process without a restart: its
-- trigger events are skipped with the reason `paused`, as for `status: paused`
-- in the feature file. Every change is announced on the channel
-- nudge_features (a statement trigger, so the CLI, the API and a hand-written
-- UPDATE all reach the running engines); each engine LISTENs and reloads the
-- whole set, and reloads it again whenever its listening connection comes
-- back, so a notification lost with a connection is not a pause lost.
CREATE TABLE nudge_engine.feature_pauses (
  feature text PRIMARY KEY,
  paused_at timestamptz NOT NULL DEFAULT now(),
  -- Who paused it, in words: "dashboard", "cli", "api key ci".
  paused_by text NOT NULL
);

CREATE FUNCTION nudge_engine.announce_feature_pauses() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM pg_notify('nudge_features', 'pauses');
  RETURN NULL;
END;
$$;

CREATE TRIGGER feature_pauses_announce
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON nudge_engine.feature_pauses
  FOR EACH STATEMENT EXECUTE FUNCTION nudge_engine.announce_feature_pauses();

-- API keys gain the `dashboard` scope: what the dashboard reads and does
-- (pause, resume), not contact writes.
ALTER TABLE nudge_engine.api_keys DROP CONSTRAINT api_keys_scope_check;
ALTER TABLE nudge_engine.api_keys
  ADD CONSTRAINT api_keys_scope_check CHECK (scope IN ('read', 'write', 'dashboard'));
