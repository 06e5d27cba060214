// A slot holding changes no engine has read is never dropped silently: with
// capture switched back to outbox, `nudge plan` says on the slot's drop line
// what it holds, `nudge deploy` and `nudge teardown` refuse without
// --discard-unread, and WAL of other tables alone (no change of a captured
// table waiting) does not count as unread changes.
import type postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { deploy as applyPlan } from '../../src/capture/deploy.js';
import { slotUnread } from '../../src/capture/transports/replication/unread.js';
import { planChange } from '../../src/cli/capture.js';
import { loadConfig } from '../../src/config/load.js';
import { createTestDatabase, useDatabase } from '../harness/db.js';
import {
  ordersFeature,
  slotFor,
  useCapture as switchCapture,
  useOrdersProject,
} from './helpers.js';

const db = useDatabase();
const project = useOrdersProject(
  db,
  ordersFeature('insert'),
  'create table public.noise (id bigserial primary key, note text)',
);
const nudge = project.nudge;

const useCapture = (line: string) => switchCapture(project.cwd(), line);

const slotExists = async () =>
  (await db.sql`select 1 from pg_replication_slots where slot_name = ${slotFor(db)}`).length === 1;

describe('a slot with changes no engine has read', () => {
  it('plan shows them on the drop line; deploy and teardown refuse to drop it', async () => {
    await db.sql`insert into public.orders (status) values ('new'), ('new'), ('paid')`;
    await useCapture('capture: outbox');
    const plan = await nudge(['plan']);
    expect(plan.code).toBe(0);
    const drop = plan.out.split('\n').find((l) => l.includes(`slot ${slotFor(db)}`))!;
    expect(drop).toMatch(/^ {2}- slot /);
    expect(drop).toMatch(
      /3 changes not yet read by an engine \([\d.]+ [kM]?B of WAL not confirmed\)/,
    );
    expect(plan.out).toContain('! unread: dropping the slot loses them');
    const json = JSON.parse((await nudge(['plan', '--json'])).out) as {
      items: { kind: string; action: string; unread?: { changes: number; bytes: number } }[];
    };
    const item = json.items.find((i) => i.kind === 'slot' && i.action === 'drop')!;
    expect(item.unread).toMatchObject({ changes: 3 });
    expect(item.unread!.bytes).toBeGreaterThan(0);

    const deploy = await nudge(['deploy', '--yes']);
    expect(deploy.code).toBe(1);
    expect(deploy.err).toContain(
      `deploy would drop a replication slot that no engine has read to the end; what it holds would be lost: slot ${slotFor(db)} holds 3 changes not yet read`,
    );
    expect(deploy.err).toContain(
      'set `capture: { transport: replication, replication: { slot: ' +
        slotFor(db) +
        " } }` again in nudge.yaml, run `nudge start` until its log says `read the replication slot's backlog`",
    );
    expect(deploy.err).toContain(
      "set your new capture back and run `nudge plan`: the slot's line says `no changes waiting`",
    );
    expect(deploy.err).toContain('`nudge deploy --discard-unread`');
    expect(await slotExists()).toBe(true);

    await useCapture(`capture: { transport: replication, replication: { slot: ${slotFor(db)} } }`);
    const teardown = await nudge(['teardown', '--yes']);
    expect(teardown.code).toBe(1);
    expect(teardown.out).toContain(
      `replication slot ${slotFor(db)} (the WAL it holds back is freed): 3 changes not yet read`,
    );
    expect(teardown.err).toContain('`nudge teardown --discard-unread`');
    // The drain hint names the transport that reads the slot, whatever this nudge.yaml says.
    expect(teardown.err).toContain(
      `with \`capture: { transport: replication, replication: { slot: ${slotFor(db)} } }\` in nudge.yaml, run \`nudge start\``,
    );
    expect(teardown.err).toContain('then run `nudge teardown` again');
    expect(await slotExists()).toBe(true);
  });

  it('counts no change when only other tables were written since the slot was read', async () => {
    await db.sql`select pg_replication_slot_advance(${slotFor(db)}, pg_current_wal_lsn())`;
    await db.sql`insert into public.noise (note) select 'x' from generate_series(1, 500)`;
    await useCapture('capture: outbox');
    const plan = await nudge(['plan']);
    expect(plan.out).toMatch(
      /- slot \S+ +orphan: .* · no changes waiting \([\d.]+ [kM]?B of other WAL not confirmed\)/,
    );
    expect(plan.out).not.toContain('! unread');
  });

  it("says when decoding took longer than it may, and counts inside a caller's transaction", async () => {
    // What bounds a peek is its time: the WAL a slot retains on a shared
    // server is mostly other databases', which decoding skips.
    await db.sql`insert into public.noise (note) select repeat('x', 200) from generate_series(1, 20000)`;
    const slow = await slotUnread(db.sql, slotFor(db), undefined, 1);
    expect(slow).toMatchObject({ changes: null, uncounted: 'decoding it took more than 0.001 s' });
    const inside = await db.sql.begin((tx) =>
      slotUnread(tx as unknown as postgres.Sql, slotFor(db)),
    );
    expect(inside).toMatchObject({ changes: 0 });
    expect(inside!.uncounted).toBeUndefined();
  });

  it('counts them while another database of the server writes more WAL than the peek once allowed', async () => {
    // As on the shared test server, where a slot retained 64 MB of other
    // tests' WAL within seconds and the count came back null.
    await db.sql`insert into public.orders (status) values ('counted')`;
    const other = await createTestDatabase();
    try {
      await other.sql`create table bulk (note text)`;
      await other.sql`insert into bulk select repeat(md5(g::text), 32) from generate_series(1, 80000) g`;
      const unread = await slotUnread(db.sql, slotFor(db));
      expect(unread!.bytes).toBeGreaterThan(64 * 1024 * 1024);
      expect(unread).toMatchObject({ changes: 1 });
    } finally {
      await other.drop();
    }
    // Read: the next test's change is the only one waiting.
    await db.sql`select pg_replication_slot_advance(${slotFor(db)}, pg_current_wal_lsn())`;
  });

  it('deploy --discard-unread drops a slot with unread changes, saying so', async () => {
    await db.sql`insert into public.orders (status) values ('late')`;
    const refused = await nudge(['deploy', '--yes']);
    expect(refused.err).toContain('1 change not yet read');
    // The check inside deploy's lock (the dashboard's deploy has only that one) counts too.
    const loaded = await loadConfig({ cwd: project.cwd(), env: { DATABASE_URL: db.url } });
    const { plan } = await planChange(loaded, db.sql);
    await expect(applyPlan(db.sql, plan.desired)).rejects.toThrow(
      `slot ${slotFor(db)} holds 1 change not yet read`,
    );
    const deploy = await nudge(['deploy', '--yes', '--discard-unread']);
    expect(deploy.code).toBe(0);
    // Said by what it did: a trigger in, the publications and the slot out.
    expect(deploy.out).toMatch(
      /✓ Deployment #\d+: 1 created \(1 trigger \(1 with a rows table\)\), 0 replaced, 4 dropped \(3 publications, 1 slot\)\./,
    );
    expect(deploy.out).toContain('1 change not yet read');
    // Said before it is done, and not as a refusal.
    expect(deploy.out).toContain(
      `! --discard-unread: what slot ${slotFor(db)} holds unread will be lost`,
    );
    expect(deploy.out).not.toContain('refuses');
    expect(await slotExists()).toBe(false);
  });
});
