// `nudge doctor`'s replication lines (and /v1/overview's): whether the
// server and role can stream, and the slot's state — above all how much WAL
// it holds back, which a slot nobody consumes grows until the disk is full.
import type postgres from 'postgres';
import type { LoadedConfig } from '../../../config/load.js';
import { sqlName } from '../../../doctor/sql-name.js';
import { formatTableName, type TableName } from '../../../source/names.js';
import type { Outcome } from '../../../source/supabase-http.js';
import { fullIdentitySql } from './identity.js';
import { formatBytes, type SlotHealth, slotHealth } from './slot.js';
import { holdsUnread, slotUnread, waitingText } from './unread.js';

type Say = (outcome: Outcome, label: string, message: string, fix?: string) => void;

/**
 * What deploy needs on each captured table under replication: adding it to
 * a publication and setting its replica identity both need its owner (or a
 * member of the owning role, or a superuser), where triggers need the
 * TRIGGER privilege. Each partition, at any depth, has an identity of its
 * own that deploy sets FULL when the table's updates or deletes are
 * captured (identity.ts): its owner is needed too, unless it is FULL
 * already (deploy leaves it). `needed` says it as a failure, or a warning
 * when access is read-only (deploy never runs then).
 */
export async function ownershipCheck(
  sql: postgres.Sql,
  tables: TableName[],
  role: string,
  say: Say,
  needed: (label: string, message: string, fix: string) => void,
): Promise<void> {
  const label = 'Table owner';
  if (!tables.length)
    return say('ok', label, 'no tables named by features or connectors.supabase yet');
  // The tables, then their partitions at any depth with the captured table each belongs to.
  const rows = await sql<
    {
      schema: string;
      table: string;
      owner: string;
      owns: boolean;
      full: boolean;
      of_schema: string | null;
      of_table: string | null;
    }[]
  >`
    with named as (
      select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where (n.nspname::text, c.relname::text) in (
               select * from unnest(${tables.map((t) => t.schema)}::text[],
                                    ${tables.map((t) => t.table)}::text[]))),
    tree as (
      select oid, null::oid as of from named
      union all
      select p.relid, named.oid from named cross join lateral pg_partition_tree(named.oid) p
       where p.relid <> named.oid)
    select distinct on (n.nspname, c.relname)
           n.nspname as schema, c.relname as table, pg_get_userbyid(c.relowner) as owner,
           pg_has_role(c.relowner, 'USAGE')
             or (select rolsuper from pg_roles where rolname = current_user) as owns,
           c.relreplident = 'f' as full, an.nspname as of_schema, a.relname as of_table
      from tree join pg_class c on c.oid = tree.oid join pg_namespace n on n.oid = c.relnamespace
      left join pg_class a on a.oid = tree.of left join pg_namespace an on an.oid = a.relnamespace
     where c.relkind in ('r', 'p')
     order by n.nspname, c.relname, tree.of nulls first`;
  const named = rows.filter((row) => row.of_table === null);
  const partitions = rows.filter((row) => row.of_table !== null);
  const ofTable = (row: (typeof rows)[number]) =>
    formatTableName({ schema: row.of_schema!, table: row.of_table! });
  const denied = named.filter((row) => !row.owns);
  if (denied.length) {
    const first = denied[0]!;
    return needed(
      label,
      `role ${role} does not own ${denied.map((row) => `${formatTableName(row)} (owner ${row.owner})`).join(', ')}: capture: replication publishes a table and sets its replica identity, which needs its owner`,
      `connect as ${first.owner}, or GRANT ${sqlName(first.owner)} TO ${sqlName(role)}, or use capture: outbox (triggers need only GRANT TRIGGER)`,
    );
  }
  const deniedPartitions = partitions.filter((row) => !row.owns && !row.full);
  if (deniedPartitions.length) {
    const first = deniedPartitions[0]!;
    return needed(
      label,
      `role ${role} does not own ${deniedPartitions.map((row) => `partition ${formatTableName(row)} of ${ofTable(row)} (owner ${row.owner})`).join(', ')}: deploy sets a partition's replica identity FULL when updates or deletes of its table are captured, which needs its owner`,
      `connect as ${first.owner}, or GRANT ${sqlName(first.owner)} TO ${sqlName(role)}, or, as ${first.owner}, run ${fullIdentitySql(first)}`,
    );
  }
  const names = named.map((row) => formatTableName(row)).join(', ');
  const parents = [...new Set(partitions.map(ofTable))];
  const also = parents.length
    ? ` and the partitions of ${parents.join(', ')} deploy sets FULL`
    : '';
  say(
    'ok',
    label,
    `role ${role} owns ${names || 'the captured tables'}${also} (publication, replica identity)`,
  );
}

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
  const [server] = await sql<{ wal_level: string; can: boolean; keep: string; role: string }[]>`
    select current_setting('wal_level') as wal_level, current_user as role,
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
      `role ${server!.role} has no REPLICATION attribute: it cannot stream the slot`,
      `ALTER ROLE ${sqlName(server!.role)} REPLICATION, as a superuser (Supabase: connect as postgres, which has it)`,
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
      'nudge teardown --discard-unread, then nudge deploy makes a new slot (nudge backfill enters existing rows)',
    );
  const drain =
    'start the engine (nudge start) so it reads the slot; or, if this project is gone, nudge teardown --discard-unread (what the slot holds unread is lost)';
  // Not streaming with something unread: nobody is reading it, whatever the size.
  const unread = health.active ? undefined : await slotUnread(sql, health.slot);
  if (health.overLimit)
    say('warn', label, `${message}, over capture.replication.warn_retained_mb (${limit})`, drain);
  else if (unread && holdsUnread(unread))
    say('warn', label, `${message}; no engine is reading it: ${waitingText(unread)}`, drain);
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
