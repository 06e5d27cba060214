// The Contacts page's Sync panel, in real Chromium over a dashboard whose
// nudge.yaml syncs Supabase Auth users from the test database: before any
// sync it says so; Sync now asks first, saying that this first run reads
// every user (Cancel starts nothing), Yes starts the sync through the
// dashboard session (its CSRF value, an allowed write) and the panel follows
// it to done with its counts and its mode in words, the contact book then
// holding the synced users; the next Sync now says it reads only the users
// changed since. With live sync on (sync.realtime), the panel says contacts
// are kept current as they change and that Sync now reads the whole table
// once to catch up, also at a phone's width. A dashboard with no sync set up
// says how in one line and offers no button. Screenshots:
// test-output/dashboard/sync-*.png.
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LoadedConfig, loadConfig } from '../../src/config/load.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { makeServer } from '../../src/server/index.js';
import { useDatabase } from '../harness/db.js';
import { testProject } from '../server/helpers.js';
import { insertUsers } from '../sync/fixture.js';
import {
  type Dashboard,
  launchBrowser,
  overflowsSideways,
  screenshot,
  signedInPage,
} from './browser.js';

const db = useDatabase();
const USERS = 12;

let browser: Browser;
let page: Page;
let dashboard: Dashboard;

const shot = (name: string) => screenshot(page, `sync-${name}`);

/** The servers' master key: the second reads the ingest secret the first stored. */
const MASTER = randomBytes(32);

/** A dashboard of `project` on the test database, listening on a free loopback port. */
async function serve(project: LoadedConfig): Promise<Dashboard> {
  await migrateEngine(db.sql, db.url);
  const server = await makeServer({
    sql: db.sql,
    project,
    route: () => 0,
    log: pino({ level: 'silent' }),
    keys: { key: MASTER },
    dashboard: { source: db.sql, sourceUrl: db.url },
  });
  const running = await server.listen({ host: '127.0.0.1', port: 0 });
  return { base: running.url, token: server.dashboard.token, close: () => running.close() };
}

/**
 * A project that syncs auth users (connectors.supabase.sync.users) from the
 * test database; `live`: live sync keeps them current too (sync.realtime).
 */
async function syncingProject(live = false): Promise<LoadedConfig> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nudge-sync-web-'));
  await writeFile(
    path.join(dir, 'nudge.yaml'),
    `connectors:\n  supabase:\n    batch_size: 5\n    sync: { users: true${live ? ', realtime: true' : ''} }\n`,
  );
  return loadConfig({ cwd: dir, env: { DATABASE_URL: db.url } });
}

/** The question Sync now asks, once it is open. */
const question = (on = page) => on.locator('fieldset.confirm .question').textContent();

beforeAll(async () => {
  await insertUsers(db.sql, USERS);
  dashboard = await serve(await syncingProject());
  browser = await launchBrowser();
  page = await signedInPage(browser, dashboard.base, dashboard.token);
});

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
});

const usersRow = () => page.locator('tr[data-sync="users"]');
const syncState = async () =>
  (await db.sql<{ status: string }[]>`select status from nudge_engine.sync_state`).map(
    (row) => row.status,
  );

