// `nudge doctor`'s replication lines (and /v1/overview's): whether the
// server and role can stream, and the slot's state — above all how much WAL
// it holds back, which a slot nobody consumes grows until the disk is full.
import type postgres from 'postgres';
import type { LoadedConfig } from '../../../config/load.js';
import type { Outcome } from '../../../source/supabase-http.js';
import { formatBytes, type SlotHealth, slotHealth } from './slot.js';

type Say = (outcome: Outcome, label: string, message: string, fix?: string) => void;

/** The slot's health when the project captures by replication, else undefined. */
export async function replicationFacts(
  sql: postgres.Sql,
  project: LoadedConfig,
): Promise<SlotHealth | undefined> {
  if (project.config.capture.transport !== 'replication') return undefined;
  const { slot, warn_retained_mb } = project.config.capture.replication;
  return slotHealth(sql, slot, warn_retained_mb);
}

export async function replicationChecks(
  sql: postgres.Sql,
  project: LoadedConfig,
  say: Say,
): Promise<void> {
  if (project.config.capture.transport !== 'replication') return;
  const label = 'Replication';
  const [server] = await sql<{ wal_level: string; can: boolean; keep: string }[]>`
    select current_setting('wal_level') as wal_level,
           (select rolreplication or rolsuper from pg_roles where rolname = current_user) as can,
           current_setting('max_slot_wal_keep_size') as keep`;
  if (server!.wal_level !== 'logical')
    say(
      'fail',
      label,
      `wal_level is ${server!.wal_level}; capture: replication needs logical`,
      'ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL (Supabase: already logical)',
    );
  if (!server!.can)
    say(
      'fail',
      label,
      'the role has no REPLICATION attribute: it cannot stream the slot',
      'ALTER ROLE <role> REPLICATION (Supabase: the postgres role has it)',
    );
  const health = (await replicationFacts(sql, project))!;
  if (!health.exists)
    return say(
      'warn',
      label,
      `slot ${health.slot} does not exist`,
      'run nudge plan, then nudge deploy',
    );
  const message = `slot ${health.slot} ${health.active ? 'streaming' : 'not streaming (no engine is running)'}: retains ${formatBytes(health.retainedBytes)} of WAL, ${formatBytes(health.lagBytes)} not acknowledged${health.walStatus ? `, wal_status ${health.walStatus}` : ''}`;
  const unbounded = server!.keep === '-1';
  const limit = unbounded ? 'no max_slot_wal_keep_size' : `max_slot_wal_keep_size ${server!.keep}`;
  if (health.walStatus === 'lost')
    return say(
      'fail',
      label,
      `${message}; the server dropped WAL the slot needed: changes were lost`,
      'nudge teardown, then nudge deploy makes a new slot (nudge backfill enters existing rows)',
    );
  if (health.overLimit)
    say(
      'warn',
      label,
      `${message}, over capture.replication.warn_retained_mb (${limit})`,
      'start the engine (nudge start) so it consumes the slot, or nudge teardown if this project is gone',
    );
  else say('ok', label, `${message} (${limit})`);
  // Either way round something is lost when no engine runs for long: with a
  // limit, the changes in the WAL the server drops; without, the disk fills.
  // The doctor names the choice instead of making it.
  if (unbounded)
    say(
      'warn',
      label,
      'max_slot_wal_keep_size is unlimited: if no engine consumes the slot, its WAL stays until the disk is full',
      "ALTER SYSTEM SET max_slot_wal_keep_size = '10GB'; SELECT pg_reload_conf(); (past it the server drops the slot's WAL, and the changes in it are lost to Nudge)",
    );
}
