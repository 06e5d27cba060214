// What a newcomer's second review of the dashboard found, in real Chromium
// over a server on a test database with the engine clock two days ahead (as
// the demo leaves it): signing in after a wrong token lands on the page asked
// for, query and all, the header saying who is signed in; engine-clock times
// with seconds, never wrapped, and all dated while the clock is moved (an
// undated one would read as real time's today); which clock an ingest
// record's times are on, and how a name with a dot is looked up; the
// Mailbox's email brought into view on a phone; a timeline of exactly one
// page has no "Older", and an empty older page says so; Ingest's Source
// applies at once; a contact filter naming nobody says so; Contacts' search
// says it is by the start; whole email addresses at 1280 px; the plan at a
// phone's width (scrolled sideways, its lines whole), its buttons in place,
// Deploy's reason; contacts and dead actions linked alike; no word repeated
// after its badge, proper plurals.
// Screenshots: test-output/dashboard/review-*.png.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../harness/db.js';
import {
  type Dashboard,
  launchBrowser,
  overflowsSideways,
  screenshot,
  signedInPage,
  startDashboard,
} from './browser.js';

// The page's globals as page.evaluate's callbacks use them (see browser.ts).
declare const window: { scrollY: number; innerHeight: number };
declare function getComputedStyle(element: unknown): { lineHeight: string };

const db = useDatabase();
const TWO_DAYS = 2 * 86_400_000;
const MAILS = 12;
const soon = { timeout: 10_000 };

let browser: Browser;
let context: BrowserContext;
let page: Page;
let dashboard: Dashboard;
let base: string;
let token: string;
let resumedId: string;
let oldestOfFifty: string;

const shot = (p: Page, name: string) => screenshot(p, `review-${name}`);

/**
 * A time zone in which the engine's now is about midday, so that a time a
 * minute before it is the same day on the engine clock whenever the test runs.
 */
function middayZone(): string {
  const hour = new Date(Date.now() + TWO_DAYS).getUTCHours();
  const ahead = 12 - hour; // -11 … 12: Etc/GMT names have the sign the other way round
  return ahead === 0 ? 'Etc/GMT' : `Etc/GMT${ahead > 0 ? '-' : '+'}${Math.abs(ahead)}`;
}

const newContext = (width = 1280, height = 860) =>
  browser.newContext({
    viewport: { width, height },
    locale: 'en-US',
    timezoneId: middayZone(),
  });

beforeAll(async () => {
  dashboard = await startDashboard(db, { movableClock: true });
  ({ base, token } = dashboard);

  await db.sql`update nudge_engine.clock set offset_ms = ${TWO_DAYS}`;
  const engine = (seconds: number) => new Date(Date.now() + TWO_DAYS - seconds * 1000);
  const real = (seconds: number) => new Date(Date.now() - seconds * 1000);

  const [resumed] = await db.sql<{ id: string }[]>`
    insert into nudge_engine.contacts (email)
    values ('resumed.user.from.march@example.com') returning id`;
  resumedId = resumed!.id;
  // Decisions as the demo leaves them: one before the clock moved (real time, two
  // days back on the engine clock), the rest after it (the engine's time).
  await db.sql`
    insert into nudge_engine.decisions (at, feature, contact_id, outcome, reason)
    values (${real(60)}, 'welcome-drip', ${resumedId}, 'completed', 'completed after stage nudged'),
           (${engine(90)}, 'welcome-drip', ${resumedId}, 'attempt', 'email attempt 1 succeeded'),
           (${engine(60)}, 'welcome-drip', ${resumedId}, 'entered', 'entered (entry 1)')`;
  await db.sql`
    insert into nudge_engine.action_runs (key, feature, contact_id, stage, kind, params, status,
                                          attempts, last_error, created_at, updated_at)
    values ('dead-run', 'welcome-drip', ${resumedId}, 'welcomed', 'email', '{}', 'dead', 2,
            'HTTP 503', ${real(120)}, ${real(100)}),
           ('done-run', 'welcome-drip', ${resumedId}, 'welcomed', 'email', '{}', 'succeeded', 1,
            null, ${real(50)}, ${real(50)})`;

  // A scheduled feature's run: it occurred at the engine's time; an API event in real time.
  await db.sql`
    insert into nudge_engine.inbox (source, source_key, event_name, new_row, occurred_at,
                                    received_at, processed_at)
    values ('api', 'review-api', 'signed_up', '{}', ${real(30)}, ${real(30)}, ${engine(29)}),
           ('schedule', 'schedule:review', 'inactive', '{}', ${engine(20)}, ${real(20)},
            ${engine(19)})`;

  await db.sql`
    insert into nudge_engine.mailbox (key, to_address, from_address, subject, html, text)
    select 'mail-' || n, 'resumed.user.from.march@example.com', 'hello@example.com',
           'Review mail ' || n, '<p>mail ' || n || '</p>', 'Mail number ' || n
      from generate_series(1, ${MAILS}) n`;

  // Exactly one page (50) of timeline items.
  const [fifty] = await db.sql<{ id: string }[]>`
    insert into nudge_engine.contacts (email) values ('fifty@example.com') returning id`;
  await db.sql`
    insert into nudge_engine.events (contact_id, name, source, occurred_at)
    select ${fifty!.id}, 'visit_' || g, 'api', now() - make_interval(mins => g)
      from generate_series(1, 50) g`;
  // The timeline's cursor just past its oldest item: an older page with nothing on it.
  const [oldest] = await db.sql<{ at: string; key: string }[]>`
    select to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at,
           lpad(id::text, 20, '0') as key
      from nudge_engine.events where contact_id = ${fifty!.id}
     order by occurred_at, id limit 1`;
  oldestOfFifty = Buffer.from(JSON.stringify([oldest!.at, 'event', oldest!.key])).toString(
    'base64url',
  );

  browser = await launchBrowser();
  context = await newContext();
  page = await signedInPage(context, base, token);
});

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
});

