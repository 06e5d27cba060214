// What deploy cannot do under capture: replication for want of a table's
// owner. Setting a replica identity and publishing a table both need its
// owner (a member of the owning role, or a superuser), and a partition's
// identity is its own: deploy would stop at PostgreSQL's "must be owner of
// table …". So the plan says it on the item, with the fixes, and deploy
// refuses the plan before it changes anything (deploy.ts). Pure.
import { ident } from '../../../db/quote.js';
import { formatTableName, type TableName, tableKey } from '../../../source/names.js';
import type { PlanItem } from '../../plan.js';

/** The deploying role and the tables it may not act as owner of (state.ts). */
export interface TableOwners {
  role: string;
  notOwned: { table: TableName; owner: string }[];
}

/** What deploy does to the table that needs its owner. */
export type OwnerNeed = { identity: 'full' | 'default'; of?: TableName } | { publication: string };

/**
 * The item's warning and refusal when `owners.role` does not own `table`;
 * else nothing. `byHand`: the item's statement, when its owner running it
 * is enough (an identity; not a publication, which deploy must make).
 */
export function ownerRefusal(
  table: TableName,
  need: OwnerNeed,
  owners: TableOwners | undefined,
  byHand?: string,
): Pick<PlanItem, 'warning' | 'refusal'> {
  const key = tableKey(table);
  const owner = owners?.notOwned.find((t) => tableKey(t.table) === key)?.owner;
  if (!owners || !owner) return {};
  const { role } = owners;
  const name = formatTableName(table);
  const what =
    'publication' in need
      ? `${name} (owner ${owner}): deploy publishes it (publication ${need.publication})`
      : `${need.of ? `partition ${name} of ${formatTableName(need.of)}` : name} (owner ${owner}): deploy sets its replica identity ${need.identity === 'full' ? 'FULL' : 'back to DEFAULT (Nudge set FULL; none is captured now)'}`;
  const message = `role ${role} does not own ${what}, which needs its owner`;
  const fixes = [
    `as a superuser, run ALTER TABLE ${ident(table.schema, table.table)} OWNER TO ${ident(role)}`,
    `or run nudge deploy as ${owner}`,
  ];
  if (byHand) fixes.push(`or, as ${owner}, run ${byHand} (deploy then leaves it)`);
  const hint = fixes.join('; ');
  const needs = { table, owner, ...('of' in need && need.of ? { of: need.of } : {}) };
  return {
    warning: { label: 'owner', text: `${message}; ${hint}` },
    refusal: { message, hint, owner: needs },
  };
}
