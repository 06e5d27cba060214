// The plan: what `nudge deploy` would change, computed by comparing the
// capture objects features need with what the database has. Like terraform:
// + create, ~ replace, - drop (orphan), = unchanged, and drift — a Nudge object
// changed or dropped by hand — which deploy repairs. Pure: no database access.
// A trigger-less transport's own objects (publications, a slot) are planned
// by the transport itself (transports/port.ts TransportObjects), with item
// kinds of its own.

import { ident, literal } from '../db/quote.js';
import { formatTableName, type TableName } from '../source/names.js';
import type { CaptureColumns } from './columns.js';
import { featureItems } from './features-deployed.js';
import { newFunctionWarning, ownerDrift, rightsItem } from './owner-rights.js';
import {
  lockdownSql,
  migrationSql,
  migrations,
  REQUIRED_FUNCTIONS,
  type SchemaFunction,
  schemaFunctions,
} from './schema.js';
import { schemaTablesItems } from './schema-tables.js';
import type { CaptureState, DeployedCapture, DeployedSchemaFunction } from './state.js';
import { deployingPart, desiredPart, objectsParts, statePart } from './transports/index.js';
import type { DesiredCaptures } from './transports/port.js';
import {
  type CaptureObject,
  captureKey,
  createCaptureSql,
  dropCaptureSql,
  dropRowsTableSql,
  enrichmentRowSql,
  FUNCTION_SETTINGS,
  metadataRepair,
  rowsTableChanges,
  transitionTables,
} from './triggers.js';

export type Action = 'create' | 'replace' | 'drop' | 'unchanged';

/** Each action's mark, as plan prints it and logs name an item. */
export const SYMBOLS: Record<Action, string> = {
  create: '+',
  replace: '~',
  drop: '-',
  unchanged: '=',
};

/**
 * One change of the plan. Transports add fields of their own by declaration
 * merging (replication: `unread`, in transports/replication/unread.ts).
 */
export interface PlanItem {
  action: Action;
  /** `schema`, `privileges`, `capture`, `enrichment`, `feature list`, or a transport's own (replication: `publication`, `replica identity`, `slot`). */
  kind: string;
  /** What the item is about, e.g. `public.orders insert`. */
  subject: string;
  detail?: string;
  /** What was changed by hand, when the item repairs drift. */
  drift?: string[];
  /** Changes written while it was gone were not captured (a slot dropped by hand): the plan names nudge backfill. */
  missed?: boolean;
  /** A capture's columns: what its trigger copies, and what it leaves and why. */
  columns?: CaptureColumns;
  /** Nothing to deploy yet: an old outbox table the engine is still emptying. */
  waiting?: boolean;
  /** A typed capture's rows table (nudge.<name>), made with its trigger when the item creates it. */
  createsRowsTable?: string;
  /** The feature list's item: each feature added, changed or removed (`greet changed`). */
  changes?: string[];
  /** A capture's (table, operation), as captureKey writes it: which features use it is the desired object's usedBy. */
  key?: string;
  /** Why a deployed capture's definition changes (whyChanged): `definition changed; since the deployment, greet changed`. */
  why?: string;
  /** What applying the item would lose, said under it (`! unread: dropping the slot loses them; …`). */
  warning?: { label: string; text: string };
  /**
   * What deploy cannot do (replication: a table the deploying role does not
   * own): the warning says it in the plan, and deploy refuses the plan
   * before it changes anything rather than stop halfway.
   */
  refusal?: {
    message: string;
    hint: string;
    /** The table whose owner it needs, and who owns it (doctor words it its own way). */
    owner?: { table: TableName; owner: string; of?: TableName };
  };
  /** The same for a script (`deploy --sql`, export), said above the item's first statement; else the warning is. */
  scriptNote?: string;
  /**
   * The same for the dashboard (/v1/plan's `unread`), as its transport's
   * losses noted it (replication: the slot and what it holds).
   */
  loss?: object;
  sql: string[];
}

/** What a waiting old outbox table means for the user. */
export const ROWS_WAITING =
  'the engine processes its rows, so their events arrive; deploy again once it is empty to drop it';

export interface Plan {
  items: PlanItem[];
  /** The objects the deployment will leave in place, recorded with it. */
  desired: DesiredCaptures;
  counts: Record<Action, number>;
  driftCount: number;
  hasChanges: boolean;
}

