-- What the HTTP API (/v1) needs on top of 001: full-text search over contacts,
-- typed reads of contact attributes for filters and ordering, and one active
-- API key per name.

-- Full-text search ---------------------------------------------------------------
-- One document per contact: its email and every string value in its
-- attributes (nested ones too), with the language-neutral `simple`
-- configuration (lower-cased words, no stemming, no stop words: names, plans
-- and emails are not English prose). A search on one attribute
-- (`?bio=fts.postgres`) is answered by this index as a lossy prefilter — a
-- contact whose bio matches has every matching word in its document too — and
-- then checked exactly on that attribute. See docs/api.md.
CREATE FUNCTION nudge_engine.contact_search_vector(email text, attributes jsonb)
RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.to_tsvector('pg_catalog.simple'::regconfig, coalesce(email, ''))
      || pg_catalog.jsonb_to_tsvector('pg_catalog.simple'::regconfig, coalesce(attributes, '{}'::jsonb), '["string"]'::jsonb)
$$;

-- A 64 MB pending list: new entries are appended and merged into the tree in
-- bulk, which makes bulk contact writes (syncs) about 1.5x faster than the
-- default 4 MB (docs/benchmarks.md); searches also read the pending list.
CREATE INDEX contacts_search_idx ON nudge_engine.contacts
  USING gin (nudge_engine.contact_search_vector(email, attributes))
  WITH (gin_pending_list_limit = 65536)
  WHERE deleted_at IS NULL;

-- Typed attribute reads ----------------------------------------------------------
-- Attributes are JSON: a value that does not have the declared type (a word
-- where a number was declared) reads as NULL instead of failing the query.
-- Numbers written as JSON strings ("100") count as numbers, as they do for
-- the engine's conditions.
CREATE FUNCTION nudge_engine.attribute_numeric(value jsonb)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE pg_catalog.jsonb_typeof(value)
    WHEN 'number' THEN (value #>> '{}')::numeric
    WHEN 'string' THEN CASE
      WHEN (value #>> '{}') ~ '^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,4})?$'
        OR (value #>> '{}') IN ('NaN', 'Infinity', '-Infinity')
      THEN (value #>> '{}')::numeric END
  END
$$;

CREATE FUNCTION nudge_engine.attribute_boolean(value jsonb)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE WHEN pg_catalog.jsonb_typeof(value) = 'boolean' THEN (value #>> '{}')::boolean END
$$;

CREATE FUNCTION nudge_engine.attribute_uuid(value jsonb)
RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE WHEN pg_catalog.jsonb_typeof(value) = 'string'
      AND (value #>> '{}') ~* '^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$'
    THEN (value #>> '{}')::uuid END
$$;

-- Timestamps without an offset are read as UTC, as the condition language does.
-- (PARALLEL UNSAFE, the default: the exception block is a subtransaction.)
CREATE FUNCTION nudge_engine.attribute_timestamptz(value jsonb)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET timezone = 'UTC'
AS $$
BEGIN
  IF pg_catalog.jsonb_typeof(value) IS DISTINCT FROM 'string' THEN RETURN NULL; END IF;
  RETURN (value #>> '{}')::timestamptz;
EXCEPTION WHEN data_exception THEN
  RETURN NULL;
END
$$;

CREATE FUNCTION nudge_engine.attribute_date(value jsonb)
RETURNS date
LANGUAGE plpgsql STABLE
SET timezone = 'UTC'
AS $$
BEGIN
  IF pg_catalog.jsonb_typeof(value) IS DISTINCT FROM 'string' THEN RETURN NULL; END IF;
  RETURN (value #>> '{}')::date;
EXCEPTION WHEN data_exception THEN
  RETURN NULL;
END
$$;

-- API keys -----------------------------------------------------------------------
-- `nudge keys revoke <name>` must name one key: one active key per name.
CREATE UNIQUE INDEX api_keys_active_name_key ON nudge_engine.api_keys (name) WHERE revoked_at IS NULL;
