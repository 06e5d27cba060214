-- Email that its recipient can refuse (issue 21): per-contact topic
-- preferences, addresses suppressed after a bounce, the provider's id of each
-- sent message (delivery events find their run by it), webhook deliveries
-- already processed, and runs skipped because the contact may not be mailed.

-- One row per (contact, topic) the contact chose; no row means subscribed.
-- Topic '*' is every topic at once (a complaint, "unsubscribe from all").
CREATE TABLE nudge_engine.email_preferences (
  contact_id uuid NOT NULL REFERENCES nudge_engine.contacts (id) ON DELETE CASCADE,
  topic text NOT NULL,
  subscribed boolean NOT NULL,
  -- Where the choice came from: one-click, preference page, api, complaint.
  source text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (contact_id, topic)
);

-- Addresses (lower-cased) that get no more non-transactional email.
CREATE TABLE nudge_engine.email_suppressions (
  address text PRIMARY KEY,
  -- bounced (a permanent bounce).
  reason text NOT NULL,
  detail jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Provider webhook deliveries processed, so a redelivery (svix-id) is a no-op.
CREATE TABLE nudge_engine.provider_deliveries (
  provider text NOT NULL,
  delivery_id text NOT NULL,
  event_type text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, delivery_id)
);
CREATE INDEX provider_deliveries_received_idx ON nudge_engine.provider_deliveries (received_at);

-- The provider's id of the message an email run sent (Resend's email id, the
-- SMTP Message-ID), for linking delivery events back to the run.
ALTER TABLE nudge_engine.action_runs ADD COLUMN provider_message_id text;
CREATE INDEX action_runs_provider_message_idx ON nudge_engine.action_runs (provider_message_id)
  WHERE provider_message_id IS NOT NULL;

-- A run that was not sent, on purpose (the contact unsubscribed, the address
-- is suppressed): final, with the reason in last_error and the decision log.
ALTER TABLE nudge_engine.action_runs DROP CONSTRAINT action_runs_status_check;
ALTER TABLE nudge_engine.action_runs
  ADD CONSTRAINT action_runs_status_check
  CHECK (status IN ('pending', 'retrying', 'succeeded', 'dead', 'skipped'));

-- The headers the dev mailbox's messages carried (List-Unsubscribe...).
ALTER TABLE nudge_engine.mailbox ADD COLUMN headers jsonb NOT NULL DEFAULT '{}';
