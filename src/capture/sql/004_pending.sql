-- What capture has written and the engine has not consumed yet, one row per
-- captured row, from nudge.event_log and from every typed rows table:
--   SELECT * FROM nudge.pending() ORDER BY id;
-- For people looking at their database (and for tests); the pump reads the
-- tables itself.
CREATE OR REPLACE FUNCTION nudge.pending()
RETURNS TABLE (id bigint, row_index integer, schema_name text, table_name text, operation text,
               new_row json, old_row json, enrichment json, captured_at timestamptz, stored_in text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $pending$
DECLARE
  t record;
  columns text;
BEGIN
  RETURN QUERY
    SELECT e.id, r.i, e.schema_name, e.table_name, e.operation, e.new_rows -> r.i, e.old_rows -> r.i,
           e.enrichment -> r.i,
           e.captured_at, 'event_log'::text
      FROM nudge.event_log e, generate_series(0, e.row_count - 1) AS r(i);
  FOR t IN
    SELECT c.oid, c.relname, substr(obj_description(c.oid, 'pg_class'), 12)::json AS marker
      FROM pg_class c
     WHERE c.relnamespace = 'nudge'::regnamespace AND c.relkind = 'r'
       AND obj_description(c.oid, 'pg_class') LIKE 'nudge:rows %'
  LOOP
    SELECT string_agg(format('r.%I', a.attname), ', ' ORDER BY a.attnum) INTO columns
      FROM pg_attribute a
     WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname NOT IN ('nudge:id', 'nudge:at');
    RETURN QUERY EXECUTE format(
      'SELECT r."nudge:id", 0, %L::text, %L::text, %L::text,
              CASE WHEN %L = ''insert'' THEN x.j END, CASE WHEN %L = ''insert'' THEN NULL ELSE x.j END, NULL::json,
              r."nudge:at", %L::text
         FROM nudge.%I AS r, LATERAL (SELECT row_to_json(y.*) AS j FROM (SELECT %s) AS y) AS x',
      t.marker ->> 'schema', t.marker ->> 'table', t.marker ->> 'operation',
      t.marker ->> 'operation', t.marker ->> 'operation', t.relname, t.relname, columns);
  END LOOP;
END
$pending$;
