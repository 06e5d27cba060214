-- New contacts get time-ordered ids (UUID version 7, RFC 9562): 48 bits of
-- Unix time in milliseconds, then random bits. With random (version 4) ids,
-- every contact a sync creates lands on a random page of the primary key
-- and, later, of contact_search's key: past a few hundred thousand contacts
-- those pages no longer stay in shared buffers, and a 1M-user sync slowed as
-- it went. Time-ordered ids append instead. Existing ids do not change.
--
-- PostgreSQL 18 has uuidv7(); this works from 13 on. It takes the bytes of
-- gen_random_uuid(), writes the time over the first six, and turns the
-- version nibble 4 (0100) into 7 (0111) by setting its two low bits, bits 52
-- and 53 in set_bit's numbering (byte 6, bits 4 and 5). The variant bits of
-- gen_random_uuid() are already those of RFC 9562.
CREATE FUNCTION nudge_engine.time_ordered_uuid() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT encode(
           set_bit(set_bit(
             overlay(uuid_send(gen_random_uuid())
                     PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                     FROM 1 FOR 6),
             52, 1), 53, 1),
           'hex')::uuid
$$;

ALTER TABLE nudge_engine.contacts ALTER COLUMN id SET DEFAULT nudge_engine.time_ordered_uuid();