describe('the Sync panel', () => {
  it('shows the users sync before it has run', async () => {
    await page.goto(`${dashboard.base}/contacts`);
    await page.getByRole('heading', { name: 'Sync', level: 2 }).waitFor();
    await expect.poll(() => usersRow().getAttribute('data-status')).toBe('idle');
    expect(await usersRow().locator('.badge').textContent()).toBe('never synced');
    expect(await usersRow().getAttribute('data-live')).toBeNull();
    expect(await page.getByTestId('sync-live').count()).toBe(0);
    expect(await page.getByText('No contacts match.').isVisible()).toBe(true);
    await shot('before');
  });

  it('asks before it syncs, and Cancel starts nothing', async () => {
    await page.getByRole('button', { name: 'Sync now' }).click();
    const asking = page.getByRole('group', { name: /^Sync users from Supabase now\?/ });
    await asking.waitFor();
    expect(await question()).toBe('Sync users from Supabase now? This first run reads every user.');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await asking.waitFor({ state: 'detached' });
    expect(await syncState()).toEqual([]);
  });

  it('syncs on Yes and follows the run to done with its counts', async () => {
    await page.getByRole('button', { name: 'Sync now' }).click();
    await shot('confirm');
    await page.getByRole('button', { name: 'Yes, sync' }).click();
    await expect
      .poll(() => usersRow().getAttribute('data-status'), { timeout: 20_000 })
      .toBe('done');
    expect(await usersRow().locator('.badge').textContent()).toBe('done');
    expect(await usersRow().getByTestId('sync-counts').textContent()).toBe(
      `${USERS} synced (${USERS} new, 0 updated) · 0 skipped`,
    );
    expect(await usersRow().locator('td[data-label="Last run"] time').textContent()).toMatch(
      /ago|now/,
    );
    // Its mode in words, and what that means on hover.
    const mode = usersRow().getByTestId('sync-mode');
    expect((await mode.textContent())?.trim()).toBe('full: read every row');
    expect(await mode.getAttribute('title')).toMatch(/^A full run reads every row/);
    expect(await syncState()).toEqual(['done']);
    // The contact book is read again once the sync has ended.
    await expect.poll(() => page.locator('tr[data-contact]').count()).toBe(USERS);
    expect(await page.getByRole('button', { name: 'Sync now' }).isEnabled()).toBe(true);
    await shot('done');
  });

  it('says the next run reads only the users changed since the last, and shows it so', async () => {
    await page.getByRole('button', { name: 'Sync now' }).click();
    expect(await question()).toMatch(
      /^Sync users from Supabase now\? This run reads only the users changed since the last run \(since .+\)\.$/,
    );
    await shot('confirm-incremental');
    await page.getByRole('button', { name: 'Yes, sync' }).click();
    const mode = usersRow().getByTestId('sync-mode');
    await expect
      .poll(async () => (await mode.textContent())?.trim(), { timeout: 20_000 })
      .toMatch(/^incremental: rows changed since \S/);
    await expect.poll(() => usersRow().getAttribute('data-status')).toBe('done');
    expect(await mode.getAttribute('title')).toMatch(
      /^An incremental run reads only the rows changed since the time shown/,
    );
    const [state] = await db.sql<{ mode: string }[]>`
      select cursor ->> 'mode' as mode from nudge_engine.sync_state where name = 'users'`;
    expect(state?.mode).toBe('incremental');
  });
});

describe('a dashboard whose users live sync keeps current', () => {
  let live: Dashboard;
  let other: Page;
  beforeAll(async () => {
    // Contacts are there (live sync made them as users signed up); no sync has run.
    await db.sql`delete from nudge_engine.sync_state`;
    live = await serve(await syncingProject(true));
    other = await signedInPage(browser, live.base, live.token);
  });
  afterAll(async () => {
    await other?.close();
    await live?.close();
  });
  const row = () => other.locator('tr[data-sync="users"]');

  it('says contacts are kept current, and that Sync now reads the whole table once to catch up', async () => {
    await other.goto(`${live.base}/contacts`);
    const note = other.getByTestId('sync-live');
    await note.waitFor();
    expect(await note.textContent()).toBe(
      'Live sync is on for Auth users (connectors.supabase.sync.realtime): contacts are kept current as they change. Sync now reads the whole table once, to catch up on what happened before.',
    );
    expect(await row().getAttribute('data-live')).toBe('true');
    expect(await row().locator('td[data-label="Sync"] .badge').textContent()).toBe('live');
    expect(await row().locator('td[data-label="Status"] .badge').textContent()).toBe(
      'not read in full yet',
    );
    await other.getByRole('button', { name: 'Sync now' }).click();
    expect(await question(other)).toBe(
      'Sync users from Supabase now? This first run reads every user.',
    );
    await other.setViewportSize({ width: 390, height: 844 });
    expect(await note.isVisible()).toBe(true);
    expect(await overflowsSideways(other)).toBe(false);
    await screenshot(other, 'sync-live-phone');
    await other.setViewportSize({ width: 1280, height: 860 });

    await other.getByRole('button', { name: 'Yes, sync' }).click();
    await expect.poll(() => row().getAttribute('data-status'), { timeout: 20_000 }).toBe('done');
    // Caught up: the users were there already, made by live sync.
    expect(await row().getByTestId('sync-counts').textContent()).toBe(
      `${USERS} synced (0 new, ${USERS} updated) · 0 skipped`,
    );
    await expect
      .poll(() => note.textContent())
      .toBe(
        'Live sync is on for Auth users (connectors.supabase.sync.realtime): contacts are kept current as they change. Sync now catches up on anything live sync missed (while the engine was stopped, say).',
      );
  });
});

describe('a dashboard with no sync set up', () => {
  let bare: Dashboard;
  beforeAll(async () => {
    bare = await serve(await testProject());
  });
  afterAll(async () => {
    await bare?.close();
  });

  it('says how to set one up in one line, with no Sync now', async () => {
    const other = await signedInPage(browser, bare.base, bare.token);
    try {
      await other.goto(`${bare.base}/contacts`);
      const hint = other.getByTestId('sync-hint');
      await hint.waitFor();
      expect(await hint.textContent()).toContain('connectors.supabase.sync.users: true');
      expect(await other.getByRole('button', { name: 'Sync now' }).count()).toBe(0);
      await screenshot(other, 'sync-not-configured');
    } finally {
      await other.close();
    }
  });
});
