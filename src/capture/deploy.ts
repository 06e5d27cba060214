// Applies a plan: one transaction, under an advisory lock so two deploys never
// interleave, with a lock timeout so a busy table fails the deploy instead of
// queueing the app's writes behind it. The plan is recomputed inside the lock,
// so what is applied is always the diff against the state at that moment.
import type postgres from 'postgres';
import { isLockNotAvailable } from '../db/errors.js';
import { lockKey } from '../db/locks.js';
import { ident, literal } from '../db/quote.js';
import { NudgeError } from '../errors.js';
import { sourceError } from '../source/connect.js';
import { formatTableName } from '../source/names.js';
import { NUDGE_VERSION } from '../version.js';
import { itemStatements, makePlan, type Plan, planStatements, slotStatements } from './plan.js';
import { readCaptureState } from './state.js';
import type { DesiredCaptures } from './transports/replication/publication.js';
import {
  applySlotStatements,
  dropReplication,
  REPLICATION_FIRST,
} from './transports/replication/slot.js';
import { noteUnread, UnreadSlotError } from './transports/replication/unread.js';
import { captureKey } from './triggers.js';

const LOCK = `pg_advisory_xact_lock(${lockKey('deploy')})`;
// The outbox pump's lock (one pump at a time, engine/pump.ts): deploys take it too: no claim runs while rows tables change, and the next
// one sees the new deployment.
const PUMP_LOCK = `pg_advisory_xact_lock(${lockKey('pump')})`;
const LOCK_TIMEOUT = '10s';
// set_config(..., true) rather than SET LOCAL: it also works in the implicit
// transaction the Supabase CLI runs a migration file in.
const SET_LOCK_TIMEOUT = `SELECT set_config('lock_timeout', '${LOCK_TIMEOUT}', true)`;

export interface DeployResult {
  plan: Plan;
  deploymentId?: number;
}

export interface DeployOptions {
  /** Drop a replication slot even when it holds changes no engine has read (they are lost). */
  discardUnread?: boolean;
}

export async function deploy(
  sql: postgres.Sql,
  desired: DesiredCaptures,
  options: DeployOptions = {},
): Promise<DeployResult> {
  try {
    // capture: replication: the publications commit first, then the slot is
    // made (it cannot be in a transaction that wrote, and must not be older
    // than its publications), then the rest: triggers go once it streams.
    let first: Plan | undefined;
    if (desired.replication) {
      first = await sql.begin(async (tx) => {
        await tx.unsafe(`SELECT ${LOCK}`);
        await tx.unsafe(SET_LOCK_TIMEOUT);
        const plan = makePlan(desired, await readCaptureState(tx as unknown as postgres.Sql));
        for (const statement of itemStatements(plan, REPLICATION_FIRST)) await tx.unsafe(statement);
        return plan;
      });
      await applySlotStatements(sql, slotStatements(first));
    }
    const result = await sql.begin(async (tx) => {
      await tx.unsafe(`SELECT ${LOCK}`);
      await tx.unsafe(SET_LOCK_TIMEOUT);
      const plan = makePlan(desired, await readCaptureState(tx as unknown as postgres.Sql));
      // A slot the plan drops must not take unread changes with it unless asked to.
      const unread = await noteUnread(tx as unknown as postgres.Sql, plan);
      if (unread.length && !options.discardUnread) throw new UnreadSlotError('deploy', unread);
      // What the first step of capture: replication changed is part of this deployment.
      const whole = first?.hasChanges ? first : plan;
      if (!whole.hasChanges) return { plan, rest: plan };
      await tx.unsafe(`SELECT ${PUMP_LOCK}`);
      for (const statement of planStatements(plan)) await tx.unsafe(statement);
      const [row] = await tx.unsafe<{ id: number }[]>(
        `${recordSql({ ...plan, counts: whole.counts, driftCount: whole.driftCount })} RETURNING id::int AS id`,
      );
      return { plan: whole, deploymentId: row!.id, rest: plan };
    });
    await applySlotStatements(sql, slotStatements(result.rest));
    return {
      plan: result.plan,
      ...(result.deploymentId ? { deploymentId: result.deploymentId } : {}),
    };
  } catch (error) {
    if (isLockNotAvailable(error)) {
      throw new NudgeError(
        `deploy timed out after ${LOCK_TIMEOUT} waiting for a table lock; nothing was changed`,
        'a long-running transaction holds a lock on a table Nudge adds a trigger to; retry when it has finished (see pg_stat_activity)',
      );
    }
    throw sourceError(error, 'deploy failed; nothing was changed');
  }
}

