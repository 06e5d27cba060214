// The plan's items for capture: replication (objects.ts hands them to the plan):
// replica identities FULL, publications, identities DEFAULT again (in that
// order: identity.ts), and the slot, with drift as for triggers — a
// publication changed or dropped by hand, a slot dropped by hand (whatever
// was written meanwhile was not captured). Pure.
import { NudgeError } from '../../../errors.js';
import type { PlanItem } from '../../plan.js';
import { identityPlan, sameTables } from './identity.js';
import { ownerRefusal } from './ownership.js';
import {
  createPublicationSql,
  describeTable,
  dropPublicationSql,
  markPublicationSql,
  type PublishedTable,
  type ReplicationDesired,
} from './publication.js';
import { createSlotSql, dropSlotSql } from './slot.js';
import type { ReplicationState } from './state.js';

export function replicationItems(
  desired: ReplicationDesired | undefined,
  state: ReplicationState,
): PlanItem[] {
  const items: PlanItem[] = [];
  const version = state.serverVersion;
  const deployedSlots = new Set(
    state.publications.flatMap((p) => (p.marker ? [p.marker.slot] : [])),
  );
  const slot = desired && state.slots.find((s) => s.name === desired.slot);
  if (desired && slot && slot.database !== state.database) {
    throw new NudgeError(
      `replication slot "${desired.slot}" belongs to database ${slot.database ?? '(none: a physical slot)'}, not ${state.database}`,
      'set capture.replication.slot to another name in nudge.yaml',
    );
  }
  const identities = identityPlan(
    desired?.fullIdentity ?? [],
    state.identities,
    state.madeFull,
    state.partitions,
    state.owners,
  );
  items.push(...identities.full);
  for (const spec of desired?.publications ?? []) {
    const deployed = state.publications.find((p) => p.name === spec.name);
    const kept = (t: PublishedTable) =>
      desired!.captures.find(
        (c) =>
          c.operation === spec.operation &&
          c.table.schema === t.table.schema &&
          c.table.table === t.table.table,
      )?.columns;
    const tables = spec.tables.length
      ? spec.tables.map((t) => describeTable(t, version, kept(t))).join(', ')
      : 'no tables';
    const detail = `publish ${spec.operation} · ${tables}`;
    const sql = createPublicationSql(spec, desired!.slot, version, identities.madeFull);
    // Publishing a table needs its owner: the first one the deploying role does not own is said.
    const refused = spec.tables
      .map((t) => ownerRefusal(t.table, { publication: spec.name }, state.owners))
      .find((r) => r.refusal);
    if (!deployed) {
      items.push({
        action: 'create',
        kind: 'publication',
        subject: spec.name,
        detail,
        ...(deployedSlots.has(desired!.slot) ? { drift: ['publication was dropped by hand'] } : {}),
        ...refused,
        sql,
      });
      continue;
    }
    const drift: string[] = [];
    if (!deployed.marker)
      drift.push('a publication of this name exists that Nudge did not make (no marker)');
    else if (![deployed.catalog, deployed.legacyCatalog].includes(deployed.marker.catalog))
      drift.push('publication was changed by hand');
    const changed = deployed.marker !== undefined && deployed.marker.hash !== spec.hash;
    const work = changed || drift.length > 0;
    // Only the marker's list of tables Nudge made FULL differs: rewrite the marker alone.
    const remember =
      !work && !sameTables(deployed.marker?.full ?? [], identities.madeFull)
        ? [markPublicationSql(spec, desired!.slot, version, identities.madeFull)]
        : [];
    items.push({
      action: work || remember.length ? 'replace' : 'unchanged',
      kind: 'publication',
      subject: spec.name,
      detail: `${detail}${changed ? ' · definition changed' : ''}${remember.length ? ' · marker: the tables Nudge made FULL' : ''}`,
      ...(drift.length ? { drift } : {}),
      ...(work ? refused : {}),
      sql: work ? sql : remember,
    });
  }
  const wanted = new Set(desired?.publications.map((p) => p.name));
  for (const deployed of state.publications) {
    if (!deployed.marker || wanted.has(deployed.name)) continue;
    items.push({
      action: 'drop',
      kind: 'publication',
      subject: deployed.name,
      detail: 'orphan: capture is not replication, or its slot was renamed',
      sql: [dropPublicationSql(deployed.name)],
    });
  }
  items.push(...identities.reset);
  if (desired) {
    // A slot cannot be made in a transaction that has written: deploy makes it after the commit.
    const detail = 'logical, pgoutput; made once the deploy transaction commits';
    if (!slot) {
      items.push({
        action: 'create',
        kind: 'slot',
        subject: desired.slot,
        detail,
        ...(deployedSlots.has(desired.slot)
          ? {
              drift: ['slot was dropped by hand: changes written since were not captured'],
              missed: true,
            }
          : {}),
        sql: [createSlotSql(desired.slot)],
      });
    } else if (slot.plugin !== 'pgoutput') {
      items.push({
        action: 'replace',
        kind: 'slot',
        subject: desired.slot,
        detail,
        drift: [`slot uses plugin ${slot.plugin}, not pgoutput`],
        sql: [...dropSlotSql(desired.slot), createSlotSql(desired.slot)],
      });
    } else {
      items.push({
        action: 'unchanged',
        kind: 'slot',
        subject: desired.slot,
        detail: 'logical, pgoutput',
        sql: [],
      });
    }
  }
  for (const name of deployedSlots) {
    if (name === desired?.slot) continue;
    if (!state.slots.some((s) => s.name === name && s.database === state.database)) continue;
    items.push({
      action: 'drop',
      kind: 'slot',
      subject: name,
      detail: 'orphan: no publication of Nudge streams through it any more',
      sql: dropSlotSql(name),
    });
  }
  return items;
}
