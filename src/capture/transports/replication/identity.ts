// Replica identities under capture: replication: FULL on the tables captured
// on update or delete, and DEFAULT again once none of them is. Pure: the plan
// passes what state.ts read and gets its items and what to remember.
//
// Nudge sets back only what it changed: a table whose identity was DEFAULT
// when Nudge made it FULL. Those tables are remembered in the publications'
// markers (every publication of the slot holds the same list, so one dropped
// by hand loses nothing); a table the user made FULL, USING INDEX or NOTHING
// is never set back, nor one whose identity was changed by hand since, nor a
// table dropped since.
//
// Partitions. A partitioned table holds no rows: each partition writes its
// own old rows to WAL, by its own replica identity, which FULL on the
// partitioned table does not reach (nor does a partition made or attached
// later inherit it). So every partition of a captured table, at any depth, is
// made FULL too, and remembered like a table: a partition detached since, or
// no longer needed, is set back. A partition added after the deploy is DEFAULT
// until the next one (its old rows carry the key only): the plan names it.
//
// Ordering. PostgreSQL refuses an UPDATE or DELETE on a table published for
// it without a usable identity, and DEFAULT on a table without a primary key
// is none. So FULL is set before a publication publishes the table (the
// plan's items in this order), and DEFAULT after the publication stops: the
// reset items come after the publication items, which is the order deploy's
// first transaction runs them in; teardown drops the publications first
// (slot.ts). Where all of it runs in one transaction (a deploy to another
// transport, an exported migration) the order is invisible to other sessions.
import { ident } from '../../../db/quote.js';
import { formatTableName, type TableName, tableKey } from '../../../source/names.js';
import type { PlanItem } from '../../plan.js';
import { ownerRefusal, type TableOwners } from './ownership.js';
import type { Partition } from './state.js';

/** pg_class.relreplident in words. */
export type Identity = 'default' | 'full' | 'index' | 'nothing';

export interface TableIdentity {
  table: TableName;
  identity: Identity;
}

export interface IdentityPlan {
  /** FULL set (or kept) on the tables captured on update or delete: before the publications. */
  full: PlanItem[];
  /** DEFAULT again where Nudge set FULL and nothing needs it now: after the publications. */
  reset: PlanItem[];
  /** What the publications' markers record after this plan: tables Nudge made FULL from DEFAULT. */
  madeFull: TableName[];
}

const NEEDED =
  'FULL: old rows carry every column, and updates and deletes keep working on a published table';

const neededByPartition = (of: TableName) =>
  `FULL as partition of ${formatTableName(of)}: its old rows follow its own identity, not its table's`;

const SHOWN: Record<Identity, string> = {
  default: 'DEFAULT',
  full: 'FULL',
  index: 'USING INDEX',
  nothing: 'NOTHING',
};

/**
 * `needed`: the tables captured on update or delete (none when capture is not
 * replication). `identities`: the identity of every table that is not DEFAULT,
 * and of every table in `madeFull` that still exists. `madeFull`: what the
 * deployed markers record. `partitions`: every partition of every
 * partitioned table (state.ts). `owners`: the tables the deploying role does
 * not own, whose items deploy refuses (ownership.ts).
 */
