// What a dropped slot would lose is measured once per decision, and never
// skipped: `nudge export --supabase` refuses a migration whose slot drop
// loses unread changes, as deploy does, unless --discard-unread; deploy's
// check inside its lock measures again when the slot's WAL window moved
// since the plan the user accepted was measured, but not a slot the user
// already accepted to lose;
// and the first step of capture: replication (publications, then the slot)
// drops no slot holding unread changes either.
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deploy as applyPlan } from '../../src/capture/deploy.js';
import type { Plan } from '../../src/capture/plan.js';
import { replicationObjects } from '../../src/capture/transports/replication/desired.js';
import { noteUnread, UnreadSlotError } from '../../src/capture/transports/replication/unread.js';
import { planChange } from '../../src/cli/capture.js';
import { loadConfig } from '../../src/config/load.js';
import { useDatabase } from '../harness/db.js';
import {
  deployReplication,
  ordersFeature,
  serverVersion,
  slotFor,
  useCapture as switchCapture,
  useOrdersProject,
} from './helpers.js';

const db = useDatabase();
const project = useOrdersProject(db, ordersFeature('insert'));
const { nudge, slotExists } = project;

async function planned(): Promise<Plan> {
  const loaded = await loadConfig({ cwd: project.cwd(), env: { DATABASE_URL: db.url } });
  return (await planChange(loaded, db.sql)).plan;
}

const slotDrop = (plan: Plan) =>
  plan.items.find((item) => item.kind === 'slot' && item.action === 'drop');

describe('a slot the plan drops', () => {
  it('export refuses to write a migration that drops it while it holds unread changes', async () => {
    await db.sql`insert into public.orders (status) values ('new'), ('new')`;
    await switchCapture(project.cwd(), 'capture: outbox');
    const exported = await nudge(['export', '--supabase']);
    expect(exported.code).toBe(1);
    expect(exported.err).toContain(
      `export would drop a replication slot that no engine has read to the end; what it holds would be lost: slot ${slotFor(db)} holds 2 changes not yet read`,
    );
    expect(exported.err).toContain(`SELECT pg_drop_replication_slot('${slotFor(db)}');`);
    expect(exported.err).toContain('then export again');
    expect(exported.err).toContain('nudge export --supabase --discard-unread');
    await expect(readdir(path.join(project.cwd(), 'supabase/migrations'))).rejects.toThrow();
    expect(await slotExists()).toBe(true);
  });

  it('export --discard-unread writes it anyway, saying what the slot drop it lists will lose', async () => {
    const exported = await nudge(['export', '--supabase', '--discard-unread']);
    expect(exported.code).toBe(0);
    expect(exported.out).toContain(
      `! --discard-unread: what slot ${slotFor(db)} holds unread will be lost`,
    );
    const dir = path.join(project.cwd(), 'supabase/migrations');
    const files = await readdir(dir);
    expect(files).toHaveLength(1);
    const migration = await readFile(path.join(dir, files[0]!), 'utf8');
    expect(migration).toMatch(/^-- SELECT pg_drop_replication_slot\(slot_name\)/m);
    // Export writes a file: the slot is dropped only when the user runs what it lists.
    expect(await slotExists()).toBe(true);
    await rm(dir, { recursive: true });
  });

  it('export writes the slot drop to run after the migration once nothing is unread', async () => {
    await db.sql`select pg_replication_slot_advance(${slotFor(db)}, pg_current_wal_lsn())`;
    const exported = await nudge(['export', '--supabase']);
    expect(exported.code).toBe(0);
    const dir = path.join(project.cwd(), 'supabase/migrations');
    const files = await readdir(dir);
    expect(files).toHaveLength(1);
    const migration = await readFile(path.join(dir, files[0]!), 'utf8');
    expect(migration).toContain(
      '-- Replication slots cannot be made or dropped in a migration; run after it:',
    );
    expect(migration).toMatch(/^-- SELECT pg_drop_replication_slot\(slot_name\)/m);
  });

  it('is measured again inside deploy’s lock when changes arrived after the accepted plan was measured', async () => {
    const plan = await planned();
    await noteUnread(db.sql, plan);
    expect(slotDrop(plan)!.warning).toBeUndefined();
    await db.sql`insert into public.orders (status) values ('late')`;
    const refused = applyPlan(db.sql, plan.desired, { accepted: plan });
    await expect(refused).rejects.toBeInstanceOf(UnreadSlotError);
    await expect(refused).rejects.toThrow(`slot ${slotFor(db)} holds 1 change not yet read`);
    expect(await slotExists()).toBe(true);
  });

  it('is not measured again when the accepted plan said it is discarded', async () => {
    const plan = await planned();
    await noteUnread(db.sql, plan);
    expect(slotDrop(plan)!.unread).toMatchObject({ changes: 1 });
    // One more change: a second peek would count 2.
    await db.sql`insert into public.orders (status) values ('later')`;
    const result = await applyPlan(db.sql, plan.desired, { discardUnread: true, accepted: plan });
    expect(slotDrop(result.plan)!.unread).toMatchObject({ changes: 1 });
    expect(await slotExists()).toBe(false);
  });

  it('is not dropped with unread changes by the first step of capture: replication either', async () => {
    const needs = [
      { table: { schema: 'public', table: 'orders' }, operation: 'insert' as const, by: 'orders' },
    ];
    await deployReplication(db, needs);
    await db.sql`insert into public.orders (status) values ('new')`;
    const renamed = `${slotFor(db)}_renamed`;
    const desired = replicationObjects(needs, {
      slot: renamed,
      serverVersion: await serverVersion(db.sql),
    });
    await expect(applyPlan(db.sql, desired)).rejects.toThrow(
      `slot ${slotFor(db)} holds 1 change not yet read`,
    );
    expect(await slotExists()).toBe(true);
    expect(await slotExists(renamed)).toBe(false);
  });
});
