// A feature changed, added or removed whose captures are deployed already
// (a second feature on auth.users insert, a condition changed) is a change
// plan shows and deploy records (capture/features-deployed.ts). Before,
// deploy said "No changes", recorded no deployment and notified no one, so
// running engines went on with the files they had read until restarted:
// the events of the new feature were matched against the old ones and lost
// to it. Doctor says such a file is not deployed, too.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/load.js';
import { launch } from '../../src/engine/wiring/launch.js';
import { makeLog } from '../../src/log.js';
import { BIG_ORDER_FEATURE, WELCOME_FEATURE } from '../engine/harness.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();
let cwd = '';

beforeAll(async () => {
  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-features-deployed-'));
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  await writeFile(path.join(cwd, 'nudge.yaml'), 'access: read-write\n');
  await writeFile(path.join(cwd, 'nudge/features/welcome.yaml'), WELCOME_FEATURE);
});
afterAll(async () => {
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

async function nudge(...argv: string[]) {
  return nudgeWith({}, ...argv);
}

async function nudgeWith(env: Record<string, string>, ...argv: string[]) {
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url, ...env } });
  const code = await run(argv, m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

const deployments = async () =>
  (await db.sql<{ n: number }[]>`select count(*)::int as n from nudge.deployments`)[0]!.n;

/** greet.yaml: the welcome feature under another name, `welcomed: true` replaced as asked. */
const writeGreet = (from: string, to: string) =>
  writeFile(
    path.join(cwd, 'nudge/features/greet.yaml'),
    WELCOME_FEATURE.replace('name: welcome', 'name: greet').replace(from, to),
  );

const FEATURES_LINE = /^ {2}~ feature list +(.*)$/m;

describe('feature files changed with no capture to change', () => {
  it('plans, deploys and records a feature added on a table already captured', async () => {
    expect((await nudge('deploy', '--yes')).code).toBe(0);
    expect(await deployments()).toBe(1);
    expect((await nudge('plan')).out).toContain('No changes.');

    await writeGreet('welcomed', 'greeted');
    const plan = await nudge('plan');
    expect(plan.code, plan.err).toBe(0);
    expect(FEATURES_LINE.exec(plan.out)?.[1]).toBe(
      'greet added: recorded with the deployment, so running engines read their feature files again',
    );
    // The capture itself is unchanged: the trigger on auth.users serves both.
    expect(plan.out).toMatch(/^ {2}= capture auth\.users insert .*used by greet, welcome/m);
    const doctor = await nudge('doctor');
    expect(doctor.out).toContain(
      '⚠ Features           feature files changed since the deployment (greet added): running engines run the deployed ones until a deploy',
    );

    const deployed = await nudge('deploy', '--yes');
    expect(deployed.code, deployed.err).toBe(0);
    expect(deployed.out).toContain(
      '✓ Deployment #2: 0 created, 1 replaced (the feature list), 0 dropped.',
    );
    expect(await deployments()).toBe(2);
    expect((await nudge('plan')).out).toContain('No changes.');
  });

  it('does the same for a feature changed, and one removed', async () => {
    await writeGreet('welcomed: true', 'greeted: yes');
    await rm(path.join(cwd, 'nudge/features/welcome.yaml'));
    const plan = await nudge('plan');
    expect(FEATURES_LINE.exec(plan.out)?.[1]).toBe(
      'greet changed, welcome removed: recorded with the deployment, so running engines read their feature files again',
    );
    expect((await nudge('deploy', '--yes')).code).toBe(0);
    expect(await deployments()).toBe(3);
    // The script for psql records them too.
    await writeFile(
      path.join(cwd, 'nudge/features/greet.yaml'),
      WELCOME_FEATURE.replace('name: welcome', 'name: greet'),
    );
    const script = await nudge('deploy', '--sql');
    expect(script.out).toMatch(
      /INSERT INTO nudge\.deployments .*"features":\{"greet":"[0-9a-f]{16}"\}/s,
    );
  });

  it('lists the feature files beside a capture that changes', async () => {
    await db.sql`create table public.orders (id bigint primary key, user_id uuid, total numeric)`;
    await writeFile(
      path.join(cwd, 'nudge/features/orders.yaml'),
      `name: orders
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages:
  - name: ordered
    do: [{ set: { ordered: true } }]
`,
    );
    await writeGreet('welcomed: true', 'hi: 1');
    const plan = await nudge('plan');
    expect(plan.out).toMatch(/^ {2}\+ capture public\.orders insert +.*used by orders/m);
    // A feature whose actions changed is named, though its capture is not.
    expect(FEATURES_LINE.exec(plan.out)?.[1]).toBe(
      'orders added, greet changed: recorded with the deployment, so running engines read their feature files again',
    );
    expect((await nudge('deploy', '--yes')).code).toBe(0);
    expect((await nudge('plan')).out).toContain('No changes.');
  });

  it("says why a shared capture's definition changed: the feature that came to use it, or changed", async () => {
    const write = (total: number) =>
      writeFile(
        path.join(cwd, 'nudge/features/big-order.yaml'),
        BIG_ORDER_FEATURE.replace('gte.100', `gte.${total}`),
      );
    // Only filtered features share the trigger, so a condition is part of its row filter.
    const orders = path.join(cwd, 'nudge/features/orders.yaml');
    const unfiltered = await readFile(orders, 'utf8');
    await writeFile(
      orders,
      unfiltered.replace('on: insert }', 'on: insert, when: { new.total: lt.10 } }'),
    );
    expect((await nudge('deploy', '--yes')).code).toBe(0);
    await write(100);
    const added = await nudge('plan');
    expect(added.out, added.err).toMatch(
      /^ {2}~ capture public\.orders insert +.*used by big-order, orders · definition changed; since the deployment, big-order now uses it$/m,
    );
    expect((await nudge('deploy', '--yes')).code).toBe(0);
    await write(200);
    expect((await nudge('plan')).out).toMatch(
      /^ {2}~ capture public\.orders insert +.* · definition changed; since the deployment, big-order changed$/m,
    );
    await rm(path.join(cwd, 'nudge/features/big-order.yaml'));
    expect((await nudge('plan')).out).toMatch(
      /^ {2}~ capture public\.orders insert +.*used by orders · definition changed; since the deployment, big-order no longer does$/m,
    );
    await writeFile(orders, unfiltered);
    expect((await nudge('deploy', '--yes')).code).toBe(0);
  });

  // A deploy from CI and an engine on a server read the same file in other
  // environments: the file as written is what counts, not its variables.
  it('fingerprints a file as written, not its variables as expanded', async () => {
    await writeGreet('welcomed: true', 'greeting: "${GREETING}"');
    const deployed = await nudgeWith({ GREETING: 'hello' }, 'deploy', '--yes');
    expect(deployed.code, deployed.err).toBe(0);
    expect((await nudgeWith({ GREETING: 'hi there' }, 'plan')).out).toContain('No changes.');
  });

  it('has an engine started with files that differ say it runs them as they are', async () => {
    await writeGreet('welcomed: true', 'hey: 2');
    const logged: string[] = [];
    const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url, GREETING: 'x' } });
    const running = await launch(project, {
      http: false,
      log: makeLog({ write: (line) => logged.push(line) }),
    });
    await running.stop();
    const warned = logged.filter((line) => line.includes(' warn '));
    expect(warned.map((line) => line.slice(9))).toEqual([
      'warn  the feature files here differ from the latest deployment: this engine runs them as they are; nudge deploy records them (and other engines read them then) changes=greet changed',
    ]);
  });
});
