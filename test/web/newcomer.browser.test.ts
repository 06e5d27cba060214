// What a newcomer's third review of the dashboard found, in real Chromium over
// a server on a test database: a "Skip to content" link is the first thing
// Tab reaches, shows itself when focused and takes the focus past the
// navigation; Logs stops saying "live" once the session ended in another tab,
// and says so; the plan's "paused live" line names the dashboard's Resume,
// not the CLI's command; the Mailbox's To links to the contact with that
// address, when there is one. Screenshots: test-output/dashboard/newcomer-*.png.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../harness/db.js';
import {
  type Dashboard,
  launchBrowser,
  screenshot,
  signedInPage,
  startDashboard,
} from './browser.js';

const db = useDatabase();
const VIEWPORT = { width: 1280, height: 860 };
const soon = { timeout: 10_000 };

let browser: Browser;
let page: Page;
let dashboard: Dashboard;
let base: string;

const shot = (p: Page, name: string) => screenshot(p, `newcomer-${name}`);

beforeAll(async () => {
  dashboard = await startDashboard(db);
  base = dashboard.base;
  browser = await launchBrowser();
  page = await signedInPage(browser, base, dashboard.token);
});

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
});

describe('Skip to content', () => {
  it('is the first stop of Tab, shows itself on focus, and jumps past the navigation', async () => {
    await page.goto(`${base}/features`);
    await page.getByRole('heading', { name: 'Features', level: 1 }).waitFor();
    const skip = page.getByRole('link', { name: 'Skip to content' });
    // Out of sight until focused.
    const hidden = await skip.boundingBox();
    expect(hidden === null || hidden.x + hidden.width <= 0 || hidden.y + hidden.height <= 0).toBe(
      true,
    );

    await page.keyboard.press('Tab');
    expect(await page.locator(':focus').textContent()).toBe('Skip to content');
    const shown = await skip.boundingBox();
    expect(shown).not.toBeNull();
    expect(shown!.x).toBeGreaterThanOrEqual(0);
    expect(shown!.y).toBeGreaterThanOrEqual(0);
    expect(shown!.x + shown!.width).toBeLessThanOrEqual(VIEWPORT.width);
    expect(shown!.width).toBeGreaterThan(40);
    expect(shown!.height).toBeGreaterThan(10);
    await shot(page, 'skip-link');

    await page.keyboard.press('Enter');
    expect(await page.locator('main:focus').count()).toBe(1);
    // The address stays the page's own.
    expect(new URL(page.url()).hash).toBe('');
    // The next Tab is in the page, not the header's links.
    await page.keyboard.press('Tab');
    expect(await page.locator('main :focus').count()).toBe(1);
    expect(await page.locator('header :focus').count()).toBe(0);
  });
});

describe('Logs after the session ended elsewhere', () => {
  it('stops saying live and says the session ended', async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    try {
      const logs = await signedInPage(context, base, dashboard.token);
      await logs.goto(`${base}/logs`);
      const live = logs.getByTestId('live');
      await expect.poll(() => live.textContent(), { timeout: 15_000 }).toBe('● live');

      // Another tab of the same browser signs out: the cookie is gone for both.
      const other = await context.newPage();
      await other.goto(`${base}/features`);
      await other.getByRole('button', { name: 'Sign out' }).click();
      await other.getByRole('heading', { name: 'Nudge dashboard' }).waitFor();

      await expect
        .poll(() => live.textContent(), { timeout: 15_000 })
        .toBe('○ not live: session ended');
      await logs.getByRole('alert').filter({ hasText: 'Your session has ended.' }).waitFor();
      await logs.getByRole('link', { name: 'Sign in again' }).waitFor();
      // The header no longer offers what the session had.
      await expect
        .poll(() => logs.locator('header').getByRole('button', { name: 'Sign out' }).count())
        .toBe(0);
      await shot(logs, 'logs-session-ended');
    } finally {
      await context.close();
    }
  });
});

describe('The plan on the dashboard', () => {
  it('says a paused feature is resumed with Resume, not the CLI command', async () => {
    await db.sql`
      insert into nudge_engine.feature_pauses (feature, paused_by) values ('welcome-drip', 'dashboard')
      on conflict do nothing`;
    try {
      await page.goto(`${base}/features`);
      await page.getByRole('button', { name: 'Plan', exact: true }).click();
      const plan = page.getByTestId('plan-text');
      await plan.waitFor();
      const text = (await plan.textContent()) ?? '';
      expect(text).toMatch(
        /^paused live: welcome-drip \(dashboard, \d{4}-\d\d-\d\d \d\d:\d\d\) — Resume on the feature's page \(Features → welcome-drip\)$/m,
      );
      expect(text).not.toContain('nudge resume');
      await shot(page, 'plan-paused');
    } finally {
      await db.sql`delete from nudge_engine.feature_pauses where feature = 'welcome-drip'`;
    }
  });
});

describe('Mailbox', () => {
  it('links To to the contact with that address, and leaves an unknown address as text', async () => {
    const [ada] = await db.sql<{ id: string }[]>`
      insert into nudge_engine.contacts (email) values ('ada@example.com') returning id`;
    const [bob] = await db.sql<{ id: string }[]>`
      insert into nudge_engine.contacts (email) values ('bob@example.com') returning id`;
    // Bob's was sent by an action run, which names its contact; Ada's and the stranger's by none.
    await db.sql`
      insert into nudge_engine.action_runs (key, feature, contact_id, stage, kind, params, status, attempts)
      values ('mail-bob', 'welcome-drip', ${bob!.id}, 'welcomed', 'email', '{}', 'succeeded', 1)`;
    const mail = async (key: string, to: string) =>
      (
        await db.sql<{ id: number }[]>`
          insert into nudge_engine.mailbox (key, to_address, subject, text)
          values (${key}, ${to}, ${`Hello ${to}`}, 'Hello') returning id::int as id`
      )[0]!.id;
    const mails = {
      ada: await mail('mail-ada', 'ada@example.com'),
      bob: await mail('mail-bob', 'bob@example.com'),
      nobody: await mail('mail-nobody', 'nobody@example.com'),
    };
    const to = page.locator('article.mail > dl > dt:text-is("To") + dd');

    await page.goto(`${base}/mailbox/${mails.bob}`);
    await to.getByRole('link', { name: 'bob@example.com' }).waitFor();
    expect(await to.getByRole('link').getAttribute('href')).toBe(`/contacts/${bob!.id}`);

    await page.goto(`${base}/mailbox/${mails.ada}`);
    await to.getByRole('link', { name: 'ada@example.com' }).waitFor();
    expect(await to.getByRole('link').getAttribute('href')).toBe(`/contacts/${ada!.id}`);
    await shot(page, 'mailbox-to');
    await to.getByRole('link').click();
    await page.getByRole('heading', { name: 'ada@example.com' }).waitFor();

    // No contact has the stranger's address: the lookup answers 404, and To stays text.
    const asked = page.waitForResponse((r) =>
      r.url().includes(`/v1/contacts/${encodeURIComponent('nobody@example.com')}`),
    );
    await page.goto(`${base}/mailbox/${mails.nobody}`);
    expect((await asked).status()).toBe(404);
    await expect.poll(() => to.textContent(), soon).toBe('nobody@example.com');
    expect(await to.getByRole('link').count()).toBe(0);
  });
});
