-- The action attempts by time, for the Overview's Actions and Failures per
-- minute (src/server/api/overview.ts): every attempt is a decision (outcome
-- `attempt`, its status in detail), counted at the minute it was made. The
-- BRIN index on `at` reaches an hour's attempts only through every decision
-- of that hour and every block range not summarized yet (all of them between
-- two vacuums): at 1M decisions, 8 a second, 325 pages a read after a
-- vacuum, 9,400 before one, every 5 s while the page is open. This
-- index holds the attempts alone, a small part of the log; any other
-- decision costs its writer the predicate only.
CREATE INDEX decisions_attempts_idx ON nudge_engine.decisions (at) WHERE outcome = 'attempt';
