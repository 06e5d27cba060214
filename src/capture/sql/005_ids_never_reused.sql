-- The outbox's ids (event_log's, which the typed rows tables share) key the
-- engine's inbox as `<id>:<row>`, and the inbox outlives this schema: after
-- `nudge teardown` the next deploy makes the schema again, and ids counted
-- from 1 would be taken for copies of rows the inbox already holds — the new
-- rows dropped without a word. So the sequence starts from the clock: one
-- hundred ids per millisecond since 1970 (about 1.8e14 now, well inside
-- bigint and JavaScript's exact integers). A schema made again later starts
-- past every id an earlier one handed out unless that one averaged more than
-- 100,000 captured statements a second over its whole life. On a schema
-- already in use the sequence only moves forward.
SELECT setval(
  'nudge.event_log_id_seq',
  greatest(
    (SELECT last_value FROM nudge.event_log_id_seq),
    (extract(epoch FROM clock_timestamp()) * 100000)::bigint
  )
);
