// Each feature's deploy state in /v1/features (list and one feature), from
// the dashboard's latest plan, against the Supabase-shaped demo database and
// the demo's features: not deployed before the first deploy, deployed in
// deployment #1 with the trigger each relies on, changed (and what a deploy
// would change) once a feature file needs another capture, not deployed for
// a new feature file, not needed for scheduled features, unknown with the
// reason when a file does not check; a trigger dropped by hand shows after
// Plan. A poll reuses the latest plan: one statement on the source, however
// many features; a new plan costs the same for the list as for one feature.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CapturePlan, FeatureDetail, FeatureSummary } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/load.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { type Feature, loadFeatures } from '../../src/features/load.js';
import { createApiKey } from '../../src/server/api/keys.js';
import { makeServer, type NudgeServer } from '../../src/server/index.js';
import { useDatabase } from '../harness/db.js';
import { readOnlyCopy } from '../harness/project.js';
import { requestWith } from './helpers.js';

const db = useDatabase();
let key: string;
let cwd: string;
let server: NudgeServer;
let features: Feature[];
/** The source as the server sees it, each statement it is sent counted. */
let source: postgres.Sql;
let sent = 0;

const featuresDir = () => path.join(cwd, 'nudge/features');

beforeAll(async () => {
  await db.sql.unsafe(await readFile(path.resolve('src/dev/demo.sql'), 'utf8'));
  await migrateEngine(db.sql, db.url);
  ({ key } = await createApiKey(db.sql, 'dashboard', 'dashboard'));
  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-feature-deploys-'));
  await cp(path.resolve('examples/demo'), cwd, { recursive: true });
  source = postgres(db.url, {
    onnotice: () => {},
    max: 2,
    debug: () => {
      sent++;
    },
  });
  const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
  // The list the server shows, which a running engine updates in place after a deploy.
  features = await loadFeatures(featuresDir(), {}, cwd);
  server = await makeServer({
    sql: db.sql,
    project,
    route: () => 0,
    log: pino({ level: 'silent' }),
    keys: { key: Buffer.alloc(32, 5) },
    dashboard: { features, source, sourceUrl: db.url },
  });
});

afterAll(async () => {
  await source?.end();
});

async function get<T>(url: string): Promise<T> {
  const response = await requestWith(server, key, 'GET', url);
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as T;
}

/** The features' deploy states by name, and how many statements the source was sent for them. */
async function deployStates() {
  const before = sent;
  const list = await get<FeatureSummary[]>('/v1/features');
  return {
    states: Object.fromEntries(list.map((f) => [f.name, f.deploy])),
    statements: sent - before,
  };
}

async function deployNow(): Promise<number> {
  const plan = await get<CapturePlan>('/v1/plan');
  const response = await requestWith(server, key, 'POST', '/v1/deploy', { plan: plan.plan });
  expect(response.status, await response.clone().text()).toBe(200);
  return ((await response.json()) as { deployment: number }).deployment;
}

/** Rewrites a feature file of the copy. */
async function edit(name: string, change: (text: string) => string): Promise<void> {
  const file = path.join(featuresDir(), `${name}.yaml`);
  const text = await readFile(file, 'utf8');
  const changed = change(text);
  expect(changed).not.toBe(text);
  await writeFile(file, changed);
}

const CART_GONE = `name: cart-gone
trigger: { table: public.carts, on: delete }
stages:
  - name: noted
    do: [{ track: { event: cart_gone } }]
`;

