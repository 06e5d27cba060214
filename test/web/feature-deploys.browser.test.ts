// Each feature's deploy state on the dashboard, in real Chromium over a
// server on the Supabase-shaped demo database with the demo's features,
// deployed once: the Features list's Deploy column (deployed #1, changed
// since #1 for a file that needs another capture, not deployed for a new
// file, no capture needed for a scheduled feature), each a link to the
// feature; the feature's Capture line naming the deployment, its time and
// the trigger, or what the next deploy would apply, with Plan and Deploy on
// the page, after which the line says the new deployment at once (not at
// the page's next 5 s read), and its YAML, the file on disk, said not
// deployed yet before and not after; a scheduled feature's line saying why
// it needs none; on a read-only server, that
// Deploy is refused from here; and a feature file broken while the server
// runs, which leaves no plan: the list says why every state is unknown once,
// above the table, with the file and line, also at a phone's width.
// Screenshots: test-output/dashboard/feature-deploys-*.png.
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../src/capture/deploy.js';
import { planChange } from '../../src/cli/capture.js';
import { loadConfig } from '../../src/config/load.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { loadFeatures } from '../../src/features/load.js';
import { makeServer, type RunningServer } from '../../src/server/index.js';
import { useDatabase } from '../harness/db.js';
import { readOnlyCopy } from '../harness/project.js';
import { launchBrowser, overflowsSideways, screenshot, signedInPage } from './browser.js';

const db = useDatabase();
const soon = { timeout: 15_000 };

let browser: Browser;
let page: Page;
let cwd: string;
const servers: RunningServer[] = [];

const shot = (name: string, on = page) => screenshot(on, `feature-deploys-${name}`);

/** A server of the project in `dir` on the test database, and a page signed in to it. */
async function dashboardAt(dir: string): Promise<Page> {
  const project = await loadConfig({ cwd: dir, env: { DATABASE_URL: db.url } });
  const server = await makeServer({
    sql: db.sql,
    project,
    route: () => 0,
    log: pino({ level: 'silent' }),
    dashboard: {
      features: await loadFeatures(path.join(dir, 'nudge/features'), {}, dir),
      source: db.sql,
      sourceUrl: db.url,
    },
  });
  const running = await server.listen({ host: '127.0.0.1', port: 0 });
  servers.push(running);
  const signedIn = await signedInPage(browser, running.url, server.dashboard.token);
  await signedIn.setViewportSize({ width: 1280, height: 860 });
  return signedIn;
}

const writeFeature = (dir: string, name: string, text: string) =>
  writeFile(path.join(dir, 'nudge/features', `${name}.yaml`), text);

beforeAll(async () => {
  await db.sql.unsafe(await readFile(path.resolve('src/dev/demo.sql'), 'utf8'));
  await migrateEngine(db.sql, db.url);
  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-feature-deploys-'));
  await cp(path.resolve('examples/demo'), cwd, { recursive: true });
  // Deployment #1, as `nudge deploy` makes it.
  const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
  await deploy(db.sql, (await planChange(project, db.sql)).plan.desired);
  // Since then: heartbeat also wants deleted orders, and a feature file is new.
  const heartbeat = path.join(cwd, 'nudge/features/heartbeat.yaml');
  const text = await readFile(heartbeat, 'utf8');
  expect(text).toMatch(/^ {2}on: insert$/m);
  await writeFile(heartbeat, text.replace(/^ {2}on: insert$/m, '  on: [insert, delete]'));
  await writeFeature(
    cwd,
    'cart-gone',
    'name: cart-gone\ntrigger: { table: public.carts, on: delete }\nstages:\n  - name: noted\n    do: [{ track: { event: cart_gone } }]\n',
  );
  browser = await launchBrowser();
  page = await dashboardAt(cwd);
});

afterAll(async () => {
  await browser?.close();
  for (const server of servers) await server.close();
});

/** The Deploy cell of a feature's row on the Features page. */
const deployCell = (name: string) =>
  page.locator(`tr[data-feature="${name}"] td[data-label="Deploy"]`);

