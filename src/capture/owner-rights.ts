// What the capture functions can do as the role they run as. They are
// SECURITY DEFINER: a trigger writes schema nudge with its function owner's
// privileges, never the writer's (PostgreSQL checks EXECUTE on a trigger
// function when the trigger is made, not when it fires, so the app's roles
// need nothing in schema nudge). A function given to another owner, or an
// owner that revoked a privilege from itself, captures nothing: the rows go
// to nudge.failed_events, or, when that is refused too, only a WARNING says
// they were lost. So the plan checks what each function's owner can do
// (state: readOwnerRights; plan: ownerDrift, rightsItem), and deploy gives
// the function back to the deploying role and grants that role back what it
// revoked from itself on Nudge's own objects. It grants nothing to any other
// role: a deliberate owner that can do everything capture needs is no drift.
import { ident, literal } from '../db/quote.js';
import type { Sql } from '../source/connect.js';
import type { PlanItem } from './plan.js';
import type { DeployedCapture } from './state.js';
import type { CaptureObject } from './triggers.js';

/** A privilege a capture may need: which captures need it, how it reads, and its GRANT. */
export interface Right {
  /** `usage on schema nudge`, `insert on nudge.event_log`, … */
  what: string;
  /** Which captures need it: every one, JSON ones (event_log), typed ones (a rows table or its sequence), enriching ones, webhook ones. */
  for: 'all' | 'json' | 'rows' | 'enrich' | 'webhook';
  /** The rows table, for `rows` rights of one table. */
  table?: string;
  /** Grants it to the deploying role (CURRENT_USER). */
  grant: string;
  /** The deploying role owns the object, so it can grant the right back to itself. */
  mine?: true;
}

/** What each role lacks of what capture may need, by role name. */
export interface OwnerRights {
  currentUser: string;
  /** Function name → its owner. */
  owners: Record<string, string>;
  /** Owners the deploying role may take a function from (a superuser, or a member of the role). */
  takeable: string[];
  lacking: Record<string, Right[]>;
}

/**
 * A right with the SQL that tells whether a role has it (true when its
 * object does not exist: an older schema the plan migrates first, a rows
 * table not made yet), and the object's owner's oid.
 */
type Checked = Right & { check: (role: string) => string; owner: string };

/** A privilege on a table of schema nudge (`name` as it is, quoted here). */
function onTable(privilege: 'insert' | 'select', name: string, need: Right['for']): Checked {
  const table = ident('nudge', name);
  return {
    what: `${privilege} on nudge.${name}`,
    for: need,
    ...(need === 'rows' ? { table: name } : {}),
    grant: `GRANT ${privilege.toUpperCase()} ON ${table} TO CURRENT_USER`,
    check: (r) =>
      `(to_regclass(${literal(table)}) is null or has_table_privilege(${r}, ${literal(table)}, ${literal(privilege)}))`,
    owner: `(select relowner from pg_class where oid = to_regclass(${literal(table)}))`,
  };
}

const FIXED: Checked[] = [
  {
    what: 'usage on schema nudge',
    for: 'all',
    grant: 'GRANT USAGE ON SCHEMA nudge TO CURRENT_USER',
    check: (r) => `has_schema_privilege(${r}, 'nudge', 'USAGE')`,
    owner: "(select nspowner from pg_namespace where nspname = 'nudge')",
  },
  onTable('insert', 'failed_events', 'all'),
  onTable('insert', 'event_log', 'json'),
  {
    what: 'usage on sequence nudge.event_log_id_seq',
    for: 'rows',
    grant: 'GRANT USAGE ON SEQUENCE nudge.event_log_id_seq TO CURRENT_USER',
    check: (r) =>
      `(to_regclass('nudge.event_log_id_seq') is null or has_sequence_privilege(${r}, 'nudge.event_log_id_seq', 'USAGE, UPDATE'))`,
    owner: "(select relowner from pg_class where oid = to_regclass('nudge.event_log_id_seq'))",
  },
  {
    what: 'execute on nudge.enrich()',
    for: 'enrich',
    grant: 'GRANT EXECUTE ON FUNCTION nudge.enrich(text, text, json) TO CURRENT_USER',
    check: (r) =>
      `(to_regprocedure('nudge.enrich(text, text, json)') is null or has_function_privilege(${r}, 'nudge.enrich(text, text, json)', 'EXECUTE'))`,
    owner:
      "(select proowner from pg_proc where oid = to_regprocedure('nudge.enrich(text, text, json)'))",
  },
  onTable('insert', 'webhook_deliveries', 'webhook'),
  onTable('select', 'webhook_signing', 'webhook'),
];

