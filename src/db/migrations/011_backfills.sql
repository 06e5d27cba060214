-- Backfill checkpoints (`nudge backfill`): one row per (feature, condition),
-- the primary key of the last source row whose event reached the inbox, in
-- the same transaction as those events. A run that stopped (a crash, Ctrl-C)
-- starts again after `cursor`; a finished one starts over from the first row
-- and finds every row already in the inbox (its keys are deterministic), so a
-- second run enters no one.
CREATE TABLE nudge_engine.backfills (
  feature text NOT NULL,
  -- The --where condition as written ('' for none).
  condition text NOT NULL,
  -- The last primary key done, as a JSON array of its column values.
  cursor jsonb,
  status text NOT NULL CHECK (status IN ('running', 'done')),
  -- Rows read and events that were new to the inbox, over the run.
  rows_read bigint NOT NULL DEFAULT 0,
  queued bigint NOT NULL DEFAULT 0,
  started_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  PRIMARY KEY (feature, condition)
);
