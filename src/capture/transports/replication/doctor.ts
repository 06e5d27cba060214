// `nudge doctor`'s replication lines (and /v1/overview's): whether the
// server and role can stream, and the slot's state — above all how much WAL
// it holds back, which a slot nobody consumes grows until the disk is full.
import type postgres from 'postgres';
import type { LoadedConfig } from '../../../config/load.js';
import { sqlName } from '../../../doctor/sql-name.js';
import { NudgeError } from '../../../errors.js';
import { readCatalog } from '../../../source/catalog.js';
import { formatTableName, type TableName, tableKey } from '../../../source/names.js';
import type { Outcome } from '../../../source/supabase-http.js';
import type { PlanItem } from '../../plan.js';
import type { DoctorContext, Needed } from '../port.js';
import { fullIdentitySql, sortTables } from './identity.js';
import { replicationItems } from './plan.js';
import type { ReplicationDesired } from './publication.js';
import { formatBytes, type SlotHealth, slotHealth } from './slot.js';
import { readReplicationState } from './state.js';
import { holdsUnread, slotUnread, waitingText } from './unread.js';

type Say = (outcome: Outcome, label: string, message: string, fix?: string) => void;

/**
 * What deploy needs of the captured tables' owners, as the plan says it: the
 * refusals of capture: replication's items (ownership.ts), so doctor fails
 * what deploy would refuse and nothing else. Publishing a table needs its
 * owner; so does setting a replica identity FULL, on a table captured on
 * update or delete and on each of its partitions (identity.ts), unless it is
 * FULL already. The publications are planned as if none were deployed: a
 * deploy that changes one publishes its tables again. `needed` says it as a
 * failure, or a warning when access is read-only (deploy never runs then).
 */
export async function ownershipCheck(
  { sql, project, role, say, features }: DoctorContext,
  tables: TableName[],
  needed: Needed,
): Promise<void> {
  const label = 'Table owner';
  if (!tables.length)
    return say('ok', label, 'no tables named by features or connectors.supabase yet');
  let desired: ReplicationDesired | undefined;
  try {
    if (!features || !('features' in features)) throw features?.error;
    // Imported here: desired.ts reaches this module through the transports' registry.
    const { desiredCaptures } = await import('../../desired.js');
    desired = (await desiredCaptures(project, sql, features.features, await readCatalog(sql)))
      .replication;
  } catch (error) {
    // The files' problems are the Features line's; anything else is this check's.
    if (features && 'features' in features && !(error instanceof NudgeError)) throw error;
    return say(
      'warn',
      label,
      'not checked: the feature files do not check (see Features), and deploy refuses them until they do',
    );
  }
  const state = await readReplicationState(sql);
  const items = replicationItems(desired, { ...state, publications: [] });
  const owners = new Map<string, NonNullable<NonNullable<PlanItem['refusal']>['owner']>>();
  for (const item of items) {
    const owner = item.refusal?.owner;
    if (owner && !owners.has(tableKey(owner.table))) owners.set(tableKey(owner.table), owner);
  }
  const denied = [...owners.values()].filter((need) => !need.of);
  if (denied.length) {
    const first = denied[0]!;
    return needed(
      label,
      `role ${role} does not own ${denied.map((need) => `${formatTableName(need.table)} (owner ${need.owner})`).join(', ')}: capture: replication publishes a table and sets its replica identity, which needs its owner`,
      `connect as ${first.owner}, or GRANT ${sqlName(first.owner)} TO ${sqlName(role)}, or use capture: outbox (triggers need only GRANT TRIGGER)`,
    );
  }
  const partitions = [...owners.values()];
  if (partitions.length) {
    const first = partitions[0]!;
    return needed(
      label,
      `role ${role} does not own ${partitions.map((need) => `partition ${formatTableName(need.table)} of ${formatTableName(need.of!)} (owner ${need.owner})`).join(', ')}: deploy sets a partition's replica identity FULL when updates or deletes of its table are captured, which needs its owner`,
      `connect as ${first.owner}, or GRANT ${sqlName(first.owner)} TO ${sqlName(role)}, or, as ${first.owner}, run ${fullIdentitySql(first.table)}`,
    );
  }
  const names = sortTables(tables).map(formatTableName).join(', ');
  const full = new Set((desired?.fullIdentity ?? []).map(tableKey));
  const parents = [
    ...new Set(
      state.partitions.filter((p) => full.has(tableKey(p.of))).map((p) => formatTableName(p.of)),
    ),
  ];
  const also = parents.length
    ? ` and the partitions of ${parents.join(', ')} deploy sets FULL`
    : '';
  say('ok', label, `role ${role} owns ${names}${also} (publication, replica identity)`);
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
