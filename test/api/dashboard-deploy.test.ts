// GET /v1/plan and POST /v1/deploy (the Features page's Plan and Deploy):
// the same diff `nudge plan` prints, applied only as shown, refused with the
// reason in read-only mode, and bad feature files named; after a deploy, a
// feature is read as deployed (its trigger), not as at the server's start —
// against the Supabase-shaped demo database and the demo features.
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import type { CapturePlan, FeatureDetail } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/load.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { type Feature, loadFeatures } from '../../src/features/load.js';
import { createApiKey } from '../../src/server/api/keys.js';
import { makeServer, type NudgeServer } from '../../src/server/index.js';
import { useDatabase } from '../harness/db.js';
import { requestWith } from './helpers.js';

const db = useDatabase();
let key: string;

async function demoProject(access = 'read-write'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nudge-deploy-api-'));
  await cp(path.resolve('examples/demo'), dir, { recursive: true });
  const file = path.join(dir, 'nudge.yaml');
  const yaml = await readFile(file, 'utf8');
  expect(yaml).toMatch(/^access: read-write$/m);
  await writeFile(file, yaml.replace(/^access: read-write$/m, `access: ${access}`));
  return dir;
}

async function serverAt(cwd: string, features: Feature[] = []): Promise<NudgeServer> {
  const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
  return makeServer({
    sql: db.sql,
    project,
    route: () => 0,
    log: pino({ level: 'silent' }),
    keys: { key: Buffer.alloc(32, 9) },
    dashboard: { features, source: db.sql, sourceUrl: db.url },
  });
}

const call = (server: NudgeServer, method: string, url: string, body?: unknown) =>
  requestWith(server, key, method, url, body);

beforeAll(async () => {
  await db.sql.unsafe(await readFile(path.resolve('src/dev/demo.sql'), 'utf8'));
  await migrateEngine(db.sql, db.url);
  // The dashboard's own scope may deploy, as it may pause and replay.
  ({ key } = await createApiKey(db.sql, 'dashboard', 'dashboard'));
});

