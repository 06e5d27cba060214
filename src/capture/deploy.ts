// Applies a plan: one transaction, under an advisory lock so two deploys never
// interleave, with a lock timeout so a busy table fails the deploy instead of
// queueing the app's writes behind it. The plan is recomputed inside the lock,
// so what is applied is always the diff against the state at that moment.
// A trigger-less transport's own objects may take a transaction of their own
// first and statements outside any (transports/port.ts TransportObjects).
import type postgres from 'postgres';
import { isLockNotAvailable } from '../db/errors.js';
import { lockKey } from '../db/locks.js';
import { ident, literal } from '../db/quote.js';
import { NudgeError } from '../errors.js';
import { sourceError } from '../source/connect.js';
import { formatTableName, tableKey } from '../source/names.js';
import { NUDGE_VERSION } from '../version.js';
import { itemStatements, makePlan, type Plan, type PlanItem, planStatements } from './plan.js';
import { NOT_CLONED, readCaptureState } from './state.js';
import { capturedByOf, deployingPart, type ObjectsPart, objectsParts } from './transports/index.js';
import type { DesiredCaptures, Loss } from './transports/port.js';
import { captureKey } from './triggers.js';

const LOCK = `pg_advisory_xact_lock(${lockKey('deploy')})`;
// The outbox pump's lock (one pump at a time, engine/pump.ts): deploys take it too: no claim runs while rows tables change, and the next
// one sees the new deployment.
const PUMP_LOCK = `pg_advisory_xact_lock(${lockKey('pump')})`;
const LOCK_TIMEOUT = '10s';
// set_config(..., true) rather than SET LOCAL: it also works in the implicit
// transaction the Supabase CLI runs a migration file in.
const SET_LOCK_TIMEOUT = `SELECT set_config('lock_timeout', '${LOCK_TIMEOUT}', true)`;
/**
 * Said with a deployment's commit (in deploy's transaction and in the --sql
 * and export scripts): running engines read their feature files again
 * (engine/wiring/follow-deploys.ts).
 */
export const DEPLOYED_CHANNEL = 'nudge_deployed';
const NOTIFY_DEPLOYED = `SELECT pg_notify('${DEPLOYED_CHANNEL}', '')`;
/** The id of the deployment just recorded, as SQL (in its transaction). */
const LATEST_DEPLOYMENT = '(SELECT max(id) FROM nudge.deployments)::text';

export interface DeployResult {
  plan: Plan;
  deploymentId?: number;
}

export interface DeployOptions {
  /** Drop a replication slot even when it holds changes no engine has read (they are lost). */
  discardUnread?: boolean;
  /**
   * The plan the caller showed and measured before asking (losses, e.g.
   * noteUnread): the check inside the lock measures again only what may
   * have changed since.
   */
  accepted?: Plan;
}

