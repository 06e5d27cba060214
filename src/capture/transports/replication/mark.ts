// Where a slot's consumer stopped storing changes (nudge_engine.replication_marks,
// migration 026): the commit LSN and place of the last change it stored,
// written in the transaction that stores it, and the source server it was
// read from. Changes at or before it are skipped when the slot streams them
// again (consumer.ts), however long ago the inbox forgot their keys.
import type postgres from 'postgres';
import { formatLsn, type Lsn, parseLsn } from './pgoutput.js';

export interface Mark {
  lsn: Lsn;
  n: number;
}

/**
 * The source server as `<system identifier>/<timeline>`: a database
 * restored to an earlier point (a new timeline), or another server (a new
 * identifier), may stream positions lower than a mark. Undefined when the
 * server will not say (pg_control_* revoked): then no mark is kept.
 */
export async function sourceServer(source: postgres.Sql): Promise<string | undefined> {
  return source<{ id: string }[]>`
    select s.system_identifier::text || '/' || c.timeline_id as id
      from pg_control_system() s, pg_control_checkpoint() c`.then(
    ([row]) => row?.id,
    () => undefined,
  );
}

/** The slot's mark on this source server, if its consumer has stored anything there. */
export async function readMark(
  engine: postgres.Sql,
  slot: string,
  server: string,
): Promise<Mark | undefined> {
  const [row] = await engine<{ lsn: string; n: number }[]>`
    select lsn::text, n from nudge_engine.replication_marks
     where slot = ${slot} and source = ${server}`;
  return row ? { lsn: parseLsn(row.lsn), n: row.n } : undefined;
}

/** Whether a change at `lsn`, place `n`, is at or before the mark: stored already. */
export function marked(mark: Mark | undefined, lsn: Lsn, n: number): boolean {
  return mark !== undefined && (lsn < mark.lsn || (lsn === mark.lsn && n <= mark.n));
}

/**
 * The statement that moves the mark to `at` (never back, unless the mark
 * was another server's) and sends `announce` with it, in one round trip.
 */
export function moveMark(
  tx: postgres.TransactionSql,
  slot: string,
  server: string,
  at: Mark,
  announce: postgres.PendingQuery<postgres.Row[]>,
): postgres.PendingQuery<postgres.Row[]> {
  return tx`
    with mark as (
      insert into nudge_engine.replication_marks (slot, source, lsn, n)
      values (${slot}, ${server}, ${formatLsn(at.lsn)}::pg_lsn, ${at.n})
      on conflict (slot) do update
        set source = excluded.source, lsn = excluded.lsn, n = excluded.n, updated_at = now()
        where replication_marks.source <> excluded.source
           or (replication_marks.lsn, replication_marks.n) < (excluded.lsn, excluded.n)
      returning 1)
    select ${announce}, (select count(*) from mark)`;
}