describe('the Features list', () => {
  it('shows each feature’s deploy state in the Deploy column, linking to the feature', async () => {
    await page.getByRole('link', { name: 'Features', exact: true }).click();
    await deployCell('welcome-drip').locator('a').waitFor();
    const states = await page.locator('tbody tr').evaluateAll((rows) =>
      rows.map((row) => [
        row.getAttribute('data-feature'),
        // Its spaces do not break: the badge stays on one line.
        row.querySelector('td[data-label="Deploy"]')?.textContent?.replaceAll('\u00a0', ' '),
      ]),
    );
    expect(states).toEqual([
      ['abandoned-cart', 'deployed #1'],
      ['cart-gone', 'not deployed'],
      ['heartbeat', 'changed since #1'],
      ['inactivity', 'no capture needed'],
      ['order-confirmation', 'deployed #1'],
      ['order-paid', 'deployed #1'],
      ['trial-ending', 'no capture needed'],
      ['upload-thumbnails', 'deployed #1'],
      ['weekly-digest', 'no capture needed'],
      ['welcome-drip', 'deployed #1'],
    ]);
    // The whole state on hover and for screen readers.
    expect(await deployCell('heartbeat').locator('a').getAttribute('title')).toBe(
      'changed since #1: its file changed since deployment #1; + trigger nudge_capture_delete on public.orders (delete)',
    );
    expect(await deployCell('welcome-drip').locator('a').getAttribute('title')).toBe(
      'deployed #1: trigger nudge_capture_insert on auth.users (insert)',
    );
    // A reason follows a dash: it has a colon of its own.
    expect(await deployCell('trial-ending').locator('a').getAttribute('title')).toBe(
      'no capture needed — a scheduled feature: the engine queries public.subscriptions on its schedule, no trigger is needed',
    );
    // Every state is known: nothing is said above the table.
    expect(await page.getByTestId('deploy-unknown').count()).toBe(0);
    await shot('list');

    await deployCell('heartbeat').locator('a').click();
    await page.locator('main h1', { hasText: 'heartbeat' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/features/heartbeat');
  });
});

describe('a feature’s page', () => {
  it('says what the next deploy would apply, deploys it, then names the new deployment', async () => {
    // The page's timers under the test's hand, so its 5 s poll cannot be what shows the deploy.
    await page.clock.install();
    await page.goto(new URL('/features/heartbeat', page.url()).toString());
    const capture = page.getByTestId('capture');
    await capture.waitFor();
    expect(await capture.textContent()).toMatch(
      /^changed since deployment #1 \((just now|\d+ (s|min) ago)\); the next deploy would apply:its file changed since deployment #1\+ trigger nudge_capture_delete on public\.orders \(delete\)Plan and deploy, below, apply it\.$/,
    );
    expect(await capture.locator('li').allTextContents()).toEqual([
      'its file changed since deployment #1',
      '+ trigger nudge_capture_delete on public.orders (delete)',
    ]);
    // The YAML is the file on disk, which differs from the deployed one: said there.
    expect(await page.locator('h2', { hasText: 'YAML' }).textContent()).toBe(
      'YAML the file on disk, nudge/features/heartbeat.yaml not deployed yet',
    );
    expect(await page.getByTestId('yaml-not-deployed').textContent()).toBe(
      'It changed since deployment #1. The trigger and stages above are as the server read the file (at its start or the last deploy); Plan and deploy apply the file as it is here.',
    );
    await shot('changed');

    // From here no timer fires: what the page shows next, it reads because of the deploy.
    // (30 s on, so the new deployment is in the page's past: "… s ago".)
    await page.clock.pauseAt(Date.now() + 30_000);
    try {
      await page.getByRole('button', { name: 'Plan', exact: true }).click();
      await page.getByTestId('plan-text').waitFor();
      await page.getByRole('button', { name: 'Deploy', exact: true }).click();
      await page.getByRole('button', { name: 'Yes, deploy' }).click();
      await page.getByText(/^Deployment #2: \d+ created/).waitFor(soon);
      await capture.getByText(/^deployed in deployment #2 /).waitFor(soon);
      expect(await capture.textContent()).toMatch(
        /^deployed in deployment #2 \(\d+ s ago\) — trigger nudge_capture_insert on public\.orders \(insert\), trigger nudge_capture_delete on public\.orders \(delete\)$/,
      );
      expect(await page.locator('h2', { hasText: 'YAML' }).textContent()).toBe(
        'YAML the file on disk, nudge/features/heartbeat.yaml',
      );
      expect(await page.getByTestId('yaml-not-deployed').count()).toBe(0);
      await shot('deployed');
    } finally {
      await page.clock.resume();
    }
  });

  it('names the deployment and the trigger of a feature deployed before', async () => {
    await page.goto(new URL('/features/welcome-drip', page.url()).toString());
    const capture = page.getByTestId('capture');
    await capture.waitFor();
    expect(await capture.textContent()).toMatch(
      /^deployed in deployment #1 \((just now|\d+ (s|min) ago)\) — trigger nudge_capture_insert on auth\.users \(insert\)$/,
    );
    // Its time, exactly, on hover.
    const [first] = await db.sql<{ at: Date }[]>`
      select deployed_at as at from nudge.deployments where id = 1`;
    expect(await capture.locator('time').getAttribute('datetime')).toBe(first!.at.toISOString());
    await shot('welcome-drip');
  });

  it('says why a scheduled feature needs no capture, in a sentence', async () => {
    await page.goto(new URL('/features/trial-ending', page.url()).toString());
    const capture = page.getByTestId('capture');
    await capture.waitFor();
    expect(await capture.textContent()).toBe(
      'none needed — a scheduled feature: the engine queries public.subscriptions on its schedule, no trigger is needed',
    );
  });

  it('says Deploy is refused from here on a read-only server', async () => {
    const dir = await readOnlyCopy(cwd, 'nudge-feature-deploys-ro-');
    await writeFeature(
      dir,
      'trial-started',
      'name: trial-started\ntrigger: { table: public.subscriptions, on: insert }\nstages:\n  - name: noted\n    do: [{ track: { event: trial_started } }]\n',
    );
    const other = await dashboardAt(dir);
    try {
      await other.goto(new URL('/features/trial-started', other.url()).toString());
      const capture = other.getByTestId('capture');
      await capture.waitFor();
      expect(await capture.locator('li').allTextContents()).toEqual([
        '+ trigger nudge_capture_insert on public.subscriptions (insert)',
      ]);
      expect(await other.getByTestId('capture-refused').textContent()).toMatch(
        /^Deploy is refused from here: access is read-only \(nudge\.yaml:\d+\): deploy refuses to write to the database; .*nudge deploy --sql/,
      );
      await shot('read-only', other);
    } finally {
      await other.close();
    }
  });
});

describe('a feature file that does not check', () => {
  it('says once, above the list, why every deploy state is unknown, with the file and line', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'nudge-feature-deploys-broken-'));
    await cp(cwd, dir, { recursive: true });
    const other = await dashboardAt(dir);
    try {
      // Broken while the server runs: the next plan reads it and fails.
      const file = path.join(dir, 'nudge/features/welcome-drip.yaml');
      const text = await readFile(file, 'utf8');
      expect(text).toMatch(/^ {4}after: 2d$/m);
      await writeFile(file, text.replace(/^ {4}after: 2d$/m, '    afterwards: 2d'));
      const line = text.split('\n').indexOf('    after: 2d') + 1;

      await other.goto(new URL('/features', other.url()).toString());
      const said = other.getByTestId('deploy-unknown');
      await said.waitFor();
      const sentence = await said.textContent();
      expect(sentence).toMatch(
        new RegExp(
          `^Deploy state unknown: (\\S*/)?nudge/features/welcome-drip\\.yaml:${line}:5 .*afterwards.* — fix the file, then Plan\\.$`,
        ),
      );
      // Said once, not once a row; each row keeps its badge, the whole reason on hover.
      expect(sentence).not.toMatch(/^no plan could be made/);
      const rows = other.locator('tbody tr');
      expect(await rows.count()).toBe(10);
      expect(
        new Set(
          await other
            .locator('td[data-label="Deploy"] [data-deploy]')
            .evaluateAll((cells) => cells.map((cell) => cell.getAttribute('data-deploy'))),
        ),
      ).toEqual(new Set(['unknown']));
      expect(
        await other
          .locator('tr[data-feature="heartbeat"] td[data-label="Deploy"] a')
          .getAttribute('title'),
      ).toMatch(/^unknown — no plan could be made: .*welcome-drip\.yaml:/);
      await shot('unknown', other);

      // At a phone's width the sentence is there to read, without hover, on the page's width.
      await other.setViewportSize({ width: 390, height: 844 });
      expect(await said.isVisible()).toBe(true);
      expect(await overflowsSideways(other)).toBe(false);
      await shot('unknown-phone', other);
    } finally {
      await other.close();
    }
  });
});

describe('a feature’s Trigger line after Deploy', () => {
  it('says the trigger the deploy applied at once, not at the page’s next 5 s read', async () => {
    // Changed while the server runs: the page says the trigger the server read at its start.
    const file = path.join(cwd, 'nudge/features/cart-gone.yaml');
    const text = await readFile(file, 'utf8');
    expect(text).toContain('on: delete }');
    await writeFile(file, text.replace('on: delete }', 'on: [delete, update] }'));
    await page.clock.install();
    await page.goto(new URL('/features/cart-gone', page.url()).toString());
    const trigger = page.locator('dl.facts dt', { hasText: /^Trigger$/ }).locator('+ dd');
    await trigger.waitFor();
    expect(await trigger.textContent()).toBe('delete on public.carts');
    await page.getByTestId('yaml-not-deployed').waitFor();

    // From here no timer fires: what the page shows next, it reads because of the deploy.
    await page.clock.pauseAt(Date.now() + 30_000);
    try {
      await page.getByRole('button', { name: 'Plan', exact: true }).click();
      await page.getByTestId('plan-text').waitFor();
      await page.getByRole('button', { name: 'Deploy', exact: true }).click();
      await page.getByRole('button', { name: 'Yes, deploy' }).click();
      await page.getByText(/^Deployment #\d+: \d+ created/).waitFor(soon);
      await page.getByTestId('yaml-not-deployed').waitFor({ state: 'detached', ...soon });
      expect(await trigger.textContent()).toMatch(
        /^(delete, update|update, delete) on public\.carts$/,
      );
      await shot('trigger-deployed');
    } finally {
      await page.clock.resume();
    }
  });
});