describe('signing in', () => {
  it('after a wrong token, lands on the page asked for, its query included', async () => {
    const fresh = await newContext();
    try {
      const p = await fresh.newPage();
      await p.goto(`${base}/actions?status=all&feature=welcome-drip`);
      await p.getByLabel('Dashboard token or API key').fill('not the token');
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByRole('alert').waitFor();
      expect(await p.getByRole('alert').textContent()).toContain('does not open this dashboard');
      await p.getByLabel('Dashboard token or API key').fill(token);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByRole('heading', { name: 'Actions', level: 1 }).waitFor();
      expect(new URL(p.url()).pathname + new URL(p.url()).search).toBe(
        '/actions?status=all&feature=welcome-drip',
      );
      // Beside Sign out, who: the dashboard token's session is named "dashboard".
      expect(await p.locator('header form.who').textContent()).toBe(
        'signed in as dashboard Sign out',
      );
    } finally {
      await fresh.close();
    }
  });

  it('without a mistake, keeps the query too', async () => {
    const fresh = await newContext();
    try {
      const p = await fresh.newPage();
      await p.goto(`${base}/logs/ingest?source=schedule`);
      await p.getByLabel('Dashboard token or API key').fill(token);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.locator('li.ingest').first().waitFor();
      expect(new URL(p.url()).pathname + new URL(p.url()).search).toBe(
        '/logs/ingest?source=schedule',
      );
    } finally {
      await fresh.close();
    }
  });
});

/** Each shown time of a list: its text, and whether it took more than one line. */
const timesOf = (p: Page, selector: string) =>
  p
    .locator(selector)
    .evaluateAll((nodes) =>
      nodes.map((node) => ({ text: node.textContent, lines: node.getClientRects().length })),
    );

describe('times on the engine clock', () => {
  it('are dated while the clock is moved, keep their seconds, and never wrap', async () => {
    await page.goto(`${base}/logs`);
    const rows = page.locator('li.decision');
    await expect.poll(() => rows.count(), soon).toBe(3);
    await page.locator('header .clock-ahead').waitFor();
    const times = await timesOf(page, 'li.decision > time');
    expect(times.map((t) => t.text)).toEqual(
      Array(3).fill(expect.stringMatching(/^[A-Z][a-z]{2} \d{1,2}, \d{1,2}:\d{2}:\d{2}\s?[AP]M$/)),
    );
    // Newest first: two made on the engine's today, dated too (an undated time
    // would read as today in real time), one from before the clock moved.
    const day = (at: number) =>
      page.evaluate(
        (ms) => new Date(ms).toLocaleDateString('en-US', { month: 'short', day: 'numeric' }),
        at,
      );
    const engineToday = await day(Date.now() + TWO_DAYS);
    expect(times.map((t) => t.text?.split(',')[0])).toEqual([
      engineToday,
      engineToday,
      await day(Date.now()),
    ]);
    expect(times.map((t) => t.lines)).toEqual([1, 1, 1]);
    await shot(page, 'logs');
  });
});

