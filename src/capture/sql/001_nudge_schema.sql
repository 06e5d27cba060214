-- The nudge schema in the user's database: the transactional outbox, the
-- failures the triggers could not capture, enrichment maps, and the record of
-- deployments. Written so that applying it again repairs objects dropped by
-- hand (IF NOT EXISTS / OR REPLACE), which is how `nudge deploy` fixes drift.

CREATE SCHEMA IF NOT EXISTS nudge;
COMMENT ON SCHEMA nudge IS
  'Nudge capture: outbox, failed events, enrichment. Managed by `nudge deploy`; removed by `nudge teardown`.';

-- The outbox. One row per captured statement (chunked every 1000 rows): the
-- rows it changed as JSON arrays, written in the same transaction as the
-- change itself, so committed changes are never lost and rolled-back ones
-- never seen. Batching a statement's rows into one tuple is what keeps bulk
-- writes cheap (see docs/benchmarks.md); `json`, not `jsonb`, because the
-- engine only reads it back as text. UPDATE rows are paired: new_rows[i]
-- and old_rows[i] are the same row after and before.
CREATE TABLE IF NOT EXISTS nudge.event_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  schema_name text NOT NULL,
  table_name text NOT NULL,
  operation text NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),
  row_count integer NOT NULL,
  new_rows json,
  old_rows json,
  enrichment json,
  txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  captured_at timestamptz NOT NULL DEFAULT now()
);
-- Stored out of line without compression: pglz costs more than it saves here.
ALTER TABLE nudge.event_log
  ALTER COLUMN new_rows SET STORAGE EXTERNAL,
  ALTER COLUMN old_rows SET STORAGE EXTERNAL,
  ALTER COLUMN enrichment SET STORAGE EXTERNAL;
COMMENT ON TABLE nudge.event_log IS 'Outbox of captured row changes; consumed and removed by the Nudge engine.';

-- What a trigger could not capture (e.g. a broken enrichment query), with the
-- rows it was given, so nothing is lost and the user's write still commits.
CREATE TABLE IF NOT EXISTS nudge.failed_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  stage text NOT NULL DEFAULT 'capture',
  schema_name text NOT NULL,
  table_name text NOT NULL,
  operation text NOT NULL,
  new_row jsonb,
  old_row jsonb,
  sqlstate text,
  message text,
  detail text,
  context text,
  attempts integer NOT NULL DEFAULT 0,
  failed_at timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz
);

-- Joins resolved at trigger time: for a captured row of (schema_name,
-- table_name), look up target_table where target_column = row->>source_field
-- and attach it to the event under `name`.
CREATE TABLE IF NOT EXISTS nudge.enrichment_map (
  schema_name text NOT NULL,
  table_name text NOT NULL,
  name text NOT NULL,
  target_schema text NOT NULL,
  target_table text NOT NULL,
  target_column text NOT NULL,
  target_type regtype NOT NULL,
  source_field text NOT NULL,
  columns text[],
  PRIMARY KEY (schema_name, table_name, name)
);

CREATE TABLE IF NOT EXISTS nudge.deployments (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  deployed_at timestamptz NOT NULL DEFAULT now(),
  deployed_by text NOT NULL DEFAULT current_user,
  nudge_version text NOT NULL,
  summary jsonb NOT NULL,
  objects jsonb NOT NULL
);

CREATE OR REPLACE FUNCTION nudge.enrich(p_schema text, p_table text, p_row json)
RETURNS json
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $enrich$
DECLARE
  m record;
  found jsonb;
  result jsonb := '{}';
BEGIN
  FOR m IN
    SELECT * FROM nudge.enrichment_map
     WHERE schema_name = p_schema AND table_name = p_table
     ORDER BY name
  LOOP
    EXECUTE format('SELECT to_jsonb(t) FROM %I.%I AS t WHERE t.%I = $1::%s LIMIT 1',
                   m.target_schema, m.target_table, m.target_column, m.target_type)
       INTO found
      USING p_row ->> m.source_field;
    IF found IS NOT NULL AND m.columns IS NOT NULL THEN
      SELECT coalesce(jsonb_object_agg(key, value), '{}') INTO found
        FROM jsonb_each(found) WHERE key = ANY (m.columns);
    END IF;
    result := result || jsonb_build_object(m.name, found);
  END LOOP;
  RETURN result::json;
END
$enrich$;

-- Consumed outbox rows, kept when engine.retention.outbox is more than 0s.
CREATE TABLE IF NOT EXISTS nudge.event_archive (
  LIKE nudge.event_log,
  consumed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS event_archive_consumed_idx ON nudge.event_archive (consumed_at);
