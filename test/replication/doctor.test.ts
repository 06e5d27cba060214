// nudge doctor under capture: replication checks what replication needs:
// the tables' owner (publications, replica identity) instead of the TRIGGER
// privilege, the REPLICATION attribute of the connected role by its name,
// and a slot nobody reads that holds changes is a warning below the limit.
import { describe, expect, it } from 'vitest';
import { useDatabase } from '../harness/db.js';
import { nudgeIn, ordersFeature, slotFor, useOrdersProject } from './helpers.js';

const db = useDatabase();
const project = useOrdersProject(db, ordersFeature('insert'));

async function doctor(url: string) {
  const m = await nudgeIn({ ...db, url }, project.cwd(), ['doctor']);
  return m.out.split('\n');
}

/** The line that starts with `start`, and the fix printed under it. */
function problem(lines: string[], start: string): [string, string | undefined] {
  const at = lines.findIndex((line) => line.startsWith(start));
  expect(at, `no line starting ${start}\n---\n${lines.join('\n')}`).toBeGreaterThanOrEqual(0);
  return [lines[at]!, lines[at + 1]];
}

describe('nudge doctor with capture: replication', () => {
  it('checks table ownership and the REPLICATION attribute of the connected role, not triggers', async () => {
    const role = await db.loginRole(
      'repl_app',
      'grant usage, create on schema public to {role}; grant select, trigger on public.orders to {role}; grant create on database ' +
        `"${db.name}" to {role};`,
    );
    // Some WAL since the slot was made (no captured change), for doctor to try to count.
    await db.sql`create table public.scratch (x int)`;
    await db.sql`drop table public.scratch`;
    const lines = await doctor(role.url);
    expect(lines.join('\n')).not.toContain('Trigger privilege');
    expect(lines.join('\n')).not.toContain('cannot create triggers');
    const [owner, ownerFix] = problem(lines, '✗ Table owner');
    expect(owner).toMatch(
      new RegExp(
        `role ${role.name} does not own public.orders \\(owner postgres\\): capture: replication publishes`,
      ),
    );
    expect(ownerFix).toBe(
      `  fix: connect as postgres, or GRANT postgres TO ${role.name}, or use capture: outbox (triggers need only GRANT TRIGGER)`,
    );
    const [attribute, attributeFix] = problem(lines, '✗ Replication');
    expect(attribute).toContain(`role ${role.name} has no REPLICATION attribute`);
    expect(attributeFix).toBe(
      `  fix: ALTER ROLE ${role.name} REPLICATION, as a superuser (Supabase: connect as postgres, which has it)`,
    );
    // Without the attribute the slot cannot be peeked: the WAL is not counted, and doctor says why.
    const [slot] = problem(lines, `⚠ Replication        slot ${slotFor(db)}`);
    expect(slot).toMatch(
      /no engine is reading it: up to \d+(\.\d)? [kM]?B of WAL not yet read, which may hold changes \(not counted: decoding it failed: permission denied to use replication slots\)$/,
    );

    const owners = await doctor(db.url);
    expect(owners).toContain(
      '✓ Table owner        role postgres owns public.orders (publication, replica identity)',
    );
  });

  it('warns when nothing streams the slot and changes wait in it, and says teardown loses them', async () => {
    await db.sql`insert into public.orders (status) values ('new'), ('new')`;
    const [line, fix] = problem(await doctor(db.url), `⚠ Replication        slot ${slotFor(db)}`);
    expect(line).toMatch(
      /not streaming \(no engine is running\).*; no engine is reading it: 2 changes waiting$/,
    );
    expect(fix).toBe(
      '  fix: start the engine (nudge start) so it reads the slot; or, if this project is gone, nudge teardown --discard-unread (what the slot holds unread is lost)',
    );
  });
});
