// A feature deployed while the engine runs is run by it from the deploy on
// (engine/wiring/follow-deploys.ts): the engine reads its feature files again.
// Before, it ran the features of its start until restarted, and the events of
// the new feature's table were taken and matched nothing — lost to it, with
// nothing said. Files that no longer check are not run: the engine keeps the
// features it has and says why in its log.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../src/capture/deploy.js';
import { buildCaptureObjects } from '../../src/capture/triggers.js';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/load.js';
import { insertInbox } from '../../src/engine/intake/inbox.js';
import type { Running } from '../../src/engine/wiring/launch.js';
import { checkFeatures } from '../../src/features/check.js';
import { loadFeatures } from '../../src/features/load.js';
import { readCatalog } from '../../src/source/catalog.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';
import { BIG_ORDER_FEATURE, launchLogged, signUp, WELCOME_FEATURE } from './harness.js';

const db = useDatabase();
let running: Running;
let cwd: string;
const logged: string[] = [];

beforeAll(async () => {
  await db.sql`create table public.orders (
    id bigint generated always as identity primary key,
    user_id uuid not null, total numeric not null, note text)`;
  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-follow-'));
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  await writeFile(path.join(cwd, 'nudge.yaml'), 'server: { port: 0 }\n');
  await writeFile(path.join(cwd, 'nudge/features/welcome.yaml'), WELCOME_FEATURE);
  const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
  const features = await loadFeatures(project.featuresDir, project.env, cwd);
  await deploy(db.sql, buildCaptureObjects(checkFeatures(features, await readCatalog(db.sql))));
  running = await launchLogged(project, logged);
});