export function makePlan(desired: DesiredCaptures, state: CaptureState): Plan {
  // A trigger-less transport (capture: replication) deploys no trigger.
  const deploying = deployingPart(desired);
  const triggers = deploying ? [] : desired;
  const orphan = deploying
    ? `orphan: capture is ${deploying.name} now (no triggers)`
    : 'orphan: no active feature uses it';
  const items: PlanItem[] = [
    ...schemaItems(state),
    ...rightsItem(triggers, state.rights),
    ...captureItems(triggers, state, orphan, desired.features),
  ];
  items.push(...enrichmentItems(triggers, state));
  // The feature files that differ from the latest deployment's: a change of
  // their own, also where no capture changes (features-deployed.ts).
  items.push(...featureItems(desired.features, state.lastDeployed?.features ?? undefined));
  // Every transport with objects of its own plans them, wanted or not: a
  // switch away from one drops what it deployed.
  for (const part of objectsParts())
    items.push(...part.objects.plan(desiredPart(desired, part), statePart(state, part)));
  const counts: Record<Action, number> = { create: 0, replace: 0, drop: 0, unchanged: 0 };
  for (const item of items) counts[item.action]++;
  return {
    items,
    desired,
    counts,
    driftCount: items.filter((item) => item.drift?.length).length,
    hasChanges: items.some((item) => item.action !== 'unchanged'),
  };
}

function schemaItems(state: CaptureState): PlanItem[] {
  const latest = Math.max(...migrations().map((m) => m.version));
  const { schema } = state;
  if (!schema.exists || schema.applied === 0) {
    return [
      {
        action: 'create',
        kind: 'schema',
        subject: 'nudge',
        detail:
          'outbox event_log, failed_events, enrichment_map, deployments, webhook_deliveries; closed to anon and authenticated',
        sql: [...migrationSql(0, false), lockdownSql()],
      },
    ];
  }
  const items: PlanItem[] = [];
  // The schema's own functions are compared once it is up to date: an older
  // one is migrated anyway, and may predate them.
  const edited = schema.applied === latest ? functionDrift(state.schemaFunctions) : [];
  if (schema.applied < latest || schema.missing.length > 0 || edited.length > 0) {
    const drift = [
      ...schema.missing.map((m) => `${m} was dropped by hand`),
      ...edited.flatMap((f) => f.drift),
    ];
    items.push({
      action: 'replace',
      kind: 'schema',
      subject: 'nudge',
      detail:
        schema.applied < latest
          ? `migrate ${schema.applied} → ${latest}`
          : schema.missing.length > 0
            ? 'recreate missing objects'
            : restoreDetail(edited),
      ...(drift.length ? { drift } : {}),
      // Every migration again (each is idempotent): CREATE OR REPLACE
      // FUNCTION restores a body and its attributes.
      sql: [
        ...migrationSql(schema.applied, schema.missing.length > 0 || edited.length > 0),
        lockdownSql(),
      ],
    });
  }
  if (items.length === 0) {
    items.push({
      action: 'unchanged',
      kind: 'schema',
      subject: 'nudge',
      detail: `migration ${latest}`,
      sql: [],
    });
  }
  if (schema.exposed.length > 0) {
    items.push({
      action: 'replace',
      kind: 'privileges',
      subject: 'nudge',
      detail: 'revoke from PUBLIC, anon and authenticated',
      drift: schema.exposed.map((grant) => `granted by hand: ${grant}`),
      sql: [lockdownSql()],
    });
  }
  // Compared once the schema is this release's, as its functions are.
  if (schema.applied === latest) items.push(...schemaTablesItems(state.tables, state.rowsTables));
  return items;
}

/**
 * How the schema's own functions (nudge.enrich(), nudge.pending()) differ
 * from what the migrations define, as trigger functions' are compared
 * (driftOf): the body by its hash, SECURITY DEFINER, the SET clauses. One
 * dropped by hand is the schema's `missing` when required, and drift here
 * otherwise. Only the functions that differ, each with what differs.
 */
function functionDrift(
  deployed: DeployedSchemaFunction[],
): { want: SchemaFunction; drift: string[] }[] {
  return schemaFunctions().flatMap((want) => {
    const name = `function nudge.${want.name}()`;
    const have = deployed.find((f) => f.name === want.name && f.args === want.args);
    const drift: string[] = [];
    if (!have) {
      if (!REQUIRED_FUNCTIONS.includes(want.name)) drift.push(`${name} was dropped by hand`);
    } else {
      if (have.actualHash !== want.hash) drift.push(`${name} was edited by hand`);
      if (have.definer !== want.definer)
        drift.push(`${name} was made SECURITY ${have.definer ? 'DEFINER' : 'INVOKER'} by hand`);
      if (have.settings.join('\n') !== want.settings.join('\n'))
        drift.push(`${name} settings were changed by hand`);
    }
    return drift.length ? [{ want, drift }] : [];
  });
}

