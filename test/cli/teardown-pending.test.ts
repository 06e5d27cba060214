// Under capture: outbox, what the nudge schema holds is said when it would be
// lost: `nudge plan` with no feature file found says it drops all capture and
// where it looked; teardown refuses to drop captured changes not yet
// processed without --discard-unread, names them (one change, not "1
// changes") and how to keep them, and says what it discarded instead of
// "your data is untouched".
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { useDatabase } from '../harness/db.js';
import { tempProject } from '../harness/project.js';

const db = useDatabase();
const folders: string[] = [];

/** A project folder capturing by outbox, with these feature files. */
async function project(features: Record<string, string>): Promise<string> {
  const files: Record<string, string> = { 'nudge.yaml': 'capture: outbox\naccess: read-write\n' };
  for (const [name, text] of Object.entries(features)) files[`nudge/features/${name}.yaml`] = text;
  const cwd = await tempProject(files, 'nudge-teardown-');
  folders.push(cwd);
  // The features folder, even with no feature file in it.
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  return cwd;
}

async function nudge(cwd: string, args: string[]) {
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  const code = await run(args, m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

const ORDERS = `name: orders
trigger: { table: public.orders, on: insert }
stages:
  - name: seen
    do: [{ track: { event: order-insert } }]
`;

let cwd = '';
beforeAll(async () => {
  await db.sql`create table public.orders (id bigserial primary key, status text)`;
  cwd = await project({ orders: ORDERS });
  const deployed = await nudge(cwd, ['deploy', '--yes']);
  expect(deployed.code, deployed.err).toBe(0);
});
afterAll(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

describe('with capture: outbox deployed', () => {
  it('plan from a folder with no feature file says it drops all capture, and where it looked', async () => {
    const planned = await nudge(await project({}), ['plan']);
    expect(planned.code).toBe(0);
    expect(planned.out).toMatch(/Plan: 0 to create, 1 to replace, [1-9]\d* to drop/);
    expect(planned.out).toMatch(/^ {2}~ feature list +orders removed: /m);
    expect(planned.out).toContain(
      "! This plan drops all of Nudge's capture: no feature file was found in nudge/features/.",
    );
    // Where the features are, nothing is said.
    expect((await nudge(cwd, ['plan'])).out).not.toContain('no feature file was found');
  });

  it('teardown names one captured change not yet processed, how to keep it, and that it was discarded', async () => {
    await db.sql`insert into public.orders (status) values ('new')`;
    // And a row a trigger could not capture: it is lost too, and can be retried.
    await db.sql`
      insert into nudge.failed_events (schema_name, table_name, operation, new_row, sqlstate, message)
      values ('public', 'orders', 'insert', '{"id": 99}', '23514', 'enrichment failed')`;
    // Refused without --discard-unread, as a slot's unread changes are; nothing removed.
    const refused = await nudge(cwd, ['teardown', '--yes']);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(
      'teardown would drop the nudge schema while it holds 1 captured change not yet processed and 1 failed event not resolved; they would be lost',
    );
    expect(refused.err).toContain('repair its cause and run `nudge capture retry`');
    expect(refused.err).toContain('`nudge teardown --discard-unread`');
    const [schema] =
      await db.sql`select count(*)::int as n from pg_namespace where nspname = 'nudge'`;
    expect(schema!.n).toBe(1);
    const removed = await nudge(cwd, ['teardown', '--yes', '--discard-unread']);
    expect(removed.code, removed.err).toBe(0);
    expect(removed.out).toContain(
      '  ! 1 captured change not yet processed and 1 failed event not resolved will be lost\n',
    );
    expect(removed.out).toContain(
      '    to keep it: run `nudge start` until `select count(*) from nudge.pending()` is 0, then teardown',
    );
    expect(removed.out).toContain(
      'Your tables are untouched; discarded: 1 captured change not yet processed and 1 failed event not resolved.',
    );
    expect(removed.out).not.toContain('Your tables and data are untouched.');
    expect(removed.out).toContain('What was discarded is not replayed: after nudge deploy,');
  });
});