afterAll(async () => {
  await running?.stop();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

const cli = async (...argv: string[]) => {
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  const code = await run(argv, m.io);
  return { code, out: m.stdout(), err: m.stderr() };
};

/** The decisions for `feature` on the events of this order or user, in order. */
async function decisions(feature: string, column: string, value: string) {
  return db.sql<{ outcome: string }[]>`
    select d.outcome from nudge_engine.decisions d
      join nudge_engine.inbox i on i.id = d.inbox_id
     where d.feature = ${feature} and i.new_row ->> ${column} = ${value}
     order by d.id`;
}

describe('a deploy while the engine runs', () => {
  it('runs the feature it adds on the first row written after it, with no restart', async () => {
    const ada = await signUp(db.sql, 'ada@example.com');
    await waitFor(
      async () => ((await decisions('welcome', 'id', ada)).length ? true : undefined),
      "the running engine's welcome decision",
    );
    expect(running.featureSet.get('big-order')).toBeUndefined();

    await writeFile(path.join(cwd, 'nudge/features/big-order.yaml'), BIG_ORDER_FEATURE);
    const deployed = await cli('deploy', '--yes');
    expect(deployed.err).toBe('');
    expect(deployed.code).toBe(0);
    // At once: the trigger captures from the deploy's commit, and the pump
    // moves nothing it captured before the engine has read the files again.
    const [order] = await db.sql<{ id: string }[]>`
      insert into public.orders (user_id, total) values (${ada}, 250) returning id::text`;
    const made = await waitFor(async () => {
      const rows = await decisions('big-order', 'id', order!.id);
      return rows.some((row) => row.outcome === 'entered') ? rows : undefined;
    }, 'the new feature to enter on the order');
    expect(made.map((row) => row.outcome)).toContain('matched');
    // Stored under the deployment its claim read: another process's lane reads its files first.
    const [stored] = await db.sql<{ deployment: number }[]>`
      select deployment from nudge_engine.inbox where new_row ->> 'id' = ${order!.id}`;
    expect(stored!.deployment).toBe(2);
    // The dashboard's list of features (the same array) has it too.
    expect(running.features.map((f) => f.name).sort()).toEqual(['big-order', 'welcome']);
    expect(logged.join('\n')).toMatch(
      /deployment #2: feature files read again; 2 features run \(\+big-order\)/,
    );
    // The feature it had still runs beside it.
    const grace = await signUp(db.sql, 'grace@example.com');
    await waitFor(
      async () => ((await decisions('welcome', 'id', grace)).length ? true : undefined),
      'the welcome feature after the reading',
    );
  });

  it('keeps the features it has when the files no longer check, and says why', async () => {
    // The files broken after the deploy that the engine reads them for.
    await writeFile(
      path.join(cwd, 'nudge/features/big-order.yaml'),
      BIG_ORDER_FEATURE.replace('gte.100', 'gtee.100'),
    );
    // A deployment made without these files (as from another checkout, by psql).
    await db.sql`insert into nudge.deployments (nudge_version, summary, objects)
                 values ('test', '{}'::jsonb, '[]'::jsonb)`;
    await db.sql`select pg_notify('nudge_deployed', '')`;
    await waitFor(
      () =>
        /deployment #3: the feature files here do not check/.test(logged.join('\n'))
          ? true
          : undefined,
      'the engine to say it keeps its features',
    );
    expect(logged.join('\n')).toMatch(/gtee/);
    expect(running.featureSet.get('big-order')).toBeDefined();
    const [order] = await db.sql<{ id: string; user_id: string }[]>`
      insert into public.orders (user_id, total)
      select user_id, 500 from public.orders limit 1 returning id::text, user_id::text`;
    await waitFor(async () => {
      const rows = await decisions('big-order', 'id', order!.id);
      return rows.some((row) => row.outcome !== 'skipped') ? true : undefined;
    }, 'the kept feature to run on the next order');
  });

  it('reads them again after a teardown and a deploy, whose deployment ids start again at 1', async () => {
    const torn = await cli('teardown', '--yes');
    expect(torn.code, torn.err).toBe(0);
    // The feature as the new deployment has it: another attribute set.
    await writeFile(
      path.join(cwd, 'nudge/features/big-order.yaml'),
      BIG_ORDER_FEATURE.replace('big_spender: true', 'order_tier: gold'),
    );
    const deployed = await cli('deploy', '--yes');
    expect(deployed.code, deployed.err).toBe(0);
    expect(deployed.out).toContain('Deployment #1');
    const linus = await signUp(db.sql, 'linus@example.com');
    await waitFor(
      async () => ((await decisions('welcome', 'id', linus)).length ? true : undefined),
      'the welcome decision after the new deployment',
    );
    await db.sql`insert into public.orders (user_id, total) values (${linus}, 500)`;
    const attributes = await waitFor(async () => {
      const [contact] = await db.sql<{ attributes: Record<string, unknown> }[]>`
        select attributes from nudge_engine.contacts where auth_user_id = ${linus}`;
      return contact && Object.keys(contact.attributes).some((k) => k !== 'welcomed')
        ? contact.attributes
        : undefined;
    }, "the order's attribute on linus");
    // Set by the feature as deployed now, not as it was read before the teardown.
    expect(attributes).toEqual({ welcomed: true, order_tier: 'gold' });
  });

  // With several engine processes, one pumps (or streams the slot): it has
  // read the deploy's files before it stores a captured row, and stamps the
  // row with the deployment. Another process's lane may take the row before
  // the notification reaches that process: it reads its files first. Here
  // the row is stored as such a process would, under a deployment this one
  // has not heard of (no record, no NOTIFY: its pump and its look find
  // nothing new).
  it('reads the files again before matching an event stored under a deployment it has not heard of', async () => {
    const [user] = await db.sql<
      { user_id: string }[]
    >`select user_id::text from public.orders limit 1`;
    await writeFile(
      path.join(cwd, 'nudge/features/vip-order.yaml'),
      BIG_ORDER_FEATURE.replace('name: big-order', 'name: vip-order').replace(
        'big_spender: true',
        'vip: true',
      ),
    );
    const [latest] = await db.sql<
      { id: number }[]
    >`select max(id)::int as id from nudge.deployments`;
    // An order row as another process would store it, under the next deployment.
    const storedElsewhere = (id: number, total: number) =>
      insertInbox(db.sql, [
        {
          source: 'outbox',
          sourceKey: `another-process:${id}`,
          schema: 'public',
          table: 'orders',
          operation: 'insert',
          newRow: { id, user_id: user!.user_id, total, note: null },
          occurredAt: new Date(),
          deployment: latest!.id + 1,
        },
      ]);
    await storedElsewhere(9001, 900);
    const made = await waitFor(async () => {
      const rows = await decisions('vip-order', 'id', '9001');
      return rows.some((row) => row.outcome === 'entered') ? rows : undefined;
    }, 'the feature the other process read to enter on the order');
    expect(made.map((row) => row.outcome)).toContain('matched');
    expect(running.featureSet.get('vip-order')).toBeDefined();
    // A stamp no deployment has (rows from before a teardown) is read for
    // once: the next such row reads the files no more.
    const readings = () =>
      logged.filter((line) => line.includes('feature files read again')).length;
    const before = readings();
    await storedElsewhere(9002, 950);
    await waitFor(async () => {
      const rows = await decisions('vip-order', 'id', '9002');
      return rows.length ? rows : undefined;
    }, 'the second order decided');
    expect(readings()).toBe(before);
  });

  // Another project deployed to the same database (nudge dev's, say): its
  // plan drops the capture this engine's files need. Said when read, with
  // what is missing; before, only "feature files read again".
  it('says what the files here need that a deployment made from other files does not capture', async () => {
    const other = await mkdtemp(path.join(tmpdir(), 'nudge-follow-other-'));
    try {
      await mkdir(path.join(other, 'nudge/features'), { recursive: true });
      await writeFile(path.join(other, 'nudge.yaml'), '');
      await writeFile(path.join(other, 'nudge/features/welcome.yaml'), WELCOME_FEATURE);
      const m = memoryIo({ cwd: other, env: { DATABASE_URL: db.url } });
      const from = logged.length;
      expect(await run(['deploy', '--yes'], m.io), m.stderr()).toBe(0);
      const warning = await waitFor(
        () =>
          logged
            .slice(from)
            .find((line) => line.includes('capture is not up to date for the feature files here')),
        'the warning of the capture the files here need',
      );
      expect(warning).toContain('+ capture public.orders insert');
    } finally {
      await rm(other, { recursive: true, force: true });
    }
    // Deployed from here again, for what follows.
    expect((await cli('deploy', '--yes')).code).toBe(0);
  });
});
