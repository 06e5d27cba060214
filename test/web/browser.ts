// What the dashboard's browser tests share: Debian's Chromium driven by
// playwright-core (headless, no sandbox, nothing fetched in the background),
// a dashboard server on the test's database, a page signed in to it,
// screenshots in test-output/dashboard/, and the page globals that
// page.evaluate callbacks use (declared there, not with the DOM lib, which
// would change the types of the whole test program).
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Page,
  type Route,
} from 'playwright-core';
import type postgres from 'postgres';
import { deploy } from '../../src/capture/deploy.js';
import { planChange } from '../../src/cli/capture.js';
import { type LoadedConfig, loadConfig } from '../../src/config/load.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { type Feature, loadFeatures } from '../../src/features/load.js';
import { makeServer } from '../../src/server/index.js';
import type { TestDatabase } from '../harness/db.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';
import { testProject } from '../server/helpers.js';

export const CHROMIUM = '/usr/bin/chromium';
export const SHOTS = path.resolve('test-output/dashboard');
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Chromium, once dist/web (npm run build) and the browser are there; says which is missing. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync('dist/web/index.html')) throw new Error('dist/web is missing: run npm run build');
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  await mkdir(SHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
}

const DEMO_FEATURES = path.resolve('examples/demo/nudge/features');

/** The demo's features (examples/demo/nudge/features), as the dashboard shows them. */
export const demoFeatures = (): Promise<Feature[]> =>
  loadFeatures(DEMO_FEATURES, {}, path.dirname(DEMO_FEATURES));

/** A dashboard server the browser tests open: its address and token. */
export interface Dashboard {
  base: string;
  token: string;
  close(): Promise<void>;
}

/**
 * Nudge's HTTP server on the test's database (its engine store migrated)
 * with the dashboard of `features` (the demo's unless given), listening on
 * a free loopback port; `movableClock`: the Clock page moves the engine's
 * clock, as under `nudge dev`.
 */
export async function startDashboard(
  db: TestDatabase,
  options: { features?: Feature[]; movableClock?: boolean } = {},
): Promise<Dashboard> {
  await migrateEngine(db.sql, db.url);
  const server = await makeServer({
    sql: db.sql,
    project: await testProject(),
    route: () => 0,
    log: pino({ level: 'silent' }),
    dashboard: {
      features: options.features ?? (await demoFeatures()),
      source: db.sql,
      sourceUrl: db.url,
      movableClock: options.movableClock ?? false,
    },
  });
  const running = await server.listen({ host: '127.0.0.1', port: 0 });
  return { base: running.url, token: server.dashboard.token, close: () => running.close() };
}

/**
 * A page signed in to the dashboard at `base` with its `token`, on the
 * Overview, waiting up to 15 s for what it is asked: a desktop-sized page of
 * a browser, or a page of a context (which says its size, locale and zone).
 */
export async function signedInPage(
  from: Browser | BrowserContext,
  base: string,
  token: string,
): Promise<Page> {
  const page =
    'newContext' in from
      ? await from.newPage({ viewport: { width: 1280, height: 860 } })
      : await from.newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(`${base}/?token=${token}`);
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  return page;
}

/** A full-page screenshot named `name` in test-output/dashboard/. */
export const screenshot = (page: Page, name: string) =>
  page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

/** Whether the page scrolls sideways (it should not, down to a phone's width). */
export const overflowsSideways = (page: Page) =>
  page.evaluate(() => {
    const root = (
      globalThis as unknown as {
        document: { documentElement: { scrollWidth: number; clientWidth: number } };
      }
    ).document.documentElement;
    return root.scrollWidth > root.clientWidth + 1;
  });

const DEMO = path.resolve('examples/demo/nudge');

/**
 * The project the browser tests run: the demo's welcome drip and upload
 * webhook with its templates, short retries, the upload's media service a
 * recorder answering 503 (down until a test brings it back), run as `nudge
 * dev` runs it (dev mailbox, movable clock), deployed as `nudge deploy` does.
 */
export async function dashboardProject(
  sql: postgres.Sql,
  url: string,
  backoffMs: number,
): Promise<{ cwd: string; project: LoadedConfig; media: Recorder }> {
  const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-dashboard-'));
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  await writeFile(
    path.join(cwd, 'nudge.yaml'),
    `server: { port: 0 }
templates: nudge/templates
contacts:
  attributes: { onboarded: boolean, first_name: text, plan: text }
actions: { max_attempts: 2, backoff_base_ms: ${backoffMs}, backoff_max_ms: ${backoffMs * 2} }
`,
  );
  for (const feature of ['welcome-drip', 'upload-thumbnails'])
    await cp(
      path.join(DEMO, `features/${feature}.yaml`),
      path.join(cwd, `nudge/features/${feature}.yaml`),
    );
  await cp(path.join(DEMO, 'templates'), path.join(cwd, 'nudge/templates'), { recursive: true });
  const media = await startRecorder();
  media.respondWith({ status: 503, body: { error: 'media service down' } });
  const loaded = await loadConfig({
    cwd,
    env: { DATABASE_URL: url, MEDIA_WEBHOOK_URL: `${media.url}/thumbnails` },
  });
  const project = { ...loaded, databaseUrlFrom: 'nudge dev' };
  await deploy(sql, (await planChange(project, sql)).plan.desired);
  return { cwd, project, media };
}

/**
 * Holds the page's requests to `url` (a glob) until `release()`, which lets
 * them go on, waits for them, and stops holding: what a page shows while an
 * answer is on its way.
 */
export async function holdRequests(page: Page, url: string): Promise<{ release(): Promise<void> }> {
  let open = () => {};
  const held = new Promise<void>((resolve) => {
    open = resolve;
  });
  let continued: Promise<void> | undefined;
  const hold = async (route: Route) => {
    continued = held.then(() => route.continue());
    await continued;
  };
  await page.route(url, hold);
  return {
    async release() {
      open();
      await continued;
      await page.unroute(url, hold);
    },
  };
}
