// `nudge teardown` under a running engine (launch(), what nudge start runs):
// before anything is removed — and with --yes, where nothing is asked — it
// says how many engine processes are running against the database and what
// teardown means for them; with none running it says nothing of them. Counts
// are words ("1 trigger", never "1 trigger(s)").
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { enginesWarning } from '../../src/cli/teardown.js';
import { loadConfig } from '../../src/config/load.js';
import { launch, type Running } from '../../src/engine/wiring/launch.js';
import { makeLog } from '../../src/log.js';
import { useDatabase } from '../harness/db.js';
import { tempProject } from '../harness/project.js';

const db = useDatabase();
let cwd = '';
let running: Running | undefined;

async function nudge(args: string[]) {
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  const code = await run(args, m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

async function waitFor(what: string, ok: () => Promise<boolean>, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

beforeAll(async () => {
  await db.sql`create table public.orders (id bigserial primary key, status text)`;
  cwd = await tempProject(
    {
      'nudge.yaml': 'capture: outbox\naccess: read-write\n',
      'nudge/features/orders.yaml': `name: orders
trigger: { table: public.orders, on: insert }
stages:
  - name: seen
    do: [{ track: { event: order-insert } }]
`,
    },
    'nudge-teardown-engine-',
  );
  const deployed = await nudge(['deploy', '--yes']);
  expect(deployed.code, deployed.err).toBe(0);
}, 60_000);

afterAll(async () => {
  await running?.stop();
  await rm(cwd, { recursive: true, force: true });
});

const WARNING =
  '  ! 1 engine process is running against this database (nudge start, dev or worker): teardown removes the capture, and no change made afterwards reaches its features';

describe('nudge teardown with an engine running', () => {
  it('with --yes, says that the running engine loses its capture before removing it', async () => {
    const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
    running = await launch(project, { http: false, log: makeLog({ write: () => {} }), idleMs: 20 });
    await waitFor('the engine heartbeat', async () => {
      const [row] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from nudge_engine.workers where heartbeat_at > now() - interval '10 seconds'`;
      return row!.n > 0;
    });
    const { code, out, err } = await nudge(['teardown', '--yes']);
    expect(code, err).toBe(0);
    const lines = out.split('\n');
    const warned = lines.indexOf(WARNING);
    expect(warned, out).toBeGreaterThanOrEqual(0);
    expect(lines[warned + 1]).toBe(
      '    stop it first, or run nudge deploy afterwards to capture again',
    );
    expect(warned).toBeLessThan(lines.findIndex((line) => line.startsWith('✓ Removed')));
    expect(out).toContain('✓ Removed 1 trigger and schema nudge.');
    expect(out).not.toContain('(s)');
  }, 60_000);

  it('says nothing of engines when none is running', async () => {
    await running?.stop();
    running = undefined;
    expect((await nudge(['deploy', '--yes'])).code).toBe(0);
    const { code, out } = await nudge(['teardown', '--dry-run']);
    expect(code).toBe(0);
    expect(out).toContain('  - schema nudge');
    expect(out).not.toContain('engine process');
  }, 60_000);

  it('says what replication loses, in the plural for several processes', () => {
    expect(enginesWarning(3, 'replication')).toEqual([
      '  ! 3 engine processes are running against this database (nudge start, dev or worker): teardown drops the replication slot they stream from, and no change made afterwards reaches their features',
      '    stop them first, or run nudge deploy afterwards to capture again',
    ]);
  });
});
