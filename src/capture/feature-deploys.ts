// Each feature's deploy state, as the plan sees it: whether the capture it
// needs is in the source database, since which deployment, through which
// trigger or publication, and what the next deploy would change for it. Not
// a second plan: the plan's own items (their action and drift, by capture
// key) are read per feature, through the desired objects' `usedBy`; the
// latest deployment's record (one statement, readLatestDeployment) says
// which features it was made from and since when each has been as it is.
import type postgres from 'postgres';
import { captureText, type FeatureCapture, type FeatureDeploy } from '../client/dashboard.js';
import { isUndefinedTable } from '../db/errors.js';
import type { Feature } from '../features/load.js';
import { formatTableName, type TableName } from '../source/names.js';
import { type Plan, type PlanItem, SYMBOLS } from './plan.js';
import { deployingPart } from './transports/index.js';
import { type CaptureObject, captureKey } from './triggers.js';

/** The latest deployment as recorded in nudge.deployments, and since when each feature it records is as it is. */
export interface LatestDeployment {
  id: number;
  at: Date;
  /** Each feature's fingerprint (features-deployed.ts); null: made before Nudge recorded them. */
  features: Record<string, string> | null;
  /** Each capture it recorded, by key (captureKey), with the features that used it. */
  captures: Record<string, { usedBy: string[] }>;
  /**
   * For each feature it records, the first deployment of the run that ends
   * with this one where the feature's file was as it is in this one: when
   * it was deployed as it runs now.
   */
  since: Record<string, { id: number; at: Date }>;
}

/**
 * The latest deployment in one statement (none before the first, or before
 * the nudge schema). `since` scans the deployments once per feature the
 * latest records, inside that statement.
 */
export async function readLatestDeployment(
  sql: postgres.Sql,
): Promise<LatestDeployment | undefined> {
  try {
    const [row] = await sql<
      {
        id: number;
        at: Date;
        features: Record<string, string> | null;
        captures: Record<string, { usedBy: string[] }>;
        since: Record<string, { id: number; at: number }>;
      }[]
    >`
      select l.id::int as id, l.deployed_at as at, l.summary -> 'features' as features,
             coalesce((select jsonb_object_agg(o ->> 'key',
                                jsonb_build_object('usedBy', coalesce(o -> 'used_by', '[]')))
                         from jsonb_array_elements(l.objects) o), '{}') as captures,
             coalesce((select jsonb_object_agg(f.key, jsonb_build_object(
                                'id', s.id, 'at', extract(epoch from s.deployed_at) * 1000))
                         from jsonb_each_text(coalesce(l.summary -> 'features', '{}')) f
                         cross join lateral (
                           select d.id::int as id, d.deployed_at from nudge.deployments d
                            where d.id <= l.id
                              and d.id > coalesce((
                                    select max(b.id) from nudge.deployments b
                                     where b.id < l.id
                                       and (b.summary -> 'features' ->> f.key) is distinct from f.value), 0)
                            order by d.id limit 1) s), '{}') as since
        from nudge.deployments l order by l.id desc limit 1`;
    if (!row) return undefined;
    return {
      ...row,
      since: Object.fromEntries(
        Object.entries(row.since).map(([name, s]) => [name, { id: s.id, at: new Date(s.at) }]),
      ),
    };
  } catch (error) {
    if (isUndefinedTable(error)) return undefined;
    throw error;
  }
}

/** A capture a feature relies on and the plan's item for it: what the next deploy does to it. */
interface Relied {
  capture: FeatureCapture;
  key: string;
  items: PlanItem[];
}