describe('Ingest records', () => {
  it('say which clock each time is on: a scheduled run occurred on the engine’s', async () => {
    await page.goto(`${base}/logs/ingest`);
    const schedule = page.locator('li.ingest[data-source="schedule"]');
    await schedule.waitFor();
    await page.getByTestId('clock-note').waitFor();
    expect(await schedule.locator('.clock-tag').allTextContents()).toEqual([
      'engine clock',
      'engine clock',
    ]);
    const api = page.locator('li.ingest[data-source="api"]');
    expect(await api.locator('.clock-tag').allTextContents()).toEqual(['engine clock']);
    expect(await page.getByTestId('clock-note').textContent()).toMatch(/schedule/);
  });

  it('say how a name with a dot is looked up when it matches nothing', async () => {
    await page.goto(`${base}/logs/ingest`);
    await expect.poll(() => page.locator('li.ingest').count(), soon).toBe(2);
    const filter = async (subject: string) => {
      await page.getByLabel('Table or event').fill(subject);
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL((url) => url.searchParams.get('subject') === subject, soon);
    };
    // An event name as a feature or the Logs say it: not how a captured change is found.
    await filter('user.signed_up');
    const none = page.getByTestId('ingest-none');
    await expect
      .poll(() => none.textContent(), soon)
      .toBe(
        'No ingest records match. Captured changes are found by their table (auth.users, storage.objects), not by an event name they stand for (storage.object.created); event names match events sent to /v1/events.',
      );
    await shot(page, 'ingest-dotted');
    // Without a dot, nothing more is said; an API event is found by its name.
    await filter('signed_in');
    await expect.poll(() => none.textContent(), soon).toBe('No ingest records match.');
    await filter('signed_up');
    await expect.poll(() => page.locator('li.ingest').count(), soon).toBe(1);
    expect(await none.count()).toBe(0);
  });

  it('filter by source as soon as one is chosen', async () => {
    await page.goto(`${base}/logs/ingest`);
    await expect.poll(() => page.locator('li.ingest').count(), soon).toBe(2);
    await page.getByLabel('Source').selectOption('schedule');
    await page.waitForURL(/\/logs\/ingest\?source=schedule$/, soon);
    await expect.poll(() => page.locator('li.ingest').count(), soon).toBe(1);
    expect(await page.locator('li.ingest').getAttribute('data-source')).toBe('schedule');
  });
});

describe('Mailbox on a phone', () => {
  it('brings the email tapped into view', async () => {
    const phone = await newContext(390, 844);
    try {
      const p = await signedInPage(phone, base, token);
      await p.goto(`${base}/mailbox`);
      await p
        .locator('ol.mails li')
        .nth(MAILS - 1)
        .waitFor();
      await p
        .locator('ol.mails li')
        .nth(MAILS - 2)
        .locator('a')
        .click();
      const mail = p.getByRole('article', { name: 'The email' });
      await mail.getByText('Review mail 2', { exact: true }).waitFor();
      await expect
        .poll(async () => {
          const box = await mail.boundingBox();
          const height = await p.evaluate(() => window.innerHeight);
          return box !== null && box.y >= -1 && box.y < height / 2;
        }, soon)
        .toBe(true);
      expect(await p.evaluate(() => window.scrollY)).toBeGreaterThan(0);
      await shot(p, 'mailbox-phone');
    } finally {
      await phone.close();
    }
  });
});

