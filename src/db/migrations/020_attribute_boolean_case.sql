-- A boolean attribute read by comparing the value with the two JSON booleans,
-- instead of asking its type and casting its text. Same answer for every
-- value (true, false, and NULL for anything that is not a JSON boolean); the
-- old body took `attributes -> key` out twice and went through text. A
-- segment count over 100k contacts with `onboarded=is.true` went from 28 to
-- 21 ms on the bench:dashboard data (docs/benchmarks.md). Still a SQL
-- function PostgreSQL inlines.
CREATE OR REPLACE FUNCTION nudge_engine.attribute_boolean(value jsonb)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE value WHEN 'true'::jsonb THEN true WHEN 'false'::jsonb THEN false END
$$;
