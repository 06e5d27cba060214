// The slot of `capture: replication`: its SQL, made and dropped outside the
// plan's transaction after it commits (a slot cannot be made in a
// transaction that wrote), dropped by teardown with the publications (and
// the replica identities Nudge set FULL set back), and watched: a slot
// nobody consumes keeps every WAL segment since its position and can fill
// the server's disk.
import type postgres from 'postgres';
import { literal } from '../../../db/quote.js';
import { formatTableName, type TableName } from '../../../source/names.js';
import { defaultIdentitySql, stillFull } from './identity.js';
import { dropPublicationSql } from './publication.js';
import { readReplicationState } from './state.js';

/** Run after the deploy's transaction commits: a slot cannot be created in a transaction that wrote. */
export function createSlotSql(slot: string): string {
  return `SELECT pg_create_logical_replication_slot(${literal(slot)}, 'pgoutput')`;
}

/** Drops a slot, ending the session that streams it first (a held slot cannot be dropped). */
export function dropSlotSql(slot: string): string[] {
  return [
    `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = ${literal(slot)} AND active_pid IS NOT NULL`,
    `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ${literal(slot)}`,
  ];
}

/** SQLSTATE 55006: the slot is held by a session (ended just before; it may not be gone yet). */
const SLOT_ACTIVE = '55006';

/** Runs slot statements one at a time; a drop retries while the session it ended is still going. */
export async function applySlotStatements(sql: postgres.Sql, statements: string[]): Promise<void> {
  for (let i = 0; i < statements.length; i++) {
    const statement = statements[i]!;
    for (let attempt = 1; ; attempt++) {
      try {
        await sql.unsafe(statement);
        break;
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code !== SLOT_ACTIVE || attempt >= 50) throw error;
        // End the holder again (the drop's first statement), then retry.
        await sql.unsafe(statements[i - 1] ?? 'select');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}

/**
 * Teardown: Nudge's publications (by marker), then REPLICA IDENTITY DEFAULT
 * on the tables Nudge made FULL that are FULL still (after the publications,
 * so a table without a primary key is never published for update without an
 * identity: identity.ts), then the slots they name.
 */
export async function dropReplication(
  sql: postgres.Sql,
): Promise<{ publications: string[]; identities: string[]; slots: string[] }> {
  const found = await nudgeReplication(sql);
  for (const name of found.publications) await sql.unsafe(dropPublicationSql(name));
  for (const table of found.identities) await sql.unsafe(defaultIdentitySql(table));
  for (const name of found.slots) await applySlotStatements(sql, dropSlotSql(name));
  return {
    publications: found.publications,
    identities: found.identities.map((t) => formatTableName(t)),
    slots: found.slots,
  };
}

/**
 * What teardown removes (dropReplication), from what plan reads (state.ts):
 * Nudge's publications (by marker), the tables Nudge made FULL that are FULL
 * still, and the slots the publications name that exist in this database.
 */
export async function nudgeReplication(
  sql: postgres.Sql,
): Promise<{ publications: string[]; identities: TableName[]; slots: string[] }> {
  const state = await readReplicationState(sql);
  const ours = state.publications.flatMap((p) =>
    p.marker ? [{ name: p.name, slot: p.marker.slot }] : [],
  );
  const named = new Set(ours.map((p) => p.slot));
  return {
    publications: ours.map((p) => p.name),
    identities: stillFull(state.identities, state.madeFull),
    slots: state.slots
      .filter((s) => named.has(s.name) && s.database === state.database)
      .map((s) => s.name),
  };
}

/** 1536 → "1.5 kB": WAL sizes as doctor, plan and teardown print them. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export interface SlotHealth {
  slot: string;
  exists: boolean;
  active: boolean;
  /** WAL the server keeps for the slot (from its restart position to now), in bytes. */
  retainedBytes: number;
  /** WAL written since the consumer's last acknowledged position, in bytes. */
  lagBytes: number;
  /** pg_replication_slots.wal_status: reserved, extended, unreserved or lost. */
  walStatus: string | null;
  /** Bytes left before max_slot_wal_keep_size invalidates the slot (null: no limit). */
  safeBytes: number | null;
  /** retainedBytes over capture.replication.warn_retained_mb. */
  overLimit: boolean;
}

/** The slot's WAL retention and lag, for nudge doctor, /v1 and the engine's log. */
export async function slotHealth(
  sql: postgres.Sql,
  slot: string,
  warnRetainedMb: number,
): Promise<SlotHealth> {
  const [row] = await sql<
    {
      active: boolean;
      retained: number | null;
      lag: number | null;
      wal_status: string | null;
      safe: number | null;
    }[]
  >`
    select active,
           pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 as retained,
           pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8 as lag,
           wal_status, safe_wal_size::float8 as safe
      from pg_replication_slots where slot_name = ${slot} and database = current_database()`;
  const retainedBytes = Math.max(0, row?.retained ?? 0);
  return {
    slot,
    exists: !!row,
    active: row?.active ?? false,
    retainedBytes,
    lagBytes: Math.max(0, row?.lag ?? 0),
    walStatus: row?.wal_status ?? null,
    safeBytes: row?.safe ?? null,
    overLimit: retainedBytes > warnRetainedMb * 1024 * 1024,
  };
}