describe('a contact’s timeline', () => {
  it('of exactly one page has no Older; an empty older page says nothing is older', async () => {
    await page.goto(`${base}/contacts/fifty%40example.com`);
    await expect.poll(() => page.locator('li[data-kind="event"]').count(), soon).toBe(50);
    // The contact's lists are read too: the page is whole once they show.
    await page.getByTestId('contact-lists').getByText('none').waitFor();
    expect(await page.getByRole('link', { name: 'Older' }).count()).toBe(0);

    await page.goto(`${base}/contacts/fifty%40example.com?before=${oldestOfFifty}`);
    await page.getByText('Nothing older.').waitFor();
    expect(await page.locator('ol.decisions li').count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Newest' }).count()).toBe(1);
  });

  it('says each thing once, with proper plurals', async () => {
    await page.goto(`${base}/contacts/${resumedId}`);
    await page.locator('li[data-kind="action"]').first().waitFor();
    const text = (await page.locator('ol.decisions').textContent()) ?? '';
    expect(text).toContain('email succeeded after 1 attempt');
    expect(text).toContain('email dead after 2 attempts');
    expect(text).not.toContain('(s)');
    expect(text).not.toContain('entered: entered');
    expect(text).not.toContain('completed: completed');
    // A decision's badge says its outcome; its reason is beside it alone, as in Logs.
    const decisions = page.locator('li[data-kind="decision"]');
    expect(await decisions.locator('.badge').allTextContents()).toEqual([
      'entered',
      'attempt',
      'completed',
    ]);
    expect(await decisions.locator('.what').allTextContents()).toEqual([
      'entered (entry 1)',
      'email attempt 1 succeeded',
      'completed after stage nudged',
    ]);
  });
});

describe('searching', () => {
  it('a contact filter that names no contact says so', async () => {
    await page.goto(`${base}/logs?contact=grace`);
    // The API's 422 unknown_contact, in its words.
    await page
      .getByRole('alert')
      .getByText(/^contact: no contact "grace"; give a whole email, an external id or a contact id/)
      .waitFor();
    expect(await page.getByText(/new ones appear here/).count()).toBe(0);
  });

  it('Contacts’ search says it goes by the start of the email', async () => {
    await page.goto(`${base}/contacts`);
    const box = page.locator('input[name="q"]');
    await box.waitFor();
    expect(await box.getAttribute('placeholder')).toMatch(/start/i);
    const hint = await box.getAttribute('aria-describedby');
    expect(hint).toBeTruthy();
    expect(await page.locator(`#${hint}`).textContent()).toMatch(/ann.*ann\.lee@example\.com/);
  });
});

describe('at 1280 px', () => {
  it('shows whole email addresses and times on one line in Logs', async () => {
    await page.goto(`${base}/logs`);
    await expect.poll(() => page.locator('li.decision').count(), soon).toBe(3);
    const emails = await timesOf(page, 'li.decision .contact a:first-child');
    expect(emails.map((e) => e.text)).toEqual(Array(3).fill('resumed.user.from.march@example.com'));
    expect(emails.map((e) => e.lines)).toEqual([1, 1, 1]);
  });
});

describe('Plan and deploy', () => {
  it('scrolls the plan sideways at a phone’s width, keeps Plan in place, and says why Deploy is off', async () => {
    const phone = await newContext(390, 844);
    try {
      const p = await signedInPage(phone, base, token);
      await p.goto(`${base}/features`);
      const plan = p.getByRole('button', { name: 'Plan', exact: true });
      await plan.waitFor();
      const before = await plan.boundingBox();
      await plan.click();
      const text = p.getByTestId('plan-text');
      await text.waitFor();
      const deploy = p.getByRole('button', { name: 'Deploy' });
      if (await deploy.isEnabled()) {
        await deploy.click();
        await p.getByRole('button', { name: 'Yes, deploy' }).click();
        await p.getByText(/^Deployment #\d+/).waitFor();
      }
      await expect.poll(async () => await text.textContent(), soon).toMatch(/No changes\./);
      const again = await p.getByRole('button', { name: 'Plan again' }).boundingBox();
      expect(Math.abs((again?.x ?? 0) - (before?.x ?? 0))).toBeLessThan(2);
      expect(await deploy.isDisabled()).toBe(true);
      expect(await p.getByTestId('deploy-why').textContent()).toMatch(/nothing to deploy/i);
      // Its lines whole, columns and all, in a box that scrolls; the page does not.
      expect(
        await text.evaluate((pre) => pre.scrollWidth > pre.clientWidth + 1),
        'the plan scrolls sideways',
      ).toBe(true);
      // As many lines on the screen as the plan has (wrapped, a phone's width about trebles them).
      const lines = ((await text.textContent()) ?? '').replace(/\n$/, '').split('\n').length;
      const [height, lineHeight] = await text.evaluate((pre) => [
        pre.scrollHeight,
        Number.parseFloat(getComputedStyle(pre).lineHeight),
      ]);
      expect(height).toBeLessThan((lines + 2) * lineHeight!);
      expect(await overflowsSideways(p)).toBe(false);
      await shot(p, 'plan-phone');
    } finally {
      await phone.close();
    }
  });
});

describe('links', () => {
  it('Overview’s dead actions open the dead runs', async () => {
    await page.goto(`${base}/`);
    const dead = page.getByRole('link', { name: /^1$/ });
    await dead.waitFor();
    expect(await dead.getAttribute('href')).toBe('/actions?status=dead');
  });

  it('a contact is a link to its page in Actions and Logs, and Logs can filter by it', async () => {
    await page.goto(`${base}/actions?status=all`);
    const cell = page.locator('tr[data-key="dead-run"] td[data-label="Contact"] a');
    await cell.waitFor();
    expect(await cell.getAttribute('href')).toBe(
      `/contacts/${encodeURIComponent('resumed.user.from.march@example.com')}`,
    );

    await page.goto(`${base}/logs`);
    const row = page.locator('li.decision').first();
    await row.waitFor();
    expect(await row.locator('.contact a').first().getAttribute('href')).toBe(
      `/contacts/${resumedId}`,
    );
    const only = row.getByRole('link', { name: /only this contact/i });
    expect(await only.getAttribute('href')).toBe(
      `/logs?contact=${encodeURIComponent('resumed.user.from.march@example.com')}`,
    );
  });
});

describe('wording', () => {
  it('does not repeat the badge’s word', async () => {
    await page.goto(`${base}/logs`);
    await expect.poll(() => page.locator('li.decision').count(), soon).toBe(3);
    const reason = (outcome: string) =>
      page.locator(`li.decision[data-outcome="${outcome}"] .reason`).textContent();
    expect(await reason('entered')).toBe('entered (entry 1)');
    expect(await reason('attempt')).toBe('email attempt 1 succeeded');
    expect(await reason('completed')).toBe('completed after stage nudged');
  });
});
