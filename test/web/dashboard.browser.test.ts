import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../../src/config/load.js';
import { launch, type Running } from '../../src/engine/wiring/launch.js';
import { silentLog } from '../../src/log.js';
import { signUp } from '../engine/harness.js';
import { useDatabase } from '../harness/db.js';
import type { Recorder } from '../harness/http-recorder.js';
import { dashboardProject, launchBrowser, SHOTS, screenshot } from './browser.js';

// The page's globals as the functions passed to page.evaluate use them: declared
// here, not with the DOM lib, which would change the types of the whole test program.
declare const window: { __marker?: number };
declare const document: {
  documentElement: { scrollWidth: number; clientWidth: number };
  body: unknown;
};
declare function getComputedStyle(element: unknown): { backgroundColor: string };

const db = useDatabase();

let running: Running;
let browser: Browser;
let page: Page;
let base: string;
/** The media service the upload's webhook goes to: down (503) until the test brings it back. */
let media: Recorder;
/** The user who signs up after the resume. */
let resumed: string;

beforeAll(async () => {
  let project: LoadedConfig;
  ({ project, media } = await dashboardProject(db.sql, db.url, 200));
  running = await launch(project, { http: true, log: silentLog, idleMs: 20 });
  base = running.url!;
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
});

afterAll(async () => {
  await browser?.close();
  await running?.stop();
  await media?.close();
});

/** A value set in the page: it survives until the next reload. */
const mark = (value: number) =>
  page.evaluate((v) => {
    window.__marker = v;
  }, value);
const marker = () => page.evaluate(() => window.__marker);

const shot = (name: string) => screenshot(page, name);

/**
 * Opens the Mailbox, waits for the email to resumed@example.com with this
 * subject (the page reads again every 5 s), opens it, and waits until its
 * HTML, in a sandboxed frame, shows `text`.
 */
async function readMail(subject: string, text: string) {
  await page.getByRole('link', { name: 'Mailbox', exact: true }).click();
  const mail = page
    .locator('ol.mails li', { hasText: 'resumed@example.com' })
    .filter({ hasText: subject });
  await mail.waitFor({ timeout: 20_000 });
  await mail.getByRole('link').click();
  expect(new URL(page.url()).pathname).toMatch(/^\/mailbox\/\d+$/);
  const frame = page.locator('.mail iframe');
  await frame.waitFor();
  expect(await frame.getAttribute('sandbox')).toBe('');
  const body = page.frameLocator('.mail iframe').locator('body');
  await expect
    .poll(async () => (await body.textContent()) ?? '', { timeout: 10_000 })
    .toContain(text);
}

/** The decisions of welcome-drip shown in Logs with this outcome and text. */
const decisionRows = (outcome: string, text: string) =>
  page.locator(`li.decision[data-feature="welcome-drip"][data-outcome="${outcome}"]`, {
    hasText: text,
  });

