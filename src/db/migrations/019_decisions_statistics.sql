-- The decision log's feature and outcome are not independent: a feature has
-- a few outcomes of its own, and most (feature, outcome) pairs never occur.
-- Planned as independent, the Logs page's "this feature, this outcome" read
-- expected thousands of rows for a pair that had none, walked the primary
-- key back through every decision to find 50, and took 160–560 ms at 1M
-- decisions (bench:dashboard, right after seeding). The pairs' frequencies
-- let the planner see a rare pair and read its index (feature, outcome, id).
CREATE STATISTICS nudge_engine.decisions_feature_outcome (mcv)
  ON feature, outcome FROM nudge_engine.decisions;
ANALYZE nudge_engine.decisions;
