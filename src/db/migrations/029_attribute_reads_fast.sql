-- Faster contact attribute reads, with the answers of 028 for every value.
--
-- 028 read a time attribute by two PL/pgSQL calls per row (the parts as an
-- array, then the time under an exception block); a text attribute took
-- `attributes -> key` out twice and asked jsonb_typeof of every value.
-- `npm run bench:attribute-reads` (50,000 contacts, 9 alternating rounds,
-- medians; two runs): a time filter 0.41-0.44 of 028's time (002's cast,
-- which also read 'yesterday', 0.16-0.20), a date filter 0.46-0.54, a text
-- filter 0.39-0.65 (`->>` alone 0.33-0.43).
--
-- Now the shapes almost every time attribute has (what to_jsonb() and
-- toISOString() write, and a date) are read by PostgreSQL's own input
-- function, after a check cheap enough to run on every row that the text is
-- exactly that shape; anything else goes to 028's reading, renamed here.
-- Times: attribute_iso_time. Text: attribute_text(attributes, name).

-- 028's readers, kept whole for the shapes the fast path leaves out. STRICT
-- changes no answer (NULL was NULL) and skips the call for a contact without
-- the attribute.
ALTER FUNCTION nudge_engine.attribute_timestamptz(jsonb) RENAME TO attribute_timestamptz_parts;
ALTER FUNCTION nudge_engine.attribute_date(jsonb) RENAME TO attribute_date_parts;
ALTER FUNCTION nudge_engine.attribute_timestamptz_parts(jsonb) STRICT;
ALTER FUNCTION nudge_engine.attribute_date_parts(jsonb) STRICT;

-- The time a text of these shapes holds, or NULL (then 028's reading
-- decides, which answers NULL too for a text of these shapes that is no
-- time):
--   2026-12-07
--   2026-12-07T10:00:00, with T or a space, a fraction of 1 to 6 digits,
--   and Z or an offset written +05:30.
-- Every separator is checked at its place and the text has no other
-- character than digits (the digits taken out, what is left is exactly the
-- separators), so PostgreSQL's input, which is lenient ('2026-12-07T10:00:0.'
-- is a time to it), reads nothing the engine would not. It refuses what the
-- engine refuses (2025-02-29, a minute of 60, year 0, an offset of +16:00 or
-- more: the exception, then 028's reading), but takes 24:00:00 and a 60th
-- second, so these are refused first. With its offset written, or read as
-- UTC, the text's time does not depend on TimeZone, and DateStyle does not
-- change how a four-digit year first is read: IMMUTABLE holds.
-- as_written: the time of day as written, as if UTC, with no offset taken
-- off (attribute_date wants the day as written).
-- (PARALLEL UNSAFE, the default: the exception block is a subtransaction.)
CREATE FUNCTION nudge_engine.attribute_iso_time(s text, as_written boolean)
RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE STRICT
AS $$
DECLARE
  n integer := pg_catalog.length(s);
  -- The offset's length: 1 for Z, 6 for +05:30.
  o integer := CASE WHEN pg_catalog.right(s, 1) = 'Z' THEN 1
                    WHEN n >= 25 AND pg_catalog.substr(s, n - 2, 1) = ':' THEN 6 ELSE 0 END;
  -- The date and the time of day.
  b integer := n - o;
BEGIN
  IF (NOT CASE
        WHEN b = 10 THEN o = 0 AND s LIKE '____-__-__'
        WHEN b = 19 OR (b BETWEEN 21 AND 26 AND pg_catalog.substr(s, 20, 1) = '.') THEN
          s LIKE '____-__-_____:__:__%' AND pg_catalog.substr(s, 11, 1) IN ('T', ' ')
          AND (o <> 6 OR pg_catalog.substr(s, n - 5, 1) IN ('+', '-'))
          AND pg_catalog.substr(s, 12, 2) COLLATE "C" < '24'
          AND pg_catalog.substr(s, 18, 1) COLLATE "C" < '6'
        ELSE false END
      -- As many characters other than digits as the separators checked above.
      OR pg_catalog.length(pg_catalog.translate(s, '0123456789', ''))
         <> CASE WHEN b = 10 THEN 2
                 ELSE 5 + CASE WHEN b > 19 THEN 1 ELSE 0 END + CASE o WHEN 6 THEN 2 ELSE o END END) THEN
    RETURN NULL;
  END IF;
  -- A timestamp takes no offset off (it checks it all the same).
  RETURN CASE WHEN as_written OR o = 0 THEN s::timestamp AT TIME ZONE 'UTC' ELSE s::timestamptz END;
EXCEPTION WHEN data_exception THEN
  RETURN NULL;
END
$$;

-- Same answers as 028's attribute_timestamptz and attribute_date: SQL
-- functions, inlined into the query, that call the fast path first.
CREATE FUNCTION nudge_engine.attribute_timestamptz(value jsonb)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE
AS $$
  SELECT coalesce(nudge_engine.attribute_iso_time(value #>> '{}', false),
                  nudge_engine.attribute_timestamptz_parts(value))
$$;

CREATE FUNCTION nudge_engine.attribute_date(value jsonb)
RETURNS date
LANGUAGE sql IMMUTABLE
AS $$
  SELECT coalesce((nudge_engine.attribute_iso_time(value #>> '{}', true) AT TIME ZONE 'UTC')::date,
                  nudge_engine.attribute_date_parts(value))
$$;

-- attribute_text(attributes -> name) as one read of the attribute for most
-- values: only a number can need 028's reading (trim_scale), and only when
-- its text has a point and ends in 0 (90.0, 1.50); any other value is its
-- `->>` text. A SQL function, inlined (contacts/query.ts fieldSql calls this
-- one).
CREATE FUNCTION nudge_engine.attribute_text(attributes jsonb, name text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE WHEN attributes ->> name LIKE '%.%0'
                   AND pg_catalog.jsonb_typeof(attributes -> name) = 'number'
              THEN nudge_engine.attribute_text(attributes -> name)
              ELSE attributes ->> name END
$$;
