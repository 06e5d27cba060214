// A publication's catalog fingerprint (its marker's `catalog`) is the same
// whatever search_path the session that computes it has: a deploy and a plan
// made by sessions with different search paths (a role's own setting, a
// migration runner's) must not see drift where nothing changed.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePlan } from '../../src/capture/plan.js';
import { readCaptureState } from '../../src/capture/state.js';
import { replicationObjects } from '../../src/capture/transports/replication/desired.js';
import type { CaptureNeed } from '../../src/capture/triggers.js';
import { useDatabase } from '../harness/db.js';
import { deployReplication, dropSlotAfterAll, serverVersion, slotFor } from './helpers.js';

const db = useDatabase();
dropSlotAfterAll(db);
const orders = { schema: 'public', table: 'orders' };
const needs: CaptureNeed[] = [
  {
    table: orders,
    operation: 'insert',
    by: 'order-placed',
    columns: [
      { name: 'id', type: 'bigint' },
      { name: 'status', type: 'text' },
    ],
    primaryKey: ['id'],
    reads: { columns: ['status'] },
  },
];
let other: postgres.Sql;

beforeAll(async () => {
  await db.sql`create table public.orders (id bigserial primary key, status text)`;
  other = postgres(db.url, {
    max: 1,
    onnotice: () => {},
    connection: { search_path: 'pg_catalog' },
  });
});

afterAll(async () => {
  await other?.end();
});

describe('a publication deployed by one session', () => {
  it('shows no drift to a session with another search_path', async () => {
    await deployReplication(db, needs);
    const desired = replicationObjects(needs, {
      slot: slotFor(db),
      serverVersion: await serverVersion(db.sql),
    });
    const plan = makePlan(desired, await readCaptureState(other));
    expect(plan.items.flatMap((i) => i.drift ?? [])).toEqual([]);
    expect(plan.hasChanges).toBe(false);
  });
});