describe('the dashboard in Chromium', () => {
  it('shows the login page and no data without the token, or with a wrong one', async () => {
    for (const url of [`${base}/`, `${base}/features`, `${base}/?token=not-the-token`]) {
      const response = await page.goto(url);
      expect(response?.status()).toBe(401);
      await expect(
        page.getByRole('heading', { name: 'Nudge dashboard' }).isVisible(),
      ).resolves.toBe(true);
      const text = await page.locator('body').textContent();
      expect(text).not.toContain('welcome-drip');
      expect(text).not.toContain('Source database');
    }
    expect(await page.locator('body').textContent()).toContain('token is not valid');
    const api = await page.goto(`${base}/v1/features`);
    expect(api?.status()).toBe(401);
    await page.goto(`${base}/`);
    await shot('login');
  });

  it('signs in through its own form, and Sign out ends the session', async () => {
    const token = new URL(running.dashboardUrl!).searchParams.get('token')!;
    await page.goto(`${base}/features`);
    await page.getByLabel('Dashboard token or API key').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Features' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/features');
    const session = async () =>
      (await page.context().cookies()).find((c) => c.name === 'nudge_session');
    expect(await session()).toBeDefined();

    // A mistyped address: the app's own page, with the navigation.
    const missing = await page.goto(`${base}/no/such/page`);
    expect(missing?.status()).toBe(404);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    await page.getByRole('link', { name: 'Features', exact: true }).click();
    await page.getByRole('heading', { name: 'Features' }).waitFor();

    // The session gone under an open page: its next read says so, and how back.
    await page.context().clearCookies();
    await page.getByRole('link', { name: 'Logs', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'Your session has ended.' }).waitFor();
    await page.getByRole('link', { name: 'Sign in again' }).click();
    await page.getByLabel('Dashboard token or API key').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Logs' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/logs');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Nudge dashboard' }).waitFor();
    expect(await session()).toBeUndefined();
    const after = await page.goto(`${base}/features`);
    expect(after?.status()).toBe(401);
    expect(await page.locator('body').textContent()).not.toContain('welcome-drip');
  });

  it('opens Overview from the printed link, and keeps the token out of the address', async () => {
    expect(running.dashboardUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=/);
    await page.goto(running.dashboardUrl!);
    expect(new URL(page.url()).search).toBe('');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByText('127.0.0.1:').first().waitFor();
    const text = await page.locator('main').textContent();
    expect(text).toMatch(/PostgreSQL \d+/);
    expect(text).toContain('outbox');
    expect(text).toMatch(/#\d+/); // the last deployment
    expect(text).toContain('2 active, 0 paused, 0 draft');
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === 'nudge_session')).toMatchObject({
      httpOnly: true,
      sameSite: 'Strict',
    });
    // Every check of nudge doctor, as the API answers them, each on the page.
    const answer = await page.request.get(`${base}/v1/overview/checks`);
    expect(answer.status()).toBe(200);
    const { checks } = (await answer.json()) as { checks: { label: string }[] };
    expect(checks.length).toBeGreaterThan(0);
    await expect
      .poll(() => page.locator('ul.checks li').count(), { timeout: 15_000 })
      .toBe(checks.length);
    expect(await page.locator('ul.checks li strong').allTextContents()).toEqual(
      expect.arrayContaining(checks.map((check) => check.label)),
    );
    await shot('overview');
  });

  it('pauses welcome-drip live: a sign-up is skipped as paused in Logs without a reload, then matched once resumed', async () => {
    await page.getByRole('link', { name: 'Features', exact: true }).click();
    const row = page.locator('tr[data-feature="welcome-drip"]');
    await row.waitFor();
    expect(await row.textContent()).toContain('active');
    await shot('features');

    await row.getByRole('link', { name: 'welcome-drip' }).click();
    await page.locator('main h1', { hasText: 'welcome-drip' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/features/welcome-drip');
    await page.locator('[data-stage="welcomed"]').waitFor();
    await page.locator('[data-stage="nudged"]').waitFor();
    expect(await page.locator('pre.yaml').textContent()).toContain('name: welcome-drip');
    await shot('feature');

    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByTestId('paused-note').waitFor();
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    await shot('feature-paused');

    await page.getByRole('link', { name: 'Logs of welcome-drip' }).click();
    expect(new URL(page.url()).search).toBe('?feature=welcome-drip');
    await page.getByText('● live').waitFor();
    // Every engine takes the pause within about a second; wait on the engine's own view.
    await expect
      .poll(() => running.featureSet.isPaused(running.featureSet.get('welcome-drip')!), {
        timeout: 5000,
      })
      .toBe(true);
    expect(await decisionRows('skipped', 'paused').count()).toBe(0);
    await mark(1);
    await signUp(db.sql, 'paused@example.com');
    await decisionRows('skipped', 'paused').waitFor({ timeout: 15_000 });
    // The same document: the row came over the live tail, not a reload.
    expect(await marker()).toBe(1);
    await shot('logs-paused');

    await page.goBack();
    expect(new URL(page.url()).pathname).toBe('/features/welcome-drip');
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('button', { name: 'Pause' }).waitFor();
    await expect
      .poll(() => running.featureSet.isPaused(running.featureSet.get('welcome-drip')!), {
        timeout: 5000,
      })
      .toBe(false);
    await page.goForward();
    expect(new URL(page.url()).search).toBe('?feature=welcome-drip');
    await page.getByText('● live').waitFor();
    await mark(2);
    resumed = await signUp(db.sql, 'resumed@example.com');
    const matched = page.locator(
      'li.decision[data-feature="welcome-drip"][data-outcome="matched"]',
      { hasText: 'resumed@example.com' },
    );
    await matched.waitFor({ timeout: 15_000 });
    // A match says which trigger it met.
    expect(await matched.textContent()).toContain(
      'trigger matched · insert on auth.users when new.email not.is.null',
    );
    expect(await marker()).toBe(2);
    expect(await decisionRows('skipped', 'paused').count()).toBe(1);
    // The badge says the outcome; the reason beside it does not say it again.
    expect(await decisionRows('skipped', 'paused').locator('.reason').textContent()).toBe('paused');
    const time = page.locator('li.decision time').first();
    expect(await time.getAttribute('title')).toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/);
    await shot('logs');
    // The README's picture: the top of this page, a pause and a resume told by the log.
    await page.screenshot({
      path: path.join(SHOTS, 'readme.png'),
      clip: { x: 0, y: 0, width: 1280, height: 420 },
    });
  });

  it('finds the contact and shows its timeline: the decision, the journey, the email', async () => {
    await page.getByRole('link', { name: 'Contacts', exact: true }).click();
    await page.getByLabel('Email starts with').fill('resumed');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/\/contacts\?q=resumed$/);
    const row = page.locator('tr[data-contact="resumed@example.com"]');
    await row.waitFor();
    expect(await page.locator('tr[data-contact]').count()).toBe(1);
    await shot('contacts');
    await row.getByRole('link').click();
    await page.locator('main h1', { hasText: 'resumed@example.com' }).waitFor();
    const timeline = page.locator('li[data-kind]');
    await timeline.first().waitFor();
    const text = (await timeline.allTextContents()).join('\n');
    expect(text).toContain('trigger matched');
    expect(text).toMatch(/journey active in welcomed/);
    expect(text).toMatch(/email succeeded after \d attempt/);
    await shot('contact');
  });

  it('shows the welcome email in the Mailbox, its HTML in a sandboxed frame', async () => {
    await readMail('Welcome aboard', 'Your account resumed@example.com is ready');
    // Which feature sent it, and its headers: one-click unsubscribe (not transactional mail).
    const mail = page.locator('.mail');
    expect(await mail.textContent()).toContain('welcome-drip in stage welcomed');
    await mail.getByText('Headers').click();
    expect(await mail.locator('details.headers').textContent()).toContain(
      'List-Unsubscribe-PostList-Unsubscribe=One-Click',
    );
    await shot('mailbox');
  });

  it('moves the engine clock two days ahead, and the day-two email arrives', async () => {
    await page.getByRole('link', { name: 'Clock', exact: true }).click();
    await page.getByTestId('engine-time').waitFor();
    expect(await page.getByTestId('clock-offset').textContent()).toBe('real time');
    await page.getByRole('button', { name: '+2d' }).click();
    await page.getByRole('button', { name: 'Yes, move it' }).click();
    // In the words of nudge clock.
    await expect
      .poll(() => page.getByTestId('clock-offset').textContent(), { timeout: 10_000 })
      .toBe('2 days ahead of real time');
    // The header's badge reads the clock again at once, not at its 10 s poll.
    await page
      .locator('header')
      .getByText('Engine clock 2 days ahead of real time')
      .waitFor({ timeout: 5_000 });
    await shot('clock');

    await readMail('Need a hand getting started?', 'need a hand getting started?');
    // Every page says, in its header, that the engine's time is not real time now.
    await page.locator('header').getByText('Engine clock 2 days ahead of real time').waitFor();
    await shot('mailbox-day-two');
  });

  it('lists a dead webhook on Actions, and Replay delivers it once the receiver is back', async () => {
    await db.sql`insert into storage.buckets (id, name) values ('avatars', 'avatars') on conflict do nothing`;
    await db.sql`insert into storage.objects (bucket_id, name, owner)
                 values ('avatars', ${`${resumed}/avatar.png`}, ${resumed})`;
    const upload = () =>
      db.sql<{ key: string; status: string }[]>`
        select key, status from nudge_engine.action_runs where feature = 'upload-thumbnails'`;
    await expect.poll(async () => (await upload())[0]?.status, { timeout: 20_000 }).toBe('dead');
    const key = (await upload())[0]!.key;
    // Both attempts reached the receiver, and both were refused.
    expect(media.requests.filter((r) => r.path === '/thumbnails')).toHaveLength(2);

    // Its journey completed (the stage is done); the Features page says its action is dead.
    await page.getByRole('link', { name: 'Features', exact: true }).click();
    const feature = page.locator('tr[data-feature="upload-thumbnails"]');
    await feature.getByRole('link', { name: '1 dead' }).waitFor();

    await page.getByRole('link', { name: 'Actions', exact: true }).click();
    const row = page.locator(`tr[data-key="${key}"]`);
    await row.waitFor();
    expect(await row.getAttribute('data-status')).toBe('dead');
    expect(await row.textContent()).toContain('503');
    await shot('actions');

    media.respondWith({ status: 200, body: { ok: true } });
    await row.getByRole('button', { name: 'Replay', exact: true }).click();
    await row.getByRole('button', { name: 'Yes, replay' }).click();
    await page.getByText('1 run queued again.').waitFor();
    await expect
      .poll(
        async () =>
          (await db.sql`select status from nudge_engine.action_runs where key = ${key}`)[0]?.status,
        { timeout: 15_000 },
      )
      .toBe('succeeded');
    expect(media.requests.filter((r) => r.path === '/thumbnails')).toHaveLength(3);
    // The same webhook-id on every attempt and on the replay: the receiver can drop repeats.
    expect(new Set(media.requests.map((r) => r.headers['webhook-id']))).toEqual(new Set([key]));
    await page.goto(`${base}/actions?status=succeeded&feature=upload-thumbnails`);
    const delivered = page.locator(`tr[data-key="${key}"][data-status="succeeded"]`);
    await delivered.waitFor();
    // The attempt count starts again at the replay; the row says what came before.
    expect(await delivered.textContent()).toContain('1 attempt · replayed after 2 attempts');
    await shot('actions-replayed');
    // Logs says the attempt that delivered it was made after the replay.
    await page.goto(`${base}/logs?feature=upload-thumbnails&outcome=attempt`);
    const attempts = page.locator('li.decision .reason');
    await attempts.first().waitFor();
    expect((await attempts.allTextContents()).map((text) => text.replace(/ · .*$/, ''))).toEqual([
      'replayed: webhook attempt 1 succeeded',
      expect.stringMatching(/^webhook attempt 2 failed/),
      expect.stringMatching(/^webhook attempt 1 failed/),
    ]);
  });

  it('keeps each filter in the URL, so the back button returns to it', async () => {
    await page.goto(`${base}/logs?feature=welcome-drip&outcome=matched`);
    await page.getByText('● live').waitFor();
    expect(await page.locator('select[name="outcome"]').inputValue()).toBe('matched');
    await page.locator('li.decision').first().waitFor();
    const outcomes = await page
      .locator('li.decision')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-outcome')));
    expect(new Set(outcomes)).toEqual(new Set(['matched']));
    await page.locator('select[name="outcome"]').selectOption('skipped');
    await page.waitForURL(/outcome=skipped/);
    await page.goBack();
    await page.waitForURL(/outcome=matched/);
    expect(await page.locator('select[name="outcome"]').inputValue()).toBe('matched');
  });

  it('fits a phone’s width, and follows the system’s dark mode', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [url, name, ready] of [
      ['/', 'overview-phone', 'text=Source database'],
      ['/features/welcome-drip', 'feature-phone', '[data-stage="welcomed"]'],
      ['/logs', 'logs-phone', 'li.decision'],
    ] as const) {
      await page.goto(`${base}${url}`);
      await page.locator(ready).first().waitFor();
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(overflow, url).toBeLessThanOrEqual(0);
      await shot(name);
    }
    await page.setViewportSize({ width: 1280, height: 860 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${base}/features/welcome-drip`);
    await page.locator('[data-stage="welcomed"]').waitFor();
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(background).toBe('rgb(15, 18, 22)');
    await shot('feature-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });
});
