-- Goals, splits and holdouts (issue 21.4, docs/experiments.md): one row per
-- (feature, contact) for features with a goal, written at the contact's first
-- entry with the group it was assigned (a variant, 'holdout' or 'treated'),
-- and its conversion, recorded once, when the goal held within the limit.
CREATE TABLE nudge_engine.experiment_entries (
  feature text NOT NULL,
  contact_id uuid NOT NULL,
  "group" text NOT NULL,
  entered_at timestamptz NOT NULL,
  -- entered_at + the goal's within, fixed at entry.
  deadline timestamptz NOT NULL,
  -- The inbox event that made the contact enter: it never converts an event goal.
  entry_inbox_id bigint,
  converted_at timestamptz,
  converted_inbox_id bigint,
  PRIMARY KEY (feature, contact_id),
  CHECK (converted_at IS NULL OR converted_at BETWEEN entered_at AND deadline)
);

-- The lanes look a contact's entries up by the primary key; the sweep of
-- goals on the contact alone reads a feature's entries still waiting.
CREATE INDEX experiment_entries_open_idx ON nudge_engine.experiment_entries (feature, deadline)
  WHERE converted_at IS NULL;
