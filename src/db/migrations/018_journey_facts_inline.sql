-- The journey-count triggers (010) called journey_facts once per changed row
-- as a function of its own: its SET search_path kept PostgreSQL from inlining
-- it into the trigger's query, and each call paid a function's start-up.
-- That was about 0.1 ms of database time for each journey insert and update,
-- most of what the triggers cost (docs/benchmarks.md, "Journey-count
-- triggers").
-- Without the SET the function is inlined; it is called only from
-- count_journeys, whose own search_path (pg_catalog, pg_temp) then applies to
-- its body. Same facts, same rows.
ALTER FUNCTION nudge_engine.journey_facts(text, text, timestamptz, timestamptz, integer) RESET ALL;
