-- Typed captures (INSERT and DELETE without enrichment) copy rows into a rows
-- table of their own instead of JSON into event_log; the pump archives them
-- like outbox rows, and they carry no transaction id.
ALTER TABLE IF EXISTS nudge.event_archive ALTER COLUMN txid DROP NOT NULL;