export async function deploy(
  sql: postgres.Sql,
  desired: DesiredCaptures,
  options: DeployOptions = {},
): Promise<DeployResult> {
  try {
    // A trigger-less transport's own objects may commit first (capture:
    // replication: the publications, then the slot is made — it cannot be in
    // a transaction that wrote, and must not be older than its publications),
    // then the rest: triggers go once it streams.
    const deploying = deployingPart(desired);
    let first: Plan | undefined;
    if (deploying?.objects.commitFirst) {
      const kinds = deploying.objects.kinds;
      first = await sql.begin(async (tx) => {
        await tx.unsafe(`SELECT ${LOCK}`);
        await tx.unsafe(SET_LOCK_TIMEOUT);
        const plan = makePlan(desired, await readCaptureState(tx as unknown as postgres.Sql));
        refuseItems(plan);
        await refuseLosses(tx as unknown as postgres.Sql, plan, options);
        const statements = itemStatements(plan, kinds);
        for (const statement of statements) await tx.unsafe(statement);
        // Its engine process hears of it at this commit, in the order of what it captures.
        const announce = deploying.objects.announce;
        if (announce && statements.length) await tx.unsafe(announce(null));
        return plan;
      });
      await runOutside(sql, first);
    }
    const result = await sql.begin(async (tx) => {
      await tx.unsafe(`SELECT ${LOCK}`);
      await tx.unsafe(SET_LOCK_TIMEOUT);
      const plan = makePlan(desired, await readCaptureState(tx as unknown as postgres.Sql));
      refuseItems(plan);
      // What the plan drops must not take unread changes (a slot's) with it unless asked to.
      await refuseLosses(tx as unknown as postgres.Sql, plan, {
        ...options,
        accepted: first ?? options.accepted,
      });
      // What the first step changed is part of this deployment.
      const whole = first?.hasChanges ? first : plan;
      if (!whole.hasChanges) return { plan, rest: plan };
      await tx.unsafe(`SELECT ${PUMP_LOCK}`);
      for (const statement of planStatements(plan)) await tx.unsafe(statement);
      const [row] = await tx.unsafe<{ id: number }[]>(
        `${recordSql({ ...plan, counts: whole.counts, driftCount: whole.driftCount })} RETURNING id::int AS id`,
      );
      const announce = deployingPart(desired)?.objects.announce;
      if (announce) await tx.unsafe(announce(LATEST_DEPLOYMENT));
      await tx.unsafe(NOTIFY_DEPLOYED);
      return { plan: whole, deploymentId: row!.id, rest: plan };
    });
    await runOutside(sql, result.rest);
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

/**
 * The plan's items deploy cannot apply (a table the deploying role does not
 * own): refused together, before anything runs, each as the plan said it.
 * A table refused by two items (its identity and its publication) is said
 * once, as the first says it. `nudge deploy` asks it before its prompt too.
 */
export function refuseItems(plan: Plan): void {
  const refused = new Map<string, NonNullable<PlanItem['refusal']>>();
  for (const { refusal } of plan.items) {
    if (!refusal) continue;
    const key = refusal.owner ? tableKey(refusal.owner.table) : refusal.message;
    if (!refused.has(key)) refused.set(key, refusal);
  }
  if (!refused.size) return;
  const all = [...refused.values()];
  throw new NudgeError(
    `deploy refused; nothing was changed: ${all.map((r) => r.message).join('; ')}`,
    [...new Set(all.map((r) => r.hint))].join('; '),
  );
}

/**
 * Measures what the plan would lose (a dropped slot's unread changes) and
 * notes it on its items; inside deploy's lock it refuses unless discarding.
 */
async function refuseLosses(sql: postgres.Sql, plan: Plan, options: DeployOptions): Promise<void> {
  const discarding = options.discardUnread === true;
  for (const { objects } of objectsParts()) {
    const loss = await objects.losses?.(sql, plan, { accepted: options.accepted, discarding });
    if (loss && !discarding) throw loss.refusal('deploy');
  }
}

/**
 * What applying the plan would lose, measured and noted on its items, for
 * `nudge plan`, and for deploy and export before they ask: the refusals of
 * each transport with objects of its own, and their notices.
 */
export async function planLosses(sql: postgres.Sql, plan: Plan): Promise<Loss[]> {
  const losses: Loss[] = [];
  for (const { objects } of objectsParts()) {
    const loss = await objects.losses?.(sql, plan);
    if (loss) losses.push(loss);
  }
  return losses;
}

/** The plan's items that run outside a transaction, one transport at a time, after a commit. */
async function runOutside(sql: postgres.Sql, plan: Plan): Promise<void> {
  for (const part of objectsParts()) {
    const statements = itemStatements(plan, part.objects.outside);
    if (statements.length) await part.objects.runOutside(sql, statements);
  }
}

/** The statement recording a deployment (also part of the --sql / export text). */
function recordSql(plan: Plan): string {
  // What captured each (table, operation): a trigger, or the transport's own
  // objects (a replication deployment installs no trigger, so none of its
  // keys means a trigger was dropped by hand later: state.ts).
  const capturedBy = capturedByOf(plan.desired);
  const objects = plan.desired.map((object) => ({
    key: captureKey(object.table, object.operation),
    captured_by: capturedBy,
    table: formatTableName(object.table),
    operation: object.operation,
    function: object.functionName,
    hash: object.hash,
    used_by: object.usedBy,
  }));
  const summary = {
    ...plan.counts,
    drift: plan.driftCount,
    ...(plan.desired.features ? { features: plan.desired.features } : {}),
  };
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
  // What a statement's item loses (a slot's unread changes), said above its first statement.
  const notes = lossNotes(plan);
  const noted = (statement: string, shown: string) => {
    const note = notes.get(statement);
    return note ? `${note}\n${shown}` : shown;
  };
  const parts = objectsParts();
  const statements = planStatements(plan);
  // A transport's own objects that commit first (see deploy), for psql.
  const first = options.transaction
    ? itemStatements(
        plan,
        parts.filter((part) => part.objects.commitFirst).flatMap((part) => part.objects.kinds),
      )
    : [];
  // The deployed transport's word to its engine (deploy), with its first
  // commit when it has one, and after the record.
  const announcing = deployingPart(plan.desired)?.objects.announce;
  const announce = (deployment: string | null) =>
    announcing ? [`${announcing(deployment)};`] : [];
  const body = [
    `SELECT ${LOCK};`,
    `${SET_LOCK_TIMEOUT};`,
    `SELECT ${PUMP_LOCK};`,
    ...statements.filter((s) => !first.includes(s)).map((s) => noted(s, `${s};`)),
    `${recordSql(plan)};`,
    ...announce(LATEST_DEPLOYMENT),
    `${NOTIFY_DEPLOYED};`,
  ];
  if (!options.transaction) {
    const notes = parts.flatMap((part) => {
      const outside = outsideItems(plan, part).flatMap((item) => item.sql);
      return outside.length
        ? [`-- ${part.objects.outsideNote}`, ...outside.map((s) => noted(s, `-- ${s};`))]
        : [];
    });
    return `${[...lines, '', ...body, ...notes].join('\n\n')}\n`;
  }
  // Objects made outside a transaction follow the first commit (what they
  // read is committed then); drops and replacements come at the end.
  const outside = parts.flatMap((part) => outsideItems(plan, part));
  const made = outside.filter((item) => item.action === 'create').flatMap((item) => item.sql);
  const rest = outside.filter((item) => item.action !== 'create').flatMap((item) => item.sql);
  const head = first.length
    ? [
        'BEGIN;',
        `SELECT ${LOCK};`,
        ...first.map((s) => noted(s, `${s};`)),
        ...announce(null),
        'COMMIT;',
        ...made.map((s) => noted(s, `${s};`)),
      ]
    : [];
  const tail = (head.length ? rest : outside.flatMap((item) => item.sql)).map((s) =>
    noted(s, `${s};`),
  );
  return `${[...lines, '', ...head, 'BEGIN;', ...body, 'COMMIT;', ...tail].join('\n\n')}\n`;
}

/**
 * The script's note above each item that loses something (noted on it by
 * planLosses: a slot's unread changes), keyed by the item's first statement:
 * `-- ! slot nudge holds 1 change not yet read by an engine (…); the drop below loses it`.
 */
function lossNotes(plan: Plan): Map<string, string> {
  const notes = new Map<string, string>();
  for (const item of plan.items) {
    const [statement] = item.sql;
    if (!item.warning || !statement) continue;
    notes.set(
      statement,
      `-- ! ${item.scriptNote ?? `${item.kind} ${item.subject}: ${item.warning.text}`}`,
    );
  }
  return notes;
}

/** A transport's items that run outside a transaction, in plan order. */
function outsideItems(plan: Plan, part: ObjectsPart): PlanItem[] {
  return plan.items.filter((item) => part.objects.outside.includes(item.kind));
}

/**
 * Removes every Nudge object: triggers on user tables, then the schema, then
 * each transport's own objects (capture: replication's publications and slot).
 */
export async function teardown(sql: postgres.Sql): Promise<TeardownResult> {
  const { triggers } = await afterDeadlocks(() =>
    sql.begin(async (tx) => {
      await tx.unsafe(`SELECT ${LOCK}`);
      await tx.unsafe(SET_LOCK_TIMEOUT);
      const triggers = await nudgeTriggers(tx as unknown as postgres.Sql);
      for (const t of triggers)
        await tx.unsafe(`DROP TRIGGER IF EXISTS ${ident(t.name)} ON ${ident(t.schema, t.table)}`);
      await tx.unsafe('DROP SCHEMA IF EXISTS nudge CASCADE');
      return { triggers: triggers.length };
    }),
  );
  const result: TeardownResult = { triggers, removed: [], notes: [] };
  for (const { objects } of objectsParts()) {
    const { removed, note, objects: dropped } = await objects.teardown.remove(sql);
    Object.assign(result, dropped);
    result.removed.push(...removed);
    if (note) result.notes.push(note);
  }
  return result;
}

/** The most times teardown's transaction is run when the server ends it as a deadlock's victim. */
const DEADLOCK_TRIES = 5;

/**
 * Runs `transaction` again when the server chose it as a deadlock's victim
 * (SQLSTATE 40P01). DROP SCHEMA nudge CASCADE locks the schema's tables in
 * an order of its own, and a running engine's outbox pump holds some of
 * them while it waits for another; one of the two is rolled back. Each run
 * is a whole transaction, so running it again removes what it would have.
 */
async function afterDeadlocks<T>(transaction: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (error) {
      if ((error as { code?: string }).code !== '40P01' || attempt >= DEADLOCK_TRIES) throw error;
    }
  }
}

/**
 * What teardown removed: the triggers; the transports' own objects as
 * phrases (`3 publications`, `slot nudge`), sentences said after them, and
 * by kind (replication: publications, identities, slots).
 */
export type TeardownResult = {
  triggers: number;
  removed: string[];
  notes: string[];
} & Record<string, unknown>;

/** Triggers on any table whose function lives in schema nudge. */
export async function nudgeTriggers(sql: postgres.Sql) {
  return sql<{ schema: string; table: string; name: string }[]>`
    select n.nspname as schema, c.relname as table, t.tgname as name
      from pg_trigger t
      join pg_proc p on p.oid = t.tgfoid
      join pg_class c on c.oid = t.tgrelid
      join pg_namespace n on n.oid = c.relnamespace
     where p.pronamespace = (select oid from pg_namespace where nspname = 'nudge')
       and not t.tgisinternal and ${sql.unsafe(NOT_CLONED)}
     order by 1, 2, 3`;
}