describe('Plan and Deploy', () => {
  it('shows the plan nudge plan prints, deploys exactly it, then has no changes', async () => {
    const cwd = await demoProject();
    const server = await serverAt(cwd);
    const response = await call(server, 'GET', '/v1/plan');
    expect(response.status).toBe(200);
    const plan = (await response.json()) as CapturePlan;
    expect(plan.changes).toBe(true);
    expect(plan.deployable).toBe(true);
    expect(plan.refused).toBeNull();
    expect(plan.items.some((i) => i.action === 'create' && i.subject.includes('auth.users'))).toBe(
      true,
    );

    // The same lines as the CLI's plan (which adds its header and its last hint).
    const cli = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
    expect(await run(['plan'], cli.io)).toBe(0);
    const lines = plan.text.split('\n').slice(0, -1);
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(cli.stdout().split('\n')).toContain(line);

    const stale = await call(server, 'POST', '/v1/deploy', { plan: 'not-this-one' });
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as { error: string }).error).toBe('plan_changed');
    const [before] =
      await db.sql`select count(*)::int as n from pg_namespace where nspname = 'nudge'`;
    expect(before!.n).toBe(0);

    const deployed = await call(server, 'POST', '/v1/deploy', { plan: plan.plan });
    expect(deployed.status).toBe(200);
    const result = (await deployed.json()) as { deployment: number; counts: { create: number } };
    expect(result.deployment).toBeGreaterThan(0);
    expect(result.counts.create).toBe(plan.counts.create);
    const [row] = await db.sql<{ id: number }[]>`select max(id)::int as id from nudge.deployments`;
    expect(row!.id).toBe(result.deployment);

    const after = (await (await call(server, 'GET', '/v1/plan')).json()) as CapturePlan;
    expect(after.changes).toBe(false);
    expect(after.text).toMatch(/^No changes\. The database matches the features/m);
  });

  it('refuses Deploy with the reason in read-only mode, and still plans', async () => {
    const cwd = await demoProject('read-only');
    const server = await serverAt(cwd);
    const plan = (await (await call(server, 'GET', '/v1/plan')).json()) as CapturePlan;
    expect(plan.access).toBe('read-only');
    expect(plan.deployable).toBeNull();
    expect(plan.refused).toMatch(
      /^access is read-only \(nudge\.yaml:\d+\): deploy refuses to write/,
    );
    const refused = await call(server, 'POST', '/v1/deploy', { plan: plan.plan });
    expect(refused.status).toBe(409);
    const body = (await refused.json()) as { error: string; detail: string };
    expect(body.error).toBe('read_only');
    expect(body.detail).toContain('nudge deploy --sql');
  });

  it('answers 503 with the reason deploy gives when it cannot take a table lock, and changes nothing', async () => {
    const cwd = await demoProject();
    // A new capture on orders needs its lock, which another session holds.
    await writeFile(
      path.join(cwd, 'nudge/features/order-gone.yaml'),
      'name: order-gone\ntrigger: { table: public.orders, on: delete }\nstages:\n  - name: noted\n    do: [{ track: { event: order_gone } }]\n',
    );
    const server = await serverAt(cwd);
    const plan = (await (await call(server, 'GET', '/v1/plan')).json()) as CapturePlan;
    expect(plan.changes).toBe(true);
    const holder = await db.sql.reserve();
    try {
      await holder`begin`;
      await holder`lock table public.orders in access exclusive mode`;
      const refused = await call(server, 'POST', '/v1/deploy', { plan: plan.plan });
      expect(refused.status).toBe(503);
      const body = (await refused.json()) as { error: string; detail: string };
      expect(body.error).toBe('deploy_failed');
      expect(body.detail).toMatch(
        /^deploy timed out after 10s waiting for a table lock; nothing was changed \(a long-running transaction/,
      );
    } finally {
      await holder`rollback`;
      holder.release();
    }
    const again = (await (await call(server, 'GET', '/v1/plan')).json()) as CapturePlan;
    expect(again.plan).toBe(plan.plan);
  }, 30_000);

  it('names the feature file that stops the plan', async () => {
    const cwd = await demoProject();
    const file = path.join(cwd, 'nudge/features/heartbeat.yaml');
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace('table: public.orders', 'table: public.ordrs'),
    );
    const response = await call(await serverAt(cwd), 'GET', '/v1/plan');
    expect(response.status).toBe(422);
    expect(((await response.json()) as { detail: string }).detail).toContain(
      'nudge/features/heartbeat.yaml:6:10 trigger.table: table public.ordrs does not exist',
    );
  });
});

describe('a feature after a deploy from the dashboard', () => {
  it('is read as the deploy applied it at once, not as at the server’s start', async () => {
    const cwd = await demoProject();
    const server = await serverAt(
      cwd,
      await loadFeatures(path.join(cwd, 'nudge/features'), {}, cwd),
    );
    const trigger = async () =>
      ((await (await call(server, 'GET', '/v1/features/heartbeat')).json()) as FeatureDetail)
        .trigger;
    expect(await trigger()).toBe('insert on public.orders');
    // Changed while the server runs: still the trigger of its start until deployed.
    const file = path.join(cwd, 'nudge/features/heartbeat.yaml');
    const text = await readFile(file, 'utf8');
    expect(text).toMatch(/^ {2}on: insert$/m);
    await writeFile(file, text.replace(/^ {2}on: insert$/m, '  on: [insert, delete]'));
    expect(await trigger()).toBe('insert on public.orders');

    const plan = (await (await call(server, 'GET', '/v1/plan')).json()) as CapturePlan;
    const deployed = await call(server, 'POST', '/v1/deploy', { plan: plan.plan });
    expect(deployed.status, await deployed.clone().text()).toBe(200);
    // The answer to the deploy comes after the features it applied are the ones read.
    expect(await trigger()).toBe('insert, delete on public.orders');
  });
});
