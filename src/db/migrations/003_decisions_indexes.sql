-- The decision log is written for every event and every candidate feature: an
-- event on a table with 20 features is 20 rows or more. Its indexes were most
-- of that write's cost (measured in bench/e2e.ts with BENCH_TRACE=1), so:
-- `at` only serves retention and `--since` ranges over rows that arrive in
-- time order: a BRIN index does that for a fraction of a B-tree's upkeep; and
-- the contact index leaves out the rows without a contact (an event skipped
-- by its trigger condition before a contact was looked up), which are most.
DROP INDEX nudge_engine.decisions_at_idx;
CREATE INDEX decisions_at_brin ON nudge_engine.decisions USING brin (at);
DROP INDEX nudge_engine.decisions_contact_idx;
CREATE INDEX decisions_contact_idx ON nudge_engine.decisions (contact_id, at) WHERE contact_id IS NOT NULL;
