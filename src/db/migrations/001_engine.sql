-- Nudge's own state (the engine store): contacts and their events and lists,
-- the inbox of captured changes, journeys, the decision log, action runs,
-- secrets. Lives in schema nudge_engine of the source database by default, or
-- of a separate Postgres (engine.database_url), or of the embedded one.

CREATE SCHEMA IF NOT EXISTS nudge_engine;

-- Contacts -----------------------------------------------------------------------
CREATE TABLE nudge_engine.contacts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  auth_user_id uuid UNIQUE,
  email text,
  phone text,
  external_id text UNIQUE,
  attributes jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz,
  last_event_at timestamptz
);
-- Emails are stored lower-cased; one contact per email and per phone.
CREATE UNIQUE INDEX contacts_email_key ON nudge_engine.contacts (email) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX contacts_phone_key ON nudge_engine.contacts (phone) WHERE phone IS NOT NULL;

CREATE TABLE nudge_engine.events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  contact_id uuid REFERENCES nudge_engine.contacts (id) ON DELETE CASCADE,
  name text NOT NULL,
  properties jsonb NOT NULL DEFAULT '{}',
  source text NOT NULL,
  occurred_at timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  idempotency_key text UNIQUE
);
CREATE INDEX events_contact_idx ON nudge_engine.events (contact_id, occurred_at DESC);
CREATE INDEX events_name_idx ON nudge_engine.events (name, occurred_at DESC);

CREATE TABLE nudge_engine.lists (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL UNIQUE,
  -- A segment: a saved condition (PostgREST query string) that acts as a live list.
  query text,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE nudge_engine.list_members (
  list_id uuid NOT NULL REFERENCES nudge_engine.lists (id) ON DELETE CASCADE,
  contact_id uuid NOT NULL REFERENCES nudge_engine.contacts (id) ON DELETE CASCADE,
  added_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (list_id, contact_id)
);
CREATE INDEX list_members_contact_idx ON nudge_engine.list_members (contact_id);

-- The inbox: every captured change once, whatever transport brought it (the
-- outbox pump, the webhook ingest, the API). (source, source_key) makes
-- delivery idempotent. Processed rows stay for the ingest log until retention
-- removes them.
CREATE TABLE nudge_engine.inbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source text NOT NULL,
  source_key text NOT NULL,
  schema_name text,
  table_name text,
  operation text,
  event_name text,
  new_row jsonb,
  old_row jsonb,
  enrichment jsonb,
  occurred_at timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  -- Events of one contact always land in one partition, processed in id order.
  partition smallint NOT NULL DEFAULT 0,
  processed_at timestamptz,
  UNIQUE (source, source_key)
);
CREATE INDEX inbox_pending_idx ON nudge_engine.inbox (partition, id) WHERE processed_at IS NULL;
CREATE INDEX inbox_received_idx ON nudge_engine.inbox (received_at);

-- Journeys: one state machine per (feature, contact) ---------------------------
CREATE TABLE nudge_engine.journeys (
  feature text NOT NULL,
  contact_id uuid NOT NULL REFERENCES nudge_engine.contacts (id) ON DELETE CASCADE,
  status text NOT NULL CHECK (status IN ('active', 'completed', 'exited')),
  stage text,
  entries integer NOT NULL DEFAULT 0,
  entered_at timestamptz,
  stage_entered_at timestamptz,
  ended_at timestamptz,
  -- When a wait in the current stage runs out (after / within): the durable timer.
  wake_at timestamptz,
  -- The event that started this entry, for templates and conditions.
  context jsonb NOT NULL DEFAULT '{}',
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (feature, contact_id)
);
CREATE INDEX journeys_wake_idx ON nudge_engine.journeys (wake_at) WHERE status = 'active' AND wake_at IS NOT NULL;
CREATE INDEX journeys_contact_idx ON nudge_engine.journeys (contact_id);

-- Every decision, for `nudge logs` and the dashboard ----------------------------
CREATE TABLE nudge_engine.decisions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  inbox_id bigint,
  feature text,
  contact_id uuid,
  -- matched, skipped, entered, advanced, completed, exited, action
  outcome text NOT NULL,
  reason text NOT NULL,
  detail jsonb
);
CREATE INDEX decisions_at_idx ON nudge_engine.decisions (at);
CREATE INDEX decisions_feature_idx ON nudge_engine.decisions (feature, at);
CREATE INDEX decisions_contact_idx ON nudge_engine.decisions (contact_id, at);

-- Actions: one row per idempotency key; the effect happens once per key -----------
CREATE TABLE nudge_engine.action_runs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  key text NOT NULL UNIQUE,
  feature text,
  contact_id uuid,
  stage text,
  kind text NOT NULL,
  -- The action as the feature wrote it, and the variables its templates see.
  params jsonb NOT NULL,
  context jsonb NOT NULL DEFAULT '{}',
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'retrying', 'succeeded', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  result jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz
);
CREATE INDEX action_runs_status_idx ON nudge_engine.action_runs (status, updated_at);
CREATE INDEX action_runs_contact_idx ON nudge_engine.action_runs (contact_id, created_at);

-- Engine processes, for unlocking the jobs of one that died (kill -9).
CREATE TABLE nudge_engine.workers (
  id text PRIMARY KEY,
  host text NOT NULL,
  pid integer NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- The dev mailbox: emails "sent" by provider: dev.
CREATE TABLE nudge_engine.mailbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  key text NOT NULL UNIQUE,
  to_address text NOT NULL,
  from_address text,
  subject text,
  html text,
  text text,
  sent_at timestamptz NOT NULL DEFAULT now()
);

-- Scheduled features enter each matching contact once per window.
CREATE TABLE nudge_engine.schedule_runs (
  feature text NOT NULL,
  window_start timestamptz NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  matched integer,
  PRIMARY KEY (feature, window_start)
);

-- Sync checkpoints (resumable syncs).
CREATE TABLE nudge_engine.sync_state (
  name text PRIMARY KEY,
  cursor jsonb,
  status text NOT NULL DEFAULT 'idle',
  stats jsonb NOT NULL DEFAULT '{}',
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Secrets, AES-256-GCM encrypted with the key in NUDGE_SECRET_KEY / .nudge/secret.key.
CREATE TABLE nudge_engine.secrets (
  name text PRIMARY KEY,
  ciphertext bytea NOT NULL,
  iv bytea NOT NULL,
  tag bytea NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- API keys, stored as sha256 hashes.
CREATE TABLE nudge_engine.api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  hash text NOT NULL UNIQUE,
  scope text NOT NULL CHECK (scope IN ('read', 'write')),
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);

-- A controllable clock: the engine's time is real time plus this offset
-- (`nudge dev` and tests move it forward to fire waits).
CREATE TABLE nudge_engine.clock (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  offset_ms bigint NOT NULL DEFAULT 0
);
INSERT INTO nudge_engine.clock DEFAULT VALUES;
