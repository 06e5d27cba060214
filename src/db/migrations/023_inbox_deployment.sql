-- The deployment a captured event was stored under: the outbox pump's claim
-- reads it with the rows, the replication consumer stores under the
-- features its process has read. A lane whose process has read an older
-- deployment reads its feature files again before it matches the event
-- (engine/lanes/process.ts), so a `nudge worker` that has not heard of a
-- deploy yet does not match a new feature's first events against the
-- features before it. Null where no deployment captured the event (the
-- API, the webhook transport's ingest, backfill, schedules).
ALTER TABLE nudge_engine.inbox ADD COLUMN deployment integer;