/**
 * What the owners of the capture functions (state.ts read them) and the
 * deploying role lack of what capture may need in schema nudge.
 */
export async function readOwnerRights(
  sql: Sql,
  captures: DeployedCapture[],
  rowsTables: string[],
): Promise<OwnerRights> {
  const [who] = await sql<{ me: string }[]>`select current_user as me`;
  const me = who!.me;
  const owners = Object.fromEntries(captures.map((c) => [c.functionName, c.owner]));
  const roles = [...new Set([me, ...captures.map((c) => c.owner)])];
  const rights = [...FIXED, ...rowsTables.map((table) => onTable('insert', table, 'rows'))];
  const lacking: Record<string, Right[]> = {};
  for (const role of roles) {
    // Whether it owns the object, so it can grant the right back: asked of the deploying role only.
    const mine =
      role === me
        ? `, array[${rights.map((r) => `coalesce(${r.owner} = (select oid from pg_roles where rolname = current_user), false)`).join(', ')}] as mine`
        : '';
    const [row] = await sql.unsafe<{ ok: boolean[]; mine?: boolean[] }[]>(
      `select array[${rights.map((r) => r.check(literal(role))).join(', ')}] as ok${mine}`,
    );
    lacking[role] = rights.flatMap(({ check: _, owner: __, ...right }, i) =>
      row!.ok[i] ? [] : [row!.mine?.[i] ? { ...right, mine: true as const } : right],
    );
  }
  const takeable = [...new Set(captures.filter((c) => c.takeable).map((c) => c.owner))];
  return { currentUser: me, owners, takeable, lacking };
}

/** Whether `object`'s capture needs a right of each kind. */
const NEEDS: Record<Right['for'], (object: CaptureObject, right: Right) => boolean> = {
  all: () => true,
  // A typed capture falls back to JSON in event_log; a webhook one does not use it.
  json: (object) => object.transport === undefined,
  rows: (object, right) =>
    !!object.rows && (right.table === undefined || right.table === object.rows.table),
  enrich: (object) => object.enrichments.length > 0,
  webhook: (object) => object.transport !== undefined,
};

/** The rights `object`'s capture needs, of those `lacking`. */
function neededOf(object: CaptureObject, lacking: Right[]): Right[] {
  return lacking.filter((right) => NEEDS[right.for](object, right));
}

/** What becomes of the rows a capture takes without `missing`. */
function consequence(object: CaptureObject, missing: Right[]): string {
  // Without these the fallback to nudge.failed_events is refused too.
  if (missing.some((r) => r.for === 'all'))
    return 'its rows are lost (nudge.failed_events refuses them too; only a WARNING in the server log says so)';
  const typed = missing.filter((r) => r.for === 'rows');
  if (object.rows && typed.length === missing.length)
    return 'its rows are captured as JSON into nudge.event_log instead, at the cost typed rows save';
  if (object.rows && typed.length === 0)
    return 'rows its typed copy cannot take (a column dropped since the deploy) go to nudge.failed_events instead of nudge.event_log';
  return 'its rows go to nudge.failed_events instead';
}

/**
 * What a function that will run as the deploying role lacks and that role
 * cannot grant itself (another role owns the objects): a warning with the
 * GRANTs to run as their owner. `runs` says which function and how it comes
 * to run as that role.
 */
