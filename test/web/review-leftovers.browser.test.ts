// What earlier reviews left, in real Chromium over a dashboard on a test
// database: a contact's synced times (created_at, last_sign_in_at among its
// attributes) shown as every time on the dashboard is, not as ISO text; a
// feature paused live said on Logs — since when and by whom (`nudge pause`,
// the dashboard) — and gone from there once resumed, without a reload; each
// pause and resume a decision in the list, by whom, as it is made; and
// the New segment form's live count warning of an attribute no contact has,
// in the API's words, as the segment's creation does.
// Screenshots: test-output/dashboard/leftovers-*.png.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pauseFeature, resumeFeature } from '../../src/engine/match/pauses.js';
import { useDatabase } from '../harness/db.js';
import {
  type Dashboard,
  launchBrowser,
  screenshot,
  signedInPage,
  startDashboard,
} from './browser.js';

declare const window: { __marker?: number };

const db = useDatabase();
let browser: Browser;
let page: Page;
let dashboard: Dashboard;

const shot = (name: string) => screenshot(page, `leftovers-${name}`);
const SIGNED_UP = '2026-03-01T09:05:07.123456+00:00';
const SIGNED_IN = '2026-03-02T17:45:00+00:00';
let ada: string;

beforeAll(async () => {
  dashboard = await startDashboard(db);
  // A contact as the Auth sync writes one: its user's times among its attributes.
  const [row] = await db.sql<{ id: string }[]>`
    insert into nudge_engine.contacts (email, attributes)
    values ('ada@example.com', ${db.sql.json({ created_at: SIGNED_UP, last_sign_in_at: SIGNED_IN, plan: 'pro', provider: 'email' })})
    returning id`;
  ada = row!.id;
  browser = await launchBrowser();
  page = await signedInPage(browser, dashboard.base, dashboard.token);
});

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
});

describe('a contact’s page', () => {
  it('shows the times among its attributes as times, the exact value on hover', async () => {
    await page.goto(`${dashboard.base}/contacts/${ada}`);
    await page.getByRole('heading', { name: 'ada@example.com' }).waitFor();
    const value = (name: string) =>
      page.locator('dl.facts dt', { hasText: new RegExp(`^${name}$`) }).locator('+ dd');
    for (const [name, iso] of [
      ['created_at', SIGNED_UP],
      ['last_sign_in_at', SIGNED_IN],
    ] as const) {
      const time = value(name).locator('time');
      expect(await time.getAttribute('datetime'), name).toBe(iso);
      // Another day than today: dated, to the second, in the browser's local time (format.ts localTime).
      const shown = await page.evaluate(
        (at) =>
          new Date(at).toLocaleString(undefined, {
            day: 'numeric',
            month: 'short',
            hour: '2-digit',
            minute: '2-digit',
            second: '2-digit',
          }),
        iso,
      );
      expect(await value(name).textContent(), name).toBe(shown);
      expect(await time.getAttribute('title'), name).toContain(iso);
    }
    // Other values stay as they are.
    expect(await value('plan').textContent()).toBe('pro');
    await shot('contact');
  });
});

