-- A replay puts a run back to pending with its attempts at zero, so that it
-- gets its whole retry budget again; these keep what came before it, for the
-- dashboard's Actions page and /v1/actions ("1 attempt, replayed once after
-- 5"). The decision log keeps every attempt itself.
ALTER TABLE nudge_engine.action_runs
  ADD COLUMN replays int NOT NULL DEFAULT 0,
  ADD COLUMN attempts_before_replay int NOT NULL DEFAULT 0;