export function identityPlan(
  needed: TableName[],
  identities: TableIdentity[],
  madeFull: TableName[],
  partitions: Partition[],
  owners?: TableOwners,
): IdentityPlan {
  const now = new Map(identities.map((t) => [tableKey(t.table), t.identity]));
  const ours = new Set(madeFull.map(tableKey));
  const withPartitions = neededWithPartitions(needed, partitions);
  const wanted = new Set(withPartitions.map((t) => tableKey(t.table)));
  const full: PlanItem[] = [];
  const reset: PlanItem[] = [];
  const remembered: TableName[] = [];
  for (const { table, of } of withPartitions) {
    const key = tableKey(table);
    const identity = now.get(key) ?? 'default';
    const subject = formatTableName(table);
    const needs = of ? neededByPartition(of) : NEEDED;
    if (identity === 'full') {
      if (ours.has(key)) remembered.push(table);
      full.push({
        action: 'unchanged',
        kind: 'replica identity',
        subject,
        detail: ours.has(key)
          ? `${needs} · set by Nudge: DEFAULT again when none is captured`
          : `${needs} · FULL already, not set by Nudge: stays FULL after it`,
        sql: [],
      });
      continue;
    }
    if (identity === 'default') remembered.push(table);
    // A partition's identity set by its owner is enough; a table must be published by deploy too.
    const sql = fullIdentitySql(table);
    full.push({
      action: 'replace',
      kind: 'replica identity',
      subject,
      detail:
        identity === 'default'
          ? `${needs} · DEFAULT again when none is captured`
          : `${needs} · was ${SHOWN[identity]}: stays FULL after Nudge`,
      ...(ours.has(key)
        ? { drift: [`replica identity was set to ${SHOWN[identity]} by hand`] }
        : {}),
      ...ownerRefusal(
        table,
        of ? { identity: 'full', of } : { identity: 'full' },
        owners,
        of && sql,
      ),
      sql: [sql],
    });
  }
  for (const table of sortTables(madeFull)) {
    const key = tableKey(table);
    if (wanted.has(key)) continue;
    const identity = now.get(key);
    const subject = formatTableName(table);
    if (identity === 'full') {
      const sql = defaultIdentitySql(table);
      reset.push({
        action: 'replace',
        kind: 'replica identity',
        subject,
        detail:
          'DEFAULT again: Nudge set FULL for captured updates and deletes; none is captured now',
        ...ownerRefusal(table, { identity: 'default' }, owners, sql),
        sql: [sql],
      });
    } else {
      reset.push({
        action: 'unchanged',
        kind: 'replica identity',
        subject,
        detail: identity
          ? `left ${SHOWN[identity]}: Nudge set FULL, and it was changed by hand since`
          : 'table dropped or renamed since Nudge set FULL: nothing to set back',
        sql: [],
      });
    }
  }
  return { full, reset, madeFull: sortTables(remembered) };
}

/**
 * Each needed table, then its partitions at any depth (`of`: the needed table
 * they belong to), each once: a partition of two needed tables (a partitioned
 * partition captured too) is named under the first.
 */
function neededWithPartitions(
  needed: TableName[],
  partitions: Partition[],
): { table: TableName; of?: TableName }[] {
  const seen = new Set<string>();
  const out: { table: TableName; of?: TableName }[] = [];
  const add = (table: TableName, of?: TableName) => {
    const key = tableKey(table);
    if (seen.has(key)) return;
    seen.add(key);
    out.push(of ? { table, of } : { table });
  };
  for (const table of needed) add(table);
  for (const table of needed) {
    const key = tableKey(table);
    for (const partition of partitions)
      if (tableKey(partition.of) === key) add(partition.table, table);
  }
  return out;
}

/**
 * The tables of `madeFull` whose identity is FULL still, in marker order: what
 * teardown sets back to DEFAULT. One changed by hand since, or dropped, is
 * left alone. `identities` as for identityPlan.
 */
export function stillFull(identities: TableIdentity[], madeFull: TableName[]): TableName[] {
  const full = new Set(
    identities.filter((t) => t.identity === 'full').map((t) => tableKey(t.table)),
  );
  return sortTables(madeFull).filter((table) => full.has(tableKey(table)));
}

/** Tables in a stable order, as markers store them (so equal lists compare equal). */
export function sortTables(tables: TableName[]): TableName[] {
  const unique = new Map(tables.map((t) => [tableKey(t), { schema: t.schema, table: t.table }]));
  return [...unique.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, t]) => t);
}

export function sameTables(a: TableName[], b: TableName[]): boolean {
  const x = sortTables(a).map(tableKey);
  const y = sortTables(b).map(tableKey);
  return x.length === y.length && x.every((key, i) => key === y[i]);
}

export function fullIdentitySql(table: TableName): string {
  return `ALTER TABLE ${ident(table.schema, table.table)} REPLICA IDENTITY FULL`;
}

export function defaultIdentitySql(table: TableName): string {
  return `ALTER TABLE ${ident(table.schema, table.table)} REPLICA IDENTITY DEFAULT`;
}

/** pg_class.relreplident → Identity. */
export function identityOf(relreplident: string): Identity {
  return relreplident === 'f'
    ? 'full'
    : relreplident === 'i'
      ? 'index'
      : relreplident === 'n'
        ? 'nothing'
        : 'default';
}