function notGrantable(
  object: CaptureObject,
  rights: OwnerRights,
  runs: string,
): { warning: NonNullable<PlanItem['warning']> } | undefined {
  const me = rights.currentUser;
  const missing = neededOf(object, rights.lacking[me] ?? []);
  const theirs = missing.filter((r) => !r.mine);
  if (!theirs.length) return undefined;
  return {
    warning: {
      label: 'owner',
      text: `${runs} role ${me} (SECURITY DEFINER), which lacks ${missing.map((r) => r.what).join(', ')}: ${consequence(object, missing)}; deploy cannot grant ${theirs.map((r) => r.what).join(', ')} (role ${me} does not own them): as their owner, run ${theirs.map((r) => r.grant.replace('CURRENT_USER', ident(me))).join('; ')}`,
    },
  };
}

/**
 * A capture function deploy makes: it runs as the deploying role, so what
 * that role lacks and cannot grant itself (rightsItem grants back only what
 * it owns) is a warning on the item that makes it.
 */
export function newFunctionWarning(
  object: CaptureObject,
  rights: OwnerRights | undefined,
): Pick<PlanItem, 'warning'> {
  if (!rights) return {};
  return notGrantable(object, rights, `function nudge.${object.functionName}() will run as`) ?? {};
}

/**
 * A deployed capture function whose owner cannot do what its capture needs:
 * drift, with the statement giving it to the deploying role — none when that
 * role owns it already (rightsItem grants it what it lacks). A role that may
 * not take it (neither a superuser nor a member of the owner) gets a warning
 * instead, with the statement to run as one: deploy cannot repair it. What
 * the deploying role itself lacks and cannot grant is a warning too, whether
 * it owns the function or takes it.
 */
export function ownerDrift(
  object: CaptureObject,
  rights: OwnerRights | undefined,
): Pick<PlanItem, 'drift' | 'warning'> & { sql: string[] } {
  const owner = rights?.owners[object.functionName];
  if (!rights || !owner) return { sql: [] };
  const missing = neededOf(object, rights.lacking[owner] ?? []);
  if (!missing.length) return { sql: [] };
  const said = `function nudge.${object.functionName}() runs as role ${owner} (SECURITY DEFINER), which lacks ${missing.map((r) => r.what).join(', ')}: ${consequence(object, missing)}`;
  const me = rights.currentUser;
  if (owner === me) {
    // rightsItem grants back what it owns; what others own, they must grant.
    const cannot = notGrantable(object, rights, `function nudge.${object.functionName}() runs as`);
    return cannot ? { ...cannot, sql: [] } : { drift: [said], sql: [] };
  }
  const give = `ALTER FUNCTION ${ident('nudge', object.functionName)}() OWNER TO ${ident(me)}`;
  if (!rights.takeable.includes(owner))
    return {
      warning: {
        label: 'owner',
        text: `${said}; deploy cannot give it back (role ${me} is not a member of ${owner}): as a superuser or as ${owner}, run ${give}`,
      },
      sql: [],
    };
  // Given to the deploying role, it runs as that role: what it lacks and cannot grant is said.
  const after = notGrantable(
    object,
    rights,
    `once given back, function nudge.${object.functionName}() runs as`,
  );
  return {
    drift: [`${said}; deploy gives it to ${me}`],
    ...(after ?? {}),
    sql: [`ALTER FUNCTION ${ident('nudge', object.functionName)}() OWNER TO CURRENT_USER`],
  };
}

/**
 * The deploying role's own rights on Nudge's objects that the desired
 * captures need and it revoked from itself (it owns them, so it can grant
 * them back): one item, before the captures, since every function deploy
 * makes or takes back runs as that role. A role that owns none of them (one
 * that only plans) is never told to grant itself anything.
 */
export function rightsItem(desired: CaptureObject[], rights: OwnerRights | undefined): PlanItem[] {
  if (!rights || !desired.length) return [];
  const lacking = (rights.lacking[rights.currentUser] ?? []).filter((right) => right.mine);
  const needed = lacking.filter((right) =>
    desired.some((object) => neededOf(object, [right]).length > 0),
  );
  if (!needed.length) return [];
  return [
    {
      action: 'replace',
      kind: 'privileges',
      subject: 'nudge',
      detail: `grant ${rights.currentUser} back what the capture functions, which run as it, need`,
      drift: needed.map((r) => `role ${rights.currentUser} lacks ${r.what} (revoked by hand)`),
      sql: needed.map((r) => r.grant),
    },
  ];
}
