// nudge teardown under capture: replication, as a user runs it: it lists and
// removes the publications and the slot, sets back the replica identity
// Nudge changed, and still does so when the nudge schema is already gone.
import { describe, expect, it } from 'vitest';
import { useDatabase } from '../harness/db.js';
import { ordersFeature, slotFor, useOrdersProject } from './helpers.js';

const db = useDatabase();
const { nudge } = useOrdersProject(db, ordersFeature('update'));

const identity = async () =>
  (
    await db.sql<{ identity: string }[]>`
      select relreplident as identity from pg_class where oid = 'public.orders'::regclass`
  )[0]!.identity;

describe('nudge teardown with capture: replication', () => {
  it('removes the publications and the slot, and gives the table its identity back', async () => {
    expect(await identity()).toBe('f');
    // The nudge schema gone already (dropped by hand): the rest is still Nudge's to remove.
    await db.sql`drop schema if exists nudge cascade`;
    // A change no engine has read: teardown names it and needs --discard-unread.
    await db.sql`insert into public.orders (status) values ('new')`;
    await db.sql`update public.orders set status = 'paid'`;
    const refused = await nudge(['teardown', '--yes']);
    expect(refused.code).toBe(1);
    expect(refused.out).toContain('1 change not yet read by an engine');
    const result = await nudge(['teardown', '--yes', '--discard-unread']);
    expect(result.code).toBe(0);
    expect(result.out).toContain(
      `! --discard-unread: what slot ${slotFor(db)} holds unread will be lost`,
    );
    expect(result.out).toContain(`replication slot ${slotFor(db)}`);
    expect(result.out).toContain('REPLICA IDENTITY FULL on public.orders (set back to DEFAULT)');
    // No trigger was installed, so none is said to be removed.
    expect(result.out).toMatch(/Removed (1 publication|\d+ publications) and slot /);
    expect(result.out).not.toContain('trigger(s)');
    expect(result.out).toContain('Replica identity DEFAULT again on public.orders.');
    // The engine store is not capture's: it stays, and the way to remove it is said.
    expect(result.out).toContain('The engine store stays (schemas nudge_engine');
    expect(result.out).toContain('DROP SCHEMA nudge_engine');
    expect(await identity()).toBe('d');
    const [left] = await db.sql<{ publications: number; slots: number }[]>`
      select (select count(*)::int from pg_publication where pubname <> 'supabase_realtime') as publications,
             (select count(*)::int from pg_replication_slots where slot_name = ${slotFor(db)}) as slots`;
    expect(left).toEqual({ publications: 0, slots: 0 });
    expect((await nudge(['teardown', '--yes'])).out).toContain('Nothing to remove');
  });
});
