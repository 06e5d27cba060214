// capture: replication's own objects as plan, deploy and teardown see them
// through the port (port.ts TransportObjects): its part of the desired
// captures and of the deployed state, its plan items (plan.ts), the slot run
// outside the deploy transaction after its publications commit (slot.ts),
// the unread changes a dropped slot would lose (unread.ts), and teardown's.

import { formatTableName } from '../../../source/names.js';
import { plural } from '../../../words.js';
import type { TransportObjects } from '../port.js';
import { replicationItems } from './plan.js';
import { DEPLOY_MESSAGE, type ReplicationDesired } from './publication.js';
import { applySlotStatements, dropReplication, nudgeReplication } from './slot.js';
import { type ReplicationState, readReplicationState } from './state.js';
import { describeUnread, holdsUnread, noteUnread, slotUnread, unreadLoss } from './unread.js';

declare module '../port.js' {
  interface TransportDesired {
    /** The publications, identities and slot that replace the triggers (publication.ts). */
    replication: ReplicationDesired;
  }
  interface TransportState {
    /** Publications, slots and replica identities. */
    replication: ReplicationState;
  }
}

/** The item kinds deploy commits before it makes the slot, in this order (identity.ts: FULL before publishing). */
export const REPLICATION_FIRST = ['replica identity', 'publication'] as const;

export const replicationObjects: TransportObjects<ReplicationDesired, ReplicationState> = {
  read: readReplicationState,
  plan: replicationItems,
  kinds: REPLICATION_FIRST,
  // A slot cannot be made in a transaction that has written.
  outside: ['slot'],
  commitFirst: true,
  outsideNote: 'Replication slots cannot be made or dropped in a migration; run after it:',
  // In the stream at the publications' commit and at the record's: what
  // follows is cut as the new features say, and stored under the new id.
  announce: (deployment) =>
    `SELECT pg_logical_emit_message(true, '${DEPLOY_MESSAGE}', ${deployment ?? "''"})`,
  runOutside: applySlotStatements,
  async losses(sql, plan, options) {
    return unreadLoss(await noteUnread(sql, plan, options));
  },
  teardown: {
    async find(sql) {
      const found = await nudgeReplication(sql);
      const lines = found.publications.map((name) => `publication ${name}`);
      const unread = [];
      for (const name of found.slots) {
        const held = await slotUnread(sql, name);
        lines.push(
          `replication slot ${name} (the WAL it holds back is freed)${held ? `: ${describeUnread(held)}` : ''}`,
        );
        if (held && holdsUnread(held)) unread.push(held);
      }
      for (const table of found.identities)
        lines.push(`REPLICA IDENTITY FULL on ${formatTableName(table)} (set back to DEFAULT)`);
      const loss = unreadLoss(unread);
      return { lines, ...(loss ? { loss } : {}) };
    },
    async remove(sql) {
      const removed = await dropReplication(sql);
      return {
        removed: [
          ...(removed.publications.length
            ? [plural(removed.publications.length, 'publication')]
            : []),
          ...removed.slots.map((name) => `slot ${name}`),
        ],
        ...(removed.identities.length
          ? { note: `Replica identity DEFAULT again on ${removed.identities.join(', ')}.` }
          : {}),
        objects: removed,
      };
    },
  },
  describe: (desired) => `replication slot ${desired.slot}`,
};
