// Which clock a time is on, in real Chromium over a server on a test database:
// while the engine clock is real time the pages are as they always were (no
// note, no tag); moved two days ahead, the header says so in the words of
// `nudge clock`, the pages that show times say which clock they are on, and a
// contact's timeline and the ingest records tag each time that is the
// engine's; the Clock page's Reset puts it back on real time, and the header
// says so at once. Screenshots: test-output/dashboard/clock-*.png.
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
const TWO_DAYS = 2 * 86_400_000;

let browser: Browser;
let page: Page;
let dashboard: Dashboard;
let base: string;

const shot = (name: string) => screenshot(page, `clock-${name}`);

/** The pages that show times, each with what says it has read them, and its screenshot's name. */
const PAGES = [
  ['/logs', 'li.decision', 'logs'],
  ['/logs/ingest', 'li.ingest', 'ingest'],
  ['/actions?status=all', 'tr[data-key]', 'actions'],
  ['/mailbox', 'ol.mails li', 'mailbox'],
  ['/contacts/clock%40example.com', 'li[data-kind="decision"]', 'contact'],
] as const;

beforeAll(async () => {
  dashboard = await startDashboard(db, { movableClock: true });
  base = dashboard.base;

  // A contact's day as the engine writes it, two days ahead: the event and the action
  // run in real time, the decision and the journey in the engine's; mail and the ingest
  // record as received (real time), the record processed by the engine.
  const [contact] = await db.sql<{ id: string }[]>`
    insert into nudge_engine.contacts (email) values ('clock@example.com') returning id`;
  const engine = (minutes: number) => new Date(Date.now() + TWO_DAYS - minutes * 60_000);
  const real = (minutes: number) => new Date(Date.now() - minutes * 60_000);
  await db.sql`
    insert into nudge_engine.events (contact_id, name, source, occurred_at)
    values (${contact!.id}, 'signed_up', 'api', ${real(10)})`;
  await db.sql`
    insert into nudge_engine.decisions (at, feature, contact_id, outcome, reason)
    values (${engine(9)}, 'welcome-drip', ${contact!.id}, 'entered', 'entered stage welcomed')`;
  await db.sql`
    insert into nudge_engine.journeys (feature, contact_id, status, stage, entries, updated_at, wake_at)
    values ('welcome-drip', ${contact!.id}, 'active', 'welcomed', 1, ${engine(9)}, ${engine(-2880)})`;
  await db.sql`
    insert into nudge_engine.action_runs (key, feature, contact_id, stage, kind, params, status,
                                          attempts, created_at, updated_at)
    values ('clock-run', 'welcome-drip', ${contact!.id}, 'welcomed', 'email', '{}', 'succeeded',
            1, ${real(8)}, ${real(8)})`;
  await db.sql`
    insert into nudge_engine.mailbox (key, to_address, subject, text, sent_at)
    values ('clock-mail', 'clock@example.com', 'Welcome aboard', 'Hello', ${real(8)})`;
  await db.sql`
    insert into nudge_engine.inbox (source, source_key, event_name, new_row, occurred_at,
                                    received_at, processed_at)
    values ('api', 'clock-1', 'signed_up', '{}', ${real(10)}, ${real(10)}, ${engine(9)})`;

  browser = await launchBrowser();
  page = await signedInPage(browser, base, dashboard.token);
});

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
});

const moveClock = (offsetMs: number) =>
  db.sql`update nudge_engine.clock set offset_ms = ${offsetMs}`;