/** The statement recording a deployment (also part of the --sql / export text). */
function recordSql(plan: Plan): string {
  // What captured each (table, operation): a trigger, or the slot (a
  // replication deployment installs no trigger, so none of its keys means a
  // trigger was dropped by hand later: state.ts).
  const capturedBy = plan.desired.replication ? 'replication' : 'trigger';
  const objects = plan.desired.map((object) => ({
    key: captureKey(object.table, object.operation),
    captured_by: capturedBy,
    table: formatTableName(object.table),
    operation: object.operation,
    function: object.functionName,
    hash: object.hash,
    used_by: object.usedBy,
  }));
  const summary = { ...plan.counts, drift: plan.driftCount };
  return `INSERT INTO nudge.deployments (nudge_version, summary, objects)
VALUES (${literal(NUDGE_VERSION)}, ${literal(JSON.stringify(summary))}::jsonb, ${literal(JSON.stringify(objects))}::jsonb)`;
}

/**
 * The plan as one SQL script, for `nudge deploy --sql` (psql) and `nudge
 * export --supabase` (a migration file; the Supabase CLI supplies the
 * transaction, so `transaction: false` leaves BEGIN/COMMIT out).
 */
export function planScript(
  plan: Plan,
  options: { transaction: boolean; header: string[] },
): string {
  const lines = options.header.map((line) => `-- ${line}`);
  if (!plan.hasChanges) return `${[...lines, '-- No changes.'].join('\n')}\n`;
  const statements = planStatements(plan);
  const slots = slotStatements(plan).map((s) => `${s};`);
  // capture: replication: publications, then the slot, then the rest (see deploy).
  const first = options.transaction ? itemStatements(plan, REPLICATION_FIRST) : [];
  const body = [
    `SELECT ${LOCK};`,
    `${SET_LOCK_TIMEOUT};`,
    `SELECT ${PUMP_LOCK};`,
    ...statements.filter((s) => !first.includes(s)).map((s) => `${s};`),
    `${recordSql(plan)};`,
  ];
  if (!options.transaction) {
    const note = slots.length
      ? [
          '-- Replication slots cannot be made or dropped in a migration; run after it:',
          ...slots.map((s) => `-- ${s}`),
        ]
      : [];
    return `${[...lines, '', ...body, ...note].join('\n\n')}\n`;
  }
  const head = first.length
    ? [
        'BEGIN;',
        `SELECT ${LOCK};`,
        ...first.map((s) => `${s};`),
        'COMMIT;',
        ...slots.filter((s) => s.includes('pg_create')),
      ]
    : [];
  const tail = slots.filter((s) => !head.includes(s));
  return `${[...lines, '', ...head, 'BEGIN;', ...body, 'COMMIT;', ...tail].join('\n\n')}\n`;
}

/** Removes every Nudge object: triggers on user tables, then the schema; publications and slots of capture: replication. */
export async function teardown(
  sql: postgres.Sql,
): Promise<{ triggers: number; publications: string[]; identities: string[]; slots: string[] }> {
  const removed = await sql.begin(async (tx) => {
    await tx.unsafe(`SELECT ${LOCK}`);
    await tx.unsafe(SET_LOCK_TIMEOUT);
    const triggers = await nudgeTriggers(tx as unknown as postgres.Sql);
    for (const t of triggers)
      await tx.unsafe(`DROP TRIGGER IF EXISTS ${ident(t.name)} ON ${ident(t.schema, t.table)}`);
    await tx.unsafe('DROP SCHEMA IF EXISTS nudge CASCADE');
    return { triggers: triggers.length };
  });
  return { ...removed, ...(await dropReplication(sql)) };
}

/** Triggers on any table whose function lives in schema nudge. */
export async function nudgeTriggers(sql: postgres.Sql) {
  return sql<{ schema: string; table: string; name: string }[]>`
    select n.nspname as schema, c.relname as table, t.tgname as name
      from pg_trigger t
      join pg_proc p on p.oid = t.tgfoid
      join pg_class c on c.oid = t.tgrelid
      join pg_namespace n on n.oid = c.relnamespace
     where p.pronamespace = (select oid from pg_namespace where nspname = 'nudge')
       and not t.tgisinternal
     order by 1, 2, 3`;
}
