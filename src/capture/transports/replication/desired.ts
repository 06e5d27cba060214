// capture: replication's part of desiredCaptures: the same capture objects
// as for triggers (columns, who uses them), and the publications, identities
// and slot that replace the triggers. Enrichment runs inside a trigger, in
// the writing transaction; a replication stream has no such moment, so a
// feature that enriches is refused here, by name (docs/replication.md).
import type { LoadedConfig } from '../../../config/load.js';
import { NudgeError, throwIfAny } from '../../../errors.js';
import type { Feature } from '../../../features/load.js';
import type { Sql } from '../../../source/connect.js';
import { formatTableName } from '../../../source/names.js';
import type { ExcludedColumns } from '../../columns.js';
import { buildCaptureObjects, type CaptureNeed, captureKey } from '../../triggers.js';
import type { DesiredCaptures } from '../port.js';
import { type RowFilter, replicationDesired, withReplication } from './publication.js';

/** Why a feature that enriches cannot be captured by replication, and what to do (refuseEnrich says it at the feature's enrich: key). */
export const ENRICH_UNDER_REPLICATION =
  'enrich runs inside a capture trigger, in the writing transaction, and capture: replication has no trigger';
export const ENRICH_INSTEAD =
  'remove enrich: from this feature (and the enrichment.* it reads); to read the joined table, sync it as contact attributes (connectors.supabase.sync.tables and table_mapping, with sync.realtime: true to keep them current between syncs) and read contact.<attribute>; or set capture: outbox in nudge.yaml (the whole project is then captured by triggers)';

export async function replicationCaptures(
  project: LoadedConfig,
  sql: Sql,
  needs: CaptureNeed[],
): Promise<DesiredCaptures> {
  const [server] = await sql<{ version: number }[]>`
    select current_setting('server_version_num')::int as version`;
  return replicationObjects(needs, {
    slot: project.config.capture.replication.slot,
    serverVersion: server!.version,
    exclude: project.config.capture.exclude_columns,
  });
}

/**
 * capture: replication has no trigger to run enrich: each feature that
 * enriches is refused at its enrich: key, with what can be done instead.
 */
export function refuseEnrich(features: Feature[], needs: CaptureNeed[]): void {
  const enriching = new Set(needs.filter((need) => need.enrichments?.length).map((n) => n.by));
  throwIfAny(
    features
      .filter((feature) => enriching.has(feature.name))
      .map((feature) =>
        feature.source.error(['enrich'], ENRICH_UNDER_REPLICATION, {
          key: true,
          hint: ENRICH_INSTEAD,
        }),
      ),
  );
}

/** The capture objects of `needs` with what replaces their triggers. Pure. */
export function replicationObjects(
  needs: CaptureNeed[],
  options: { slot: string; serverVersion: number; exclude?: ExcludedColumns },
): DesiredCaptures {
  const enriching = [...new Set(needs.filter((n) => n.enrichments?.length).map((n) => n.by))];
  if (enriching.length) {
    throw new NudgeError(
      `capture: replication cannot enrich at capture time, and ${enriching.join(', ')} ${enriching.length === 1 ? 'uses' : 'use'} enrich: ${ENRICH_UNDER_REPLICATION}`,
      ENRICH_INSTEAD,
    );
  }
  refuseKeylessPartitions(needs);
  const objects = buildCaptureObjects(needs, options.exclude ? { exclude: options.exclude } : {});
  return withReplication(
    objects,
    replicationDesired(options.slot, objects, insertFilters(needs), options.serverVersion),
  );
}

/**
 * A partitioned table is published with its partitions, and a partition's
 * replica identity is its own. Deploy makes each partition FULL
 * (identity.ts), but one made or attached after it is DEFAULT until the next
 * deploy, and DEFAULT without a primary key is no identity: PostgreSQL would
 * refuse every UPDATE and DELETE on that partition once published. So
 * capturing the updates or deletes of a partitioned table without a primary
 * key is refused, with what can be done instead. These are the needs refused.
 */
function keylessPartitions(needs: CaptureNeed[]): CaptureNeed[] {
  return needs.filter(
    (need) => need.partitioned && need.operation !== 'insert' && !need.primaryKey?.length,
  );
}

/** What is refused, of one table: `named` says which features ask for it (when no file is pointed at). */
function keylessProblem(needs: CaptureNeed[], named = false): { message: string; hint: string } {
  const table = formatTableName(needs[0]!.table);
  const operations = [...new Set(needs.map((need) => `${need.operation}s`))].join(' and ');
  const by = named ? ` (${[...new Set(needs.map((need) => need.by))].join(', ')})` : '';
  return {
    message: `capture: replication cannot capture the ${operations} of partitioned table ${table}${by}: it has no primary key, so a partition made after a deploy has no replica identity until the next one, and PostgreSQL would refuse every UPDATE and DELETE on it once published`,
    hint: `add a primary key to ${table}, or set capture: outbox in nudge.yaml`,
  };
}

/** refuseKeylessPartitions where the features are known: each at its trigger: key. */
export function refuseKeylessPartitionFeatures(features: Feature[], needs: CaptureNeed[]): void {
  const keyless = keylessPartitions(needs);
  throwIfAny(
    features.flatMap((feature) => {
      const own = keyless.filter((need) => need.by === feature.name);
      if (own.length === 0) return [];
      const { message, hint } = keylessProblem(own);
      return [feature.source.error(['trigger'], message, { key: true, hint })];
    }),
  );
}

/** The same refusal without the features' files (a plan made from needs alone), by table. */
function refuseKeylessPartitions(needs: CaptureNeed[]): void {
  const keyless = keylessPartitions(needs);
  if (keyless.length === 0) return;
  const table = formatTableName(keyless[0]!.table);
  const { message, hint } = keylessProblem(
    keyless.filter((need) => formatTableName(need.table) === table),
    true,
  );
  throw new NudgeError(message, hint);
}

/** Each insert capture's row filter, when every need of it has one (else it takes every row). */
function insertFilters(needs: CaptureNeed[]): Map<string, RowFilter> {
  const groups = new Map<string, CaptureNeed[]>();
  for (const need of needs) {
    if (need.operation !== 'insert') continue;
    const key = captureKey(need.table, need.operation);
    groups.set(key, [...(groups.get(key) ?? []), need]);
  }
  const filters = new Map<string, RowFilter>();
  for (const group of groups.values()) {
    if (!group.every((need) => need.filter)) continue;
    const { table } = group[0]!;
    filters.set(JSON.stringify([table.schema, table.table]), (row) =>
      group.map((need) => `(${need.filter!(row)})`).join(' OR '),
    );
  }
  return filters;
}
