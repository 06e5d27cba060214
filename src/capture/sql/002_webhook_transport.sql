-- The webhook transport (capture: webhook): what a trigger sent through pg_net,
-- kept until it is known to have arrived, and the key it signs with. Applied
-- with every deploy whatever the transport (the tables stay empty under the
-- outbox). Idempotent, so applying it again repairs objects dropped by hand.

-- One row per request a capture trigger queued with net.http_post: its pg_net
-- request id, the Standard Webhooks id it was signed with, and the payload
-- itself, because pg_net keeps neither the body nor any retry. The row is
-- written in the user's transaction, so it exists exactly when the request
-- does (both vanish on rollback). reconcileWebhookDeliveries() deletes it once
-- net._http_response shows a 2xx, and re-delivers it straight into the
-- engine's inbox when the response shows a failure, a timeout, or never comes.
CREATE TABLE IF NOT EXISTS nudge.webhook_deliveries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  request_id bigint NOT NULL,
  webhook_id text NOT NULL UNIQUE,
  url text NOT NULL,
  payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'sent' CHECK (status IN ('sent', 'failed')),
  error text,
  queued_at timestamptz NOT NULL DEFAULT now(),
  failed_at timestamptz
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_status_idx ON nudge.webhook_deliveries (status, id);
COMMENT ON TABLE nudge.webhook_deliveries IS
  'Requests queued by capture: webhook triggers until Nudge has seen them arrive; re-delivered when pg_net reports a failure.';

-- The Standard Webhooks signing key (the bytes behind whsec_...). One row,
-- written by Nudge with a parameterized statement (never part of the plan's
-- SQL text), readable only by the owner: the capture functions are SECURITY
-- DEFINER, and the schema lockdown revokes everything from PUBLIC, anon and
-- authenticated; the REVOKE here also covers the moment before it runs.
CREATE TABLE IF NOT EXISTS nudge.webhook_signing (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  signing_key bytea NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON TABLE nudge.webhook_signing FROM PUBLIC;
COMMENT ON TABLE nudge.webhook_signing IS 'Key capture: webhook triggers sign requests with. Owner only.';

-- Dispatch failures name the webhook they belong to, so a re-delivery can
-- mark them resolved.
ALTER TABLE nudge.failed_events ADD COLUMN IF NOT EXISTS webhook_id text;
CREATE INDEX IF NOT EXISTS failed_events_webhook_idx ON nudge.failed_events (webhook_id)
  WHERE webhook_id IS NOT NULL;