/** What deploy does about them: `restore nudge.enrich() as migration 001 defines it`. */
function restoreDetail(edited: { want: SchemaFunction }[]): string {
  const names = edited.map(({ want }) => `nudge.${want.name}()`).join(', ');
  const [only, more] = edited;
  return only && !more
    ? `restore ${names} as migration ${String(only.want.version).padStart(3, '0')} defines it`
    : `restore ${names} as their migrations define them`;
}

function subjectOf(object: {
  table: { schema: string; table: string };
  operation: string;
}): string {
  return `${formatTableName(object.table)} ${object.operation}`;
}

/**
 * Why a deployed capture's definition differs, from the deployment that
 * recorded it: the features that came to use it or stopped, and those using
 * it whose files changed (a condition that became part of its row filter,
 * say). Plain "definition changed" when the record says nothing of it (a
 * deployment made before Nudge recorded it, or Nudge's own trigger code).
 */
function whyChanged(
  object: CaptureObject,
  state: CaptureState,
  features: Record<string, string> | undefined,
): string {
  const key = captureKey(object.table, object.operation);
  const recorded = state.lastDeployed?.captures[key];
  const before = state.lastDeployed?.features;
  if (!recorded) return 'definition changed';
  const reasons = [
    ...object.usedBy
      .filter((name) => !recorded.usedBy.includes(name))
      .map((n) => `${n} now uses it`),
    ...recorded.usedBy
      .filter((name) => !object.usedBy.includes(name))
      .map((n) => `${n} no longer does`),
    ...(before && features
      ? object.usedBy
          .filter((name) => recorded.usedBy.includes(name) && before[name] !== features[name])
          .map((name) => `${name} changed`)
      : []),
  ];
  return reasons.length
    ? `definition changed; since the deployment, ${reasons.join(', ')}`
    : 'definition changed';
}

