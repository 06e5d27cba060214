-- What the dashboard reads at volume (issue 19, bench/dashboard.ts).
--
-- Journey counts kept as they change. The Features page shows, per feature,
-- the journeys now in each stage and those entered, completed and exited in
-- a window; counting them from nudge_engine.journeys read every journey on
-- each call (58 ms p50 at 200,000 journeys). Statement triggers on journeys
-- now append what each statement changed to journey_counts: +1 for each row
-- as it is after the statement, -1 for each row as it was before, by fact —
-- in stage S now (active journeys), latest entry in hour H, completed or
-- exited in hour H. A statement that changes none of these (a wake-up time,
-- the context) cancels out and appends nothing. There is no join of old and
-- new rows and no row that two writers update: appending is all a lane's
-- write pays, and two lanes never wait on each other here. The reader
-- (src/server/api/journey-counts.ts) sums the rows, and folds them into one
-- row per fact now and then (hours older than two days into days).
CREATE TABLE nudge_engine.journey_counts (
  feature text NOT NULL,
  -- stage: journeys now in `stage`; entered, completed, exited: journeys
  -- whose latest entry (or end) lies in the bucket that ends at `ends`.
  kind text NOT NULL,
  stage text,
  ends timestamptz,
  n bigint NOT NULL
);

-- One row's facts, signed.
CREATE FUNCTION nudge_engine.journey_facts(
  status text, stage text, entered_at timestamptz, ended_at timestamptz, sign integer,
  OUT kind text, OUT stage_now text, OUT ends timestamptz, OUT n integer)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT f.kind, f.stage_now, f.ends, sign
    FROM (VALUES
      (CASE WHEN status = 'active' THEN 'stage' END, stage, NULL::timestamptz),
      (CASE WHEN entered_at IS NOT NULL THEN 'entered' END, NULL,
       to_timestamp((floor(extract(epoch FROM entered_at) / 3600) + 1) * 3600)),
      (CASE WHEN status IN ('completed', 'exited') AND ended_at IS NOT NULL THEN status END, NULL,
       to_timestamp((floor(extract(epoch FROM ended_at) / 3600) + 1) * 3600))
    ) AS f(kind, stage_now, ends)
   WHERE f.kind IS NOT NULL
$$;

CREATE FUNCTION nudge_engine.count_journeys() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO nudge_engine.journey_counts (feature, kind, stage, ends, n)
      SELECT j.feature, f.kind, f.stage_now, f.ends, sum(f.n)
        FROM nudge_journeys_new j,
             nudge_engine.journey_facts(j.status, j.stage, j.entered_at, j.ended_at, 1) f
       GROUP BY 1, 2, 3, 4;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO nudge_engine.journey_counts (feature, kind, stage, ends, n)
      SELECT j.feature, f.kind, f.stage_now, f.ends, sum(f.n)
        FROM nudge_journeys_old j,
             nudge_engine.journey_facts(j.status, j.stage, j.entered_at, j.ended_at, -1) f
       GROUP BY 1, 2, 3, 4;
  ELSE
    INSERT INTO nudge_engine.journey_counts (feature, kind, stage, ends, n)
      SELECT j.feature, f.kind, f.stage_now, f.ends, sum(f.n)
        FROM (SELECT feature, status, stage, entered_at, ended_at, 1 AS sign FROM nudge_journeys_new
              UNION ALL
              SELECT feature, status, stage, entered_at, ended_at, -1 FROM nudge_journeys_old) j,
             nudge_engine.journey_facts(j.status, j.stage, j.entered_at, j.ended_at, j.sign) f
       GROUP BY 1, 2, 3, 4
      HAVING sum(f.n) <> 0;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER journeys_count_insert AFTER INSERT ON nudge_engine.journeys
  REFERENCING NEW TABLE AS nudge_journeys_new
  FOR EACH STATEMENT EXECUTE FUNCTION nudge_engine.count_journeys();
CREATE TRIGGER journeys_count_update AFTER UPDATE ON nudge_engine.journeys
  REFERENCING OLD TABLE AS nudge_journeys_old NEW TABLE AS nudge_journeys_new
  FOR EACH STATEMENT EXECUTE FUNCTION nudge_engine.count_journeys();
CREATE TRIGGER journeys_count_delete AFTER DELETE ON nudge_engine.journeys
  REFERENCING OLD TABLE AS nudge_journeys_old
  FOR EACH STATEMENT EXECUTE FUNCTION nudge_engine.count_journeys();

-- The journeys already there, counted once (the migration holds its lock on
-- the table while it counts, so no write falls between).
LOCK TABLE nudge_engine.journeys IN SHARE MODE;
INSERT INTO nudge_engine.journey_counts (feature, kind, stage, ends, n)
  SELECT j.feature, f.kind, f.stage_now, f.ends, sum(f.n)
    FROM nudge_engine.journeys j,
         nudge_engine.journey_facts(j.status, j.stage, j.entered_at, j.ended_at, 1) f
   GROUP BY 1, 2, 3, 4;

-- The decision log by feature and outcome, newest first. Logs filtered by
-- both walked the primary key back until 50 rows passed (250 ms p95 for a
-- pair that never occurs, at 1M decisions). This index replaces the one on
-- (feature, at), so a decision costs the writer no more index entries than
-- before: a feature's decisions are read as one short backwards scan per
-- outcome, merged (src/engine/decision-log.ts), and the rows that hold the
-- skips of several features (feature IS NULL, outcome skipped) are read with
-- the same index.
DROP INDEX nudge_engine.decisions_feature_idx;
CREATE INDEX decisions_feature_outcome_idx ON nudge_engine.decisions (feature, outcome, id);
