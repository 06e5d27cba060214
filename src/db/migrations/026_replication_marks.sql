-- capture: replication: the last change each slot's consumer stored (its
-- transaction's commit LSN, its place in it), written in the transaction
-- that stores it. A slot streams again what it had not been told of, and
-- after a crash of the server, what it had been told of since it was last
-- saved to disk — which, while a long transaction holds the slot's restart
-- point back, can be hours. Changes at or before the mark are skipped, so
-- they are stored once however long ago the inbox rows that held them were
-- deleted. `source` is the source server's system identifier and timeline:
-- a mark from another server (a restored or new database, where positions
-- start again lower) is not used.
CREATE TABLE nudge_engine.replication_marks (
  slot text PRIMARY KEY,
  source text NOT NULL,
  lsn pg_lsn NOT NULL,
  n int NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