describe('Logs', () => {
  const pausedLine = () => page.getByTestId('paused-live');

  it('says a feature paused live, since when and by whom, and no longer once it is resumed', async () => {
    await pauseFeature(db.sql, 'welcome-drip', 'cli');
    const [pause] = await db.sql<{ at: Date }[]>`
      select paused_at as at from nudge_engine.feature_pauses where feature = 'welcome-drip'`;
    await page.goto(`${dashboard.base}/logs?feature=welcome-drip`);
    await pausedLine().waitFor();
    expect(await pausedLine().textContent()).toMatch(
      /^welcome-drip is paused live, since \S+ \S* ?by cli: its events are skipped with the reason “paused” until it is resumed \(on its page, or nudge resume welcome-drip\)\.$/,
    );
    expect(await pausedLine().locator('time').getAttribute('datetime')).toBe(
      pause!.at.toISOString(),
    );
    await shot('logs-paused');
    // Another feature's log does not say it.
    await page.goto(`${dashboard.base}/logs?feature=abandoned-cart`);
    await page.getByTestId('live').getByText('● live').waitFor();
    expect(await pausedLine().count()).toBe(0);

    // Resumed (nudge resume) while the page is open: the tail says so, no reload.
    await page.goto(`${dashboard.base}/logs?feature=welcome-drip`);
    await pausedLine().waitFor();
    await page.getByTestId('live').getByText('● live').waitFor();
    await resumeFeature(db.sql, 'welcome-drip', 'cli');
    await pausedLine().waitFor({ state: 'detached' });
  });

  it('says a pause made on the dashboard as the dashboard’s, as it is made', async () => {
    await page.goto(`${dashboard.base}/logs`);
    await page.getByTestId('live').getByText('● live').waitFor();
    expect(await pausedLine().count()).toBe(0);
    // Paused from another window: the open Logs hears of it.
    const other = await signedInPage(browser, dashboard.base, dashboard.token);
    try {
      await other.goto(`${dashboard.base}/features/welcome-drip`);
      await other.getByRole('button', { name: 'Pause' }).click();
      await other.getByTestId('paused-note').waitFor();
    } finally {
      await other.close();
    }
    await pausedLine().waitFor();
    expect(await pausedLine().textContent()).toMatch(
      /^welcome-drip is paused live, .* by dashboard:/,
    );
    await resumeFeature(db.sql, 'welcome-drip', 'cli');
  });

  it('lists each pause and resume among the decisions, by whom, as they are made, and by outcome', async () => {
    const moves = page.locator('li.decision[data-feature="abandoned-cart"]');
    const move = (outcome: string) => moves.and(page.locator(`[data-outcome="${outcome}"]`));
    await page.goto(`${dashboard.base}/logs?feature=abandoned-cart`);
    await page.getByTestId('live').getByText('● live').waitFor();
    expect(await moves.count()).toBe(0);
    // The same document throughout: what follows comes over the live tail.
    await page.evaluate(() => {
      window.__marker = 1;
    });

    await pauseFeature(db.sql, 'abandoned-cart', 'cli');
    await move('paused').waitFor();
    expect(await move('paused').locator('.badge').textContent()).toBe('paused');
    expect(await move('paused').locator('.reason').textContent()).toBe(
      'by cli: its events are skipped until it is resumed',
    );
    // Resumed on the feature's page, in another window: by the dashboard.
    const other = await signedInPage(browser, dashboard.base, dashboard.token);
    try {
      await other.goto(`${dashboard.base}/features/abandoned-cart`);
      await other.getByRole('button', { name: 'Resume' }).click();
      await other.getByRole('button', { name: 'Pause' }).waitFor();
    } finally {
      await other.close();
    }
    await move('resumed').waitFor();
    // The note of the pause goes with it, not a second later.
    expect(await pausedLine().count()).toBe(0);
    expect(await move('resumed').locator('.reason').textContent()).toBe(
      'by dashboard: its events are no longer skipped as paused',
    );
    // Newest first: the resume above the pause; a second pause would have logged nothing.
    expect(await moves.evaluateAll((rows) => rows.map((row) => row.dataset.outcome))).toEqual([
      'resumed',
      'paused',
    ]);
    expect(await page.evaluate(() => window.__marker)).toBe(1);
    await shot('logs-pause-resume');

    // The Outcome filter has them: its address, and only the pauses.
    await page.getByLabel('Outcome').selectOption('paused');
    await page.waitForURL(/[?&]outcome=paused(&|$)/);
    await page.getByTestId('live').getByText('● live').waitFor();
    await move('paused').waitFor();
    expect(await moves.evaluateAll((rows) => rows.map((row) => row.dataset.outcome))).toEqual([
      'paused',
    ]);
  });
});

describe('the New segment form’s live count', () => {
  const liveCount = () => page.getByTestId('live-count').textContent();
  const warnings = () => page.getByTestId('live-count-warning').allTextContents();

  it('warns of an attribute no contact has, with the name it likely is', async () => {
    await page.goto(`${dashboard.base}/lists`);
    await page.getByRole('heading', { name: 'Lists and segments' }).waitFor();
    const condition = page.getByLabel('Condition');
    await condition.fill('foo=eq.1');
    await expect.poll(liveCount).toBe('0 contacts now');
    await expect
      .poll(warnings)
      .toEqual([
        'Warning: no contact has the attribute "foo" yet. The segment can be made all the same, and matches on it once contacts have it.',
      ]);
    await shot('live-count-warning');
    await condition.fill('plann=eq.pro');
    await expect
      .poll(warnings)
      .toEqual([
        'Warning: no contact has the attribute "plann" yet (did you mean "plan"?). The segment can be made all the same, and matches on it once contacts have it.',
      ]);
    // An attribute a contact has: the count alone.
    await condition.fill('plan=eq.pro');
    await expect.poll(liveCount).toBe('1 contact now');
    expect(await warnings()).toEqual([]);
  });
});