describe('a feature’s deploy state', () => {
  it('is not deployed before the first deploy, with what a deploy would create', async () => {
    const { states } = await deployStates();
    expect(states['welcome-drip']).toEqual({
      state: 'not_deployed',
      deployment: null,
      file_changed: false,
      captures: [
        {
          table: 'auth.users',
          operation: 'insert',
          trigger: 'nudge_capture_insert',
          publication: null,
          plan: 'create',
          drift: [],
        },
      ],
      changes: ['+ trigger nudge_capture_insert on auth.users (insert)'],
      reason: null,
    });
    expect(states['abandoned-cart']!.changes).toEqual([
      '+ trigger nudge_capture_insert on public.carts (insert)',
      '+ trigger nudge_capture_update on public.carts (update)',
    ]);
    // Scheduled features query their table on their schedule: no capture.
    expect(states.inactivity).toEqual({
      state: 'not_needed',
      deployment: null,
      file_changed: false,
      captures: [],
      changes: [],
      reason:
        'a scheduled feature: the engine queries auth.users on its schedule, no trigger is needed',
    });
  });

  it('is deployed, in the deployment, by the trigger each feature relies on', async () => {
    const id = await deployNow();
    const [made] = await db.sql<{ at: Date }[]>`
      select deployed_at as at from nudge.deployments where id = ${id}`;
    const deployment = { id, at: made!.at.toISOString() };
    const { states } = await deployStates();
    expect(states['order-paid']).toEqual({
      state: 'deployed',
      deployment,
      file_changed: false,
      captures: [
        {
          table: 'public.orders',
          operation: 'update',
          trigger: 'nudge_capture_update',
          publication: null,
          plan: 'unchanged',
          drift: [],
        },
      ],
      changes: [],
      reason: null,
    });
    expect(
      Object.entries(states).map(([name, deploy]) => [name, deploy.state, deploy.deployment?.id]),
    ).toEqual([
      ['abandoned-cart', 'deployed', id],
      ['heartbeat', 'deployed', id],
      ['inactivity', 'not_needed', id],
      ['order-confirmation', 'deployed', id],
      ['order-paid', 'deployed', id],
      ['trial-ending', 'not_needed', id],
      ['upload-thumbnails', 'deployed', id],
      ['weekly-digest', 'not_needed', id],
      ['welcome-drip', 'deployed', id],
    ]);
    // One feature's page says the same.
    const one = await get<FeatureDetail>('/v1/features/upload-thumbnails');
    expect(one.deploy).toEqual(states['upload-thumbnails']);
    expect(one.deploy.captures.map((c) => `${c.trigger} on ${c.table}`)).toEqual([
      'nudge_capture_insert on storage.objects',
    ]);
    expect(one.deploy_refused).toBeNull();
  });

  it('costs one statement per poll while the plan stands, and a new plan the same for nine features as for one', async () => {
    // A comment changes the file, not the feature: a new plan, the same states.
    await edit('inactivity', (text) => `${text}# read again\n`);
    const cold = await deployStates();
    expect(cold.statements).toBeGreaterThan(1);
    expect((await deployStates()).statements).toBe(1);
    let before = sent;
    await get<FeatureDetail>('/v1/features/welcome-drip');
    expect(sent - before).toBe(1);
    await edit('inactivity', (text) => `${text}# and again\n`);
    before = sent;
    const one = await get<FeatureDetail>('/v1/features/welcome-drip');
    expect(sent - before).toBe(cold.statements);
    expect(one.deploy.state).toBe('deployed');
    expect(features.length).toBe(9);
  });

  it('is changed when its file needs another capture, saying what a deploy would do', async () => {
    await edit('heartbeat', (text) => text.replace(/^ {2}on: insert$/m, '  on: [insert, delete]'));
    const { states } = await deployStates();
    expect(states.heartbeat).toMatchObject({
      state: 'changed',
      deployment: { id: 1 },
      changes: [
        'its file changed since deployment #1',
        '+ trigger nudge_capture_delete on public.orders (delete)',
      ],
    });
    expect(states.heartbeat!.captures.map((c) => [c.operation, c.plan])).toEqual([
      ['insert', 'unchanged'],
      ['delete', 'create'],
    ]);
    // The feature sharing its insert trigger is as it was.
    expect(states['order-confirmation']).toMatchObject({ state: 'deployed', changes: [] });
  });

  it('is not deployed for a new feature file, then deployed from the deployment that made it', async () => {
    await writeFile(path.join(featuresDir(), 'cart-gone.yaml'), CART_GONE);
    features.push(
      ...(await loadFeatures(featuresDir(), {}, cwd)).filter((f) => f.name === 'cart-gone'),
    );
    const before = await deployStates();
    expect(before.states['cart-gone']).toMatchObject({
      state: 'not_deployed',
      deployment: null,
      changes: ['+ trigger nudge_capture_delete on public.carts (delete)'],
    });

    const id = await deployNow();
    expect(id).toBe(2);
    const { states } = await deployStates();
    expect(states['cart-gone']).toMatchObject({ state: 'deployed', deployment: { id: 2 } });
    expect(states.heartbeat).toMatchObject({ state: 'deployed', deployment: { id: 2 } });
    // Unchanged since the first deployment: deployed in it.
    expect(states['welcome-drip']).toMatchObject({ state: 'deployed', deployment: { id: 1 } });
  });

  it('shows a trigger dropped by hand once a plan is made, as what a deploy would repair', async () => {
    await db.sql`drop trigger nudge_capture_delete on public.carts`;
    // Plan (the button) makes the plan the deploy state is read from.
    await get<CapturePlan>('/v1/plan');
    const { states } = await deployStates();
    expect(states['cart-gone']).toMatchObject({
      state: 'changed',
      deployment: { id: 2 },
      captures: [{ plan: 'replace', drift: ['trigger was dropped by hand'] }],
      changes: [
        '~ trigger nudge_capture_delete on public.carts (delete): trigger was dropped by hand',
      ],
    });
    expect(states['abandoned-cart']!.state).toBe('deployed');
  });

  it('is unknown, with the reason, while a feature file does not check', async () => {
    const broken = path.join(featuresDir(), 'zz-broken.yaml');
    await writeFile(
      broken,
      'name: broken\ntrigger: { table: public.ordrs, on: insert }\nstages: [{ name: one, do: [] }]\n',
    );
    try {
      const { states } = await deployStates();
      expect(states['welcome-drip']!.state).toBe('unknown');
      expect(states['welcome-drip']!.reason).toMatch(
        /^no plan could be made: .*zz-broken\.yaml:2:\d+ trigger\.table: table public\.ordrs does not exist/,
      );
    } finally {
      await rm(broken);
    }
    expect((await deployStates()).states['welcome-drip']!.state).toBe('deployed');
  });

  it('says on a feature that Deploy is refused in read-only mode', async () => {
    const dir = await readOnlyCopy(cwd, 'nudge-feature-deploys-ro-');
    const readOnly = await makeServer({
      sql: db.sql,
      project: await loadConfig({ cwd: dir, env: { DATABASE_URL: db.url } }),
      route: () => 0,
      log: pino({ level: 'silent' }),
      keys: { key: Buffer.alloc(32, 5) },
      dashboard: { features, source, sourceUrl: db.url },
    });
    const response = await requestWith(readOnly, key, 'GET', '/v1/features/cart-gone');
    expect(response.status).toBe(200);
    const detail = (await response.json()) as FeatureDetail;
    expect(detail.deploy.state).toBe('changed');
    expect(detail.deploy_refused).toMatch(
      /^access is read-only \(nudge\.yaml:\d+\): deploy refuses to write to the database; .*nudge deploy --sql/,
    );
  });
});
