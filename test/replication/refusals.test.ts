// Every way of switching away from a slot says what its drop loses, and how
// to go on: `nudge deploy --sql` refuses as deploy does (and with
// --discard-unread writes the loss above the drop in its script, as `nudge
// export --supabase --discard-unread` does in its file); `nudge plan` says
// deploy will refuse; hints with no terminal repeat the flags given; and
// after a loss, `nudge backfill` is named.
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useDatabase } from '../harness/db.js';
import {
  ordersFeature,
  slotFor,
  useCapture as switchCapture,
  useOrdersProject,
} from './helpers.js';

const db = useDatabase();
const project = useOrdersProject(db, ordersFeature('insert'));
const { nudge, slotExists } = project;

/** The note above the slot's drop, then the drop's first statement (`prefix`: export's `-- `). */
const noteAboveDrop = (prefix: string) =>
  new RegExp(
    `^-- ! slot ${slotFor(db)} holds 1 change not yet read by an engine \\([^)]*\\); the drop below loses it\\n${prefix}SELECT pg_terminate_backend\\(active_pid\\) FROM pg_replication_slots WHERE slot_name = '${slotFor(db)}'`,
    'm',
  );

describe('switching away from a slot holding an unread change', () => {
  it('plan says deploy will refuse it, not "run nudge deploy"', async () => {
    await db.sql`insert into public.orders (status) values ('new')`;
    await switchCapture(project.cwd(), 'capture: outbox');
    const planned = await nudge(['plan']);
    expect(planned.code).toBe(0);
    expect(planned.out).toContain(
      'Deploy refuses this plan while the slot holds changes no engine has read: drain it first (`nudge deploy` says how when it refuses), or run `nudge deploy --discard-unread` to lose them.',
    );
    expect(planned.out).not.toContain('Run `nudge deploy` to apply it.');
  });

  it('deploy --sql refuses to print a script that drops it, naming --sql in the way forward', async () => {
    const printed = await nudge(['deploy', '--sql']);
    expect(printed.code).toBe(1);
    expect(printed.err).toContain(
      `deploy would drop a replication slot that no engine has read to the end; what it holds would be lost: slot ${slotFor(db)} holds 1 change not yet read`,
    );
    expect(printed.err).toContain('`nudge deploy --sql --discard-unread` to drop the slot');
    expect(printed.out).not.toContain('pg_drop_replication_slot');
    expect(await slotExists()).toBe(true);
  });

  it('deploy --sql --discard-unread prints it with the loss written above the drop', async () => {
    const printed = await nudge(['deploy', '--sql', '--discard-unread']);
    expect(printed.code).toBe(0);
    expect(printed.err).toContain(
      `! --discard-unread: what slot ${slotFor(db)} holds unread will be lost when the script runs`,
    );
    expect(printed.out).toMatch(noteAboveDrop(''));
    expect(await slotExists()).toBe(true);
  });

  it('export --supabase --discard-unread writes the loss above the slot drop it lists', async () => {
    const exported = await nudge(['export', '--supabase', '--discard-unread']);
    expect(exported.code).toBe(0);
    const dir = path.join(project.cwd(), 'supabase/migrations');
    const files = await readdir(dir);
    expect(files).toHaveLength(1);
    expect(await readFile(path.join(dir, files[0]!), 'utf8')).toMatch(noteAboveDrop('-- '));
    await rm(dir, { recursive: true });
  });

  it('deploy --discard-unread with no terminal says to run it again with --discard-unread --yes', async () => {
    const asked = await nudge(['deploy', '--discard-unread']);
    expect(asked.code).toBe(1);
    expect(asked.err).toContain(
      'hint: review `nudge plan`, then run `nudge deploy --discard-unread --yes`',
    );
    expect(await slotExists()).toBe(true);
  });

  it('deploy --discard-unread --yes drops it and names nudge backfill', async () => {
    const deployed = await nudge(['deploy', '--discard-unread', '--yes']);
    expect(deployed.code, deployed.err).toBe(0);
    expect(deployed.out).toMatch(/✓ Deployment #\d+: .*1 slot\)\./);
    expect(deployed.out).toContain(
      'What was discarded is not replayed: `nudge backfill <feature>` enters existing rows into a feature, as if just created.',
    );
    expect(await slotExists()).toBe(false);
  });
});

describe('a slot dropped by hand', () => {
  it('plan names nudge backfill under the drift', async () => {
    await switchCapture(
      project.cwd(),
      `capture: { transport: replication, replication: { slot: ${slotFor(db)} } }`,
    );
    expect((await nudge(['deploy', '--yes'])).code).toBe(0);
    await db.sql`select pg_drop_replication_slot(${slotFor(db)})`;
    const planned = await nudge(['plan']);
    expect(planned.out).toContain(
      '! drift: slot was dropped by hand: changes written since were not captured\n      changes not captured are not replayed: `nudge backfill <feature>` enters existing rows into a feature, as if just created',
    );
  });

  it('teardown --discard-unread with no terminal says to run it again with --discard-unread --yes', async () => {
    expect((await nudge(['deploy', '--yes'])).code).toBe(0);
    const asked = await nudge(['teardown', '--discard-unread']);
    expect(asked.code).toBe(1);
    expect(asked.err).toContain('hint: run `nudge teardown --discard-unread --yes`');
    expect(await slotExists()).toBe(true);
  });

  it('teardown --discard-unread --yes says what it discarded instead of "data untouched"', async () => {
    await db.sql`insert into public.orders (status) values ('new'), ('paid')`;
    const removed = await nudge(['teardown', '--discard-unread', '--yes']);
    expect(removed.code, removed.err).toBe(0);
    expect(removed.out).toMatch(
      new RegExp(
        `Your tables are untouched; discarded: slot ${slotFor(db)} held 2 changes not yet read by an engine \\([^)]*\\)\\.\\n`,
      ),
    );
    expect(removed.out).not.toContain('Your tables and data are untouched.');
    expect(removed.out).toContain(
      'What was discarded is not replayed: after nudge deploy, `nudge backfill <feature>` enters existing rows',
    );
    expect(await slotExists()).toBe(false);
  });
});