describe('the engine clock', () => {
  it('at real time: no note, no tag, nothing in the header', async () => {
    await moveClock(0);
    for (const [url, ready] of PAGES) {
      await page.goto(`${base}${url}`);
      await page.locator(ready).first().waitFor();
      // At real time nothing says more, whether or not the clock's read has
      // answered yet; but the decision stamped while the clock was ahead (two
      // days from now) gets the note nudge logs gives it, not a date to come.
      if (url === '/logs')
        expect(await page.getByTestId('clock-note').textContent(), url).toMatch(
          /lines stamped after real time now were decided while nudge clock had moved it ahead/,
        );
      else expect(await page.getByTestId('clock-note').count(), url).toBe(0);
      expect(await page.locator('.clock-tag').count(), url).toBe(0);
      expect(await page.locator('header .clock-ahead').count(), url).toBe(0);
    }
    await page.goto(`${base}/clock`);
    await expect.poll(() => page.getByTestId('clock-offset').textContent()).toBe('real time');
  });

  it('two days ahead: the header says so as nudge clock does, each page which clock its times are on', async () => {
    await moveClock(TWO_DAYS);
    await page.goto(`${base}/clock`);
    await expect
      .poll(() => page.getByTestId('clock-offset').textContent())
      .toBe('2 days ahead of real time');
    await page.locator('header').getByText('Engine clock 2 days ahead of real time').waitFor();
    // The engine's time with its date: a time alone would read as one of today.
    const inTwoDays = new Date(Date.now() + TWO_DAYS).toLocaleDateString('en-US', {
      month: 'short',
      day: 'numeric',
    });
    expect(await page.getByTestId('engine-time').textContent()).toContain(inTwoDays);
    await shot('page');
    // So is the Overview's, while the clock is moved.
    await page.goto(`${base}/`);
    await expect
      .poll(() => page.getByTestId('overview-engine-time').textContent())
      .toContain(inTwoDays);

    for (const [url, ready, name] of PAGES) {
      await page.goto(`${base}${url}`);
      await page.locator(ready).first().waitFor();
      const note = page.getByTestId('clock-note');
      await note.waitFor();
      expect(await note.textContent(), url).toContain(
        'on the engine clock, 2 days ahead of real time',
      );
      expect(await page.locator('header .clock-ahead').textContent(), url).toBe(
        'Engine clock 2 days ahead of real time',
      );
      await shot(name);
    }

    // The timeline mixes the two clocks: each time says which it is on.
    await page.goto(`${base}/contacts/clock%40example.com`);
    const tag = (kind: string) =>
      page.locator(`li[data-kind="${kind}"] > .clock-time > .clock-tag`);
    await tag('decision').waitFor();
    expect(await tag('decision').textContent()).toBe('engine clock');
    expect(await tag('journey').textContent()).toBe('engine clock');
    expect(await tag('event').textContent()).toBe('real time');
    expect(await tag('action').textContent()).toBe('real time');
    // A journey's wake-up is the engine's time too.
    expect(await page.locator('li[data-kind="journey"] .what').textContent()).toMatch(
      /wakes .+ engine clock$/,
    );
    expect(await page.locator('li[data-kind="journey"] .what .clock-tag').textContent()).toBe(
      'engine clock',
    );

    // An ingest record: received and occurred in real time, processed by the engine.
    await page.goto(`${base}/logs/ingest`);
    const record = page.locator('li.ingest').first();
    await record.waitFor();
    expect(await record.locator('.clock-tag').allTextContents()).toEqual(['engine clock']);

    await page.goto(`${base}/`);
    await page.getByText('(2 days ahead of real time)').waitFor();

    // Back at real time, the pages are as they were.
    await moveClock(0);
    await page.goto(`${base}/contacts/clock%40example.com`);
    await page.locator('li[data-kind="decision"]').waitFor();
    expect(await page.locator('.clock-tag').count()).toBe(0);
    expect(await page.getByTestId('clock-note').count()).toBe(0);
  });

  it('Reset on the Clock page goes back to real time: the header badge and the page say so', async () => {
    await moveClock(0);
    await page.goto(`${base}/clock`);
    await page.getByTestId('engine-time').waitFor();
    const reset = page.getByRole('button', { name: 'Reset to real time' });
    // On real time there is nothing to reset.
    expect(await reset.isDisabled({ timeout: 5_000 })).toBe(true);

    await page.getByRole('button', { name: '+1d' }).click();
    await page.getByRole('button', { name: 'Yes, move it' }).click();
    await page
      .locator('header .clock-ahead')
      .getByText('Engine clock 1 day ahead of real time')
      .waitFor({ timeout: 5_000 });
    await expect
      .poll(() => page.getByTestId('clock-offset').textContent())
      .toBe('1 day ahead of real time');
    expect(await page.getByTestId('clock-reset-note').textContent()).toContain(
      'ends that much later',
    );
    await shot('reset-before');

    await reset.click();
    await page.getByRole('button', { name: 'Yes, reset' }).click();
    await expect.poll(() => page.getByTestId('clock-offset').textContent()).toBe('real time');
    // The header reads the clock again at once (not at its 10 s poll): no badge on real time.
    await page.locator('header .clock-ahead').waitFor({ state: 'detached', timeout: 5_000 });
    expect(await reset.isDisabled()).toBe(true);
    const [row] = await db.sql<{ offset_ms: string }[]>`select offset_ms from nudge_engine.clock`;
    expect(Number(row!.offset_ms)).toBe(0);
    await shot('reset-after');
  });
});