function captureItems(
  desired: CaptureObject[],
  state: CaptureState,
  orphan: string,
  features: Record<string, string> | undefined,
): PlanItem[] {
  const byKey = new Map<string, DeployedCapture>();
  const byName = new Map<string, DeployedCapture>();
  for (const capture of state.captures) {
    byName.set(capture.functionName, capture);
    if (capture.marker) {
      byKey.set(
        captureKey(
          { schema: capture.marker.schema, table: capture.marker.table },
          capture.marker.operation,
        ),
        capture,
      );
    }
  }
  const matched = new Set<DeployedCapture>();
  const items: PlanItem[] = [];

  for (const object of desired) {
    const key = captureKey(object.table, object.operation);
    const deployed = byKey.get(key) ?? byName.get(object.functionName);
    const usedBy = `used by ${object.usedBy.join(', ')}`;
    const via = object.transport ? ` · ${object.transport}` : object.rows ? ' · typed rows' : '';
    if (!deployed) {
      const create = createCaptureSql(object);
      const dropped = state.lastDeployed?.keys.includes(key);
      items.push({
        action: 'create',
        kind: 'capture',
        subject: subjectOf(object),
        key,
        detail: `${object.level} trigger${via} · ${usedBy}`,
        columns: object.columns,
        ...(object.rows ? { createsRowsTable: object.rows.table } : {}),
        ...(dropped ? { drift: ['capture function was dropped by hand'] } : {}),
        // It runs as the deploying role: what that role lacks and cannot grant is said.
        ...newFunctionWarning(object, state.rights),
        sql: create,
      });
      continue;
    }
    matched.add(deployed);
    const drift = driftOf(object, deployed);
    const changed = deployed.marker?.hash !== object.hash;
    // A rows table is named by the shape it holds: a changed definition may
    // want one that is not there yet (made with its trigger); the deployed
    // definition's own one missing was dropped by hand.
    const rowsMissing = object.rows && !state.rowsTables.includes(object.rows.table);
    if (rowsMissing && !changed)
      drift.push('rows table was dropped by hand (rows were captured as JSON meanwhile)');
    // One that is there but altered by hand is made again, whatever else changed.
    const shape = object.rows && state.rowsShapes[object.rows.table];
    const altered = object.rows && shape ? rowsTableChanges(object.rows, shape) : [];
    if (altered.length && object.rows) {
      const held = state.rowsHeld.includes(object.rows.table);
      drift.push(
        `rows table nudge.${object.rows.table} was changed by hand: ${altered.join('; ')}; deploy makes it again (${held ? 'the rows it holds are set aside for the engine, then dropped' : 'it is empty'})`,
      );
    }
    const create = createCaptureSql(object, { remakeRows: altered.length > 0 });
    // Its owner cannot write what it captures: given to the deploying role.
    const owner = ownerDrift(object, state.rights);
    // Triggers calling this function from anywhere else were added by hand.
    const strays = deployed.triggers.filter(
      (t) =>
        t.schema !== object.table.schema ||
        t.table !== object.table.table ||
        t.name !== object.triggerName,
    );
    const remake = changed || drift.length > 0 || strays.length > 0;
    const needsWork = remake || owner.sql.length > 0;
    const why = changed && deployed.marker ? whyChanged(object, state, features) : undefined;
    items.push({
      action: needsWork ? 'replace' : 'unchanged',
      kind: 'capture',
      subject: subjectOf(object),
      key,
      detail: `${object.level} trigger${via} · ${usedBy}${why ? ` · ${why}` : ''}`,
      ...(why ? { why } : {}),
      columns: object.columns,
      ...(rowsMissing && object.rows ? { createsRowsTable: object.rows.table } : {}),
      ...(drift.length + strays.length + (owner.drift?.length ?? 0)
        ? {
            drift: [
              ...drift,
              ...strays.map((t) => `extra trigger ${t.name} on ${formatTableName(t)} calls it`),
              ...(owner.drift ?? []),
            ],
          }
        : {}),
      ...(owner.warning ? { warning: owner.warning } : {}),
      sql: [
        ...(remake
          ? [
              ...strays.map(
                (t) => `DROP TRIGGER IF EXISTS ${ident(t.name)} ON ${ident(t.schema, t.table)}`,
              ),
              ...create,
            ]
          : []),
        ...owner.sql,
      ],
    });
  }

  for (const deployed of state.captures) {
    if (matched.has(deployed)) continue;
    const subject = deployed.marker
      ? subjectOf({ table: deployed.marker, operation: deployed.marker.operation })
      : `function nudge.${deployed.functionName}()`;
    items.push({
      action: 'drop',
      kind: 'capture',
      subject,
      detail: deployed.marker ? orphan : 'not made by Nudge (no marker)',
      sql: dropCaptureSql(deployed),
    });
  }
  // Rows tables no capture writes to any more go once the pump has emptied
  // them. While rows wait there is nothing to deploy: the engine processes
  // them (their events arrive), and the drop becomes a change of the plan
  // once the table is empty (the drop is skipped if a row is there by then).
  // Details say what deploy would do, never that it did: deploy lists the
  // same items before it asks, and when it is refused.
  const wanted = new Set(desired.flatMap((object) => (object.rows ? [object.rows.table] : [])));
  for (const name of state.rowsTables) {
    if (wanted.has(name)) continue;
    const held = state.rowsHeld.includes(name);
    // Its metadata columns dropped or retyped by hand, the pump cannot read
    // it (nor, failing on it, any other) or reads it out of order: given
    // back, so the rows it holds go on.
    const shape = state.rowsShapes[name];
    const repair = held && shape ? metadataRepair(name, shape) : undefined;
    if (repair) {
      items.push({
        action: 'replace',
        kind: 'capture',
        subject: `table nudge.${name}`,
        detail: `old outbox: rows table no capture uses, still holding rows: deploy ${repair.does} so the engine can empty it`,
        drift: repair.drift,
        sql: [repair.sql],
      });
      continue;
    }
    items.push({
      action: held ? 'unchanged' : 'drop',
      kind: 'capture',
      subject: `table nudge.${name}`,
      detail: held
        ? `old outbox: rows table no capture uses, waiting to empty (${ROWS_WAITING})`
        : 'old outbox: rows table no capture uses, empty now: deploy would drop it',
      ...(held ? { waiting: true } : {}),
      sql: held ? [] : [dropRowsTableSql(name)],
    });
  }
  return items;
}

/** pg_trigger.tgenabled values other than 'O' (fires in normal sessions). */
const ENABLE_MODES: Record<string, string> = {
  D: 'trigger was disabled by hand',
  R: 'trigger was set to ENABLE REPLICA by hand (it no longer fires for normal writes)',
  A: 'trigger was set to ENABLE ALWAYS by hand',
};