/** One feature's deploy state, from the plan and the latest deployment's record. Pure. */
export function featureDeploy(
  feature: Feature,
  plan: Plan,
  latest: LatestDeployment | undefined,
): FeatureDeploy {
  const name = feature.name;
  // The server's features are those it read at start (or at the last
  // deploy): a file removed or renamed since is not in the plan.
  if (plan.desired.features && !(name in plan.desired.features))
    return {
      state: 'unknown',
      deployment: null,
      file_changed: false,
      captures: [],
      changes: [],
      reason:
        'the feature files the plan read do not name it now (its file was removed or renamed since the server read it)',
    };
  const relied = plan.desired
    .filter((object) => object.usedBy.includes(name))
    .map((object) => reliedOn(object, plan));
  const keys = new Set(relied.map((r) => r.key));
  const recordedKeys = Object.entries(latest?.captures ?? {})
    .filter(([, capture]) => capture.usedBy.includes(name))
    .map(([key]) => key);
  // Recorded by the latest deployment: its file, or (before Nudge recorded files) a capture it used.
  const recorded = latest?.features ? name in latest.features : recordedKeys.length > 0;
  const since =
    latest && recorded ? (latest.since[name] ?? { id: latest.id, at: latest.at }) : null;
  const deployment = since ? { id: since.id, at: since.at.toISOString() } : null;
  const captures = relied.map((r) => r.capture);
  const before = latest?.features?.[name];
  const now = plan.desired.features?.[name];
  const fileChanged = recorded && before !== undefined && now !== undefined && before !== now;

  if (relied.length === 0 && recordedKeys.length === 0) {
    return {
      state: 'not_needed',
      deployment,
      file_changed: fileChanged,
      captures,
      changes: fileChanged
        ? [
            `its file changed since deployment #${since!.id}: the next deploy records it, so running engines read it again`,
          ]
        : [],
      reason: noCaptureReason(feature),
    };
  }
  if (!recorded) {
    const lines = relied.flatMap(changeLines);
    return {
      state: 'not_deployed',
      deployment: null,
      file_changed: false,
      captures,
      changes: lines.length
        ? lines
        : [
            `its capture is deployed for other features (${captures.map(captureText).join(', ')}); the next deploy records this feature, so running engines run it`,
          ],
      reason: null,
    };
  }
  const changes = [
    ...(fileChanged ? [`its file changed since deployment #${since!.id}`] : []),
    // What the deploy does to its captures for its own sake: one it did not
    // use, one missing or drifted, or one its changed file redefines. A
    // capture redefined for another feature alone leaves it deployed (its
    // `plan` says `replace`).
    ...relied
      .filter(
        (r) =>
          !recordedKeys.includes(r.key) ||
          fileChanged ||
          r.items.some((item) => item.action === 'create' || item.drift?.length),
      )
      .flatMap(changeLines),
    ...recordedKeys
      .filter((key) => !keys.has(key))
      .map((key) => `no longer uses the capture of ${keyText(key)}`),
  ];
  return {
    state: changes.length ? 'changed' : 'deployed',
    deployment,
    file_changed: fileChanged,
    captures,
    changes,
    reason: null,
  };
}

/** The capture of `object` (its trigger, or under capture: replication its publication) and the plan's items for it. */
function reliedOn(object: CaptureObject, plan: Plan): Relied {
  const key = captureKey(object.table, object.operation);
  const table = formatTableName(object.table);
  const replication = deployingPart(plan.desired) ? plan.desired.replication : undefined;
  if (!replication) {
    const items = plan.items.filter((item) => item.kind === 'capture' && item.key === key);
    return {
      key,
      items,
      capture: {
        table,
        operation: object.operation,
        trigger: object.triggerName,
        publication: null,
        plan: actionOf(items),
        drift: items.flatMap((item) => item.drift ?? []),
      },
    };
  }
  // Published by the publication of its operation, with the slot every
  // publication streams through, and a FULL replica identity for what an
  // update or delete reads of the old row.
  const publication = replication.publications.find(
    (p) =>
      p.operation === object.operation && p.tables.some((t) => sameTable(t.table, object.table)),
  );
  const items = plan.items.filter(
    (item) =>
      (item.kind === 'publication' && item.subject === publication?.name) ||
      (item.kind === 'slot' && item.subject === replication.slot && item.action !== 'drop') ||
      (item.kind === 'replica identity' &&
        item.subject === table &&
        object.operation !== 'insert' &&
        item.action !== 'drop'),
  );
  return {
    key,
    items,
    capture: {
      table,
      operation: object.operation,
      trigger: null,
      publication: publication?.name ?? null,
      plan: actionOf(items),
      drift: items.flatMap((item) => item.drift ?? []),
    },
  };
}

function sameTable(a: TableName, b: TableName): boolean {
  return a.schema === b.schema && a.table === b.table;
}

/** What the next deploy does to a capture: the strongest of its items' actions. */
function actionOf(items: PlanItem[]): FeatureCapture['plan'] {
  if (items.some((item) => item.action === 'create')) return 'create';
  if (items.some((item) => item.action !== 'unchanged')) return 'replace';
  return 'unchanged';
}

/**
 * The plan's lines for a capture, as a feature's change:
 * `+ trigger nudge_capture_update on public.orders (update)`,
 * `~ trigger nudge_capture_insert on auth.users (insert): trigger was dropped by hand`.
 */
function changeLines(relied: Relied): string[] {
  const changed = relied.items.filter((item) => item.action !== 'unchanged');
  if (!changed.length) return [];
  const trigger = relied.capture.trigger !== null;
  return changed.map((item) => {
    const what = trigger ? captureText(relied.capture) : `${item.kind} ${item.subject}`;
    const why = item.drift?.length ? item.drift.join('; ') : item.why;
    return `${SYMBOLS[item.action]} ${what}${why ? `: ${why}` : ''}`;
  });
}

/** A capture key in words: `public.carts update`. */
function keyText(key: string): string {
  const [schema, table, operation] = JSON.parse(key) as [string, string, string];
  return `${formatTableName({ schema, table })} ${operation}`;
}

/** Why a feature needs no capture, in words. */
function noCaptureReason(feature: Feature): string {
  if (feature.status === 'draft') return 'a draft does not run, so nothing is captured for it';
  switch (feature.trigger.kind) {
    case 'schedule':
      return `a scheduled feature: the engine queries ${formatTableName(feature.trigger.table)} on its schedule, no trigger is needed`;
    case 'event':
      return `its event ${feature.trigger.event} comes in through the API (POST /v1/events), not from a capture`;
    default:
      return 'nothing it reads is captured from the source database';
  }
}