function driftOf(object: CaptureObject, deployed: DeployedCapture): string[] {
  const drift: string[] = [];
  if (!deployed.marker) drift.push('marker comment was removed by hand');
  else if (deployed.actualHash !== deployed.marker.hash)
    drift.push('function body was edited by hand');
  if (!deployed.securityDefiner)
    drift.push(
      'function was made SECURITY INVOKER by hand (writes by roles without access to schema nudge are not captured)',
    );
  if (deployed.settings.join('\n') !== FUNCTION_SETTINGS.join('\n'))
    drift.push('function settings were changed by hand');
  const trigger = deployed.triggers.find(
    (t) =>
      t.schema === object.table.schema &&
      t.table === object.table.table &&
      t.name === object.triggerName,
  );
  if (!trigger) drift.push('trigger was dropped by hand');
  else {
    if (trigger.enabled !== 'O')
      drift.push(ENABLE_MODES[trigger.enabled] ?? 'trigger mode was changed by hand');
    // As createCaptureSql makes it: AFTER, on every row or statement of its
    // operation, with its transition table. A trigger re-created BEFORE (its
    // transition table is gone), with a WHEN or UPDATE OF, captures less.
    const transition = transitionTables(object);
    if (
      trigger.level !== object.level ||
      trigger.events.join(',') !== object.operation ||
      trigger.timing !== 'after' ||
      trigger.narrowed ||
      trigger.newTable !== transition.newTable ||
      trigger.oldTable !== transition.oldTable
    ) {
      drift.push('trigger was changed by hand');
    }
  }
  return drift;
}

function enrichmentItems(desired: CaptureObject[], state: CaptureState): PlanItem[] {
  const want = new Map<string, string>();
  const wantSql = new Map<string, string>();
  for (const object of desired) {
    for (const enrichment of object.enrichments) {
      const key = JSON.stringify([object.table.schema, object.table.table, enrichment.name]);
      want.set(key, JSON.stringify(enrichment));
      wantSql.set(key, enrichmentRowSql(object.table, enrichment));
    }
  }
  const have = new Map<string, string>();
  for (const { schema, table, ...enrichment } of state.enrichments) {
    have.set(
      JSON.stringify([schema, table, enrichment.name]),
      JSON.stringify(normalize(enrichment)),
    );
  }
  const items: PlanItem[] = [];
  for (const [key, value] of want) {
    const [schema, table, name] = JSON.parse(key) as [string, string, string];
    const subject = `${formatTableName({ schema, table })} → ${name}`;
    const current = have.get(key);
    const deleteRow = `DELETE FROM nudge.enrichment_map WHERE schema_name = ${literal(schema)} AND table_name = ${literal(table)} AND name = ${literal(name)}`;
    if (current === undefined) {
      items.push({ action: 'create', kind: 'enrichment', subject, sql: [wantSql.get(key)!] });
    } else if (current !== JSON.stringify(normalize(JSON.parse(value)))) {
      items.push({
        action: 'replace',
        kind: 'enrichment',
        subject,
        sql: [deleteRow, wantSql.get(key)!],
      });
    } else {
      items.push({ action: 'unchanged', kind: 'enrichment', subject, sql: [] });
    }
  }
  for (const key of have.keys()) {
    if (want.has(key)) continue;
    const [schema, table, name] = JSON.parse(key) as [string, string, string];
    items.push({
      action: 'drop',
      kind: 'enrichment',
      subject: `${formatTableName({ schema, table })} → ${name}`,
      detail: 'orphan: no active feature uses it',
      sql: [
        `DELETE FROM nudge.enrichment_map WHERE schema_name = ${literal(schema)} AND table_name = ${literal(table)} AND name = ${literal(name)}`,
      ],
    });
  }
  return items;
}

/** Enrichments compare by content, with keys in one order. */
function normalize(e: {
  name: string;
  target: { schema: string; table: string };
  targetColumn: string;
  targetType: string;
  sourceField: string;
  columns?: string[];
}) {
  return [
    e.name,
    e.target.schema,
    e.target.table,
    e.targetColumn,
    e.targetType,
    e.sourceField,
    e.columns ?? null,
  ];
}

/**
 * Every statement of the plan's transaction, in the order deploy runs them:
 * the schema, the transports' own objects in each one's order, the
 * triggers. Items of kinds that run outside a transaction are not in it
 * (outsideStatements).
 */
export function planStatements(plan: Plan): string[] {
  const order = [
    'schema',
    'privileges',
    ...objectsParts().flatMap((part) => part.objects.kinds),
    'capture',
    'enrichment',
  ];
  const statements = order.flatMap((kind) =>
    plan.items.filter((item) => item.kind === kind).flatMap((item) => item.sql),
  );
  // Objects created after the lockdown (new functions) must be closed too.
  return plan.hasChanges ? [...statements, lockdownSql()] : statements;
}

/** The statements of the plan's items of these kinds, in plan order. */
export function itemStatements(plan: Plan, kinds: readonly string[]): string[] {
  return plan.items.filter((item) => kinds.includes(item.kind)).flatMap((item) => item.sql);
}
