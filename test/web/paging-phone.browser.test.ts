// Two things a newcomer's review of the dashboard found, in real Chromium over
// a server on a test database seeded with more than a page of each list:
// "Older" on Actions, on a contact's timeline, on Logs and on the Ingest
// records and on the Mailbox is in the address (reload keeps the page, a link to it opens it
// elsewhere, Back returns to the newer one, a filter starts again at the
// newest), and the Features, Ingest records, Actions and Contacts pages read
// at a phone's width with nothing past the screen's edge.
// Screenshots: test-output/dashboard/paging-*.png.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFeatures } from '../../src/features/load.js';
import { useDatabase } from '../harness/db.js';
import {
  type Dashboard,
  demoFeatures,
  launchBrowser,
  screenshot,
  signedInPage,
  startDashboard,
} from './browser.js';

// The page's globals as page.evaluate's callbacks use them (see browser.ts).
declare const window: { innerWidth: number };
declare const document: {
  documentElement: { scrollWidth: number };
  querySelectorAll(selector: string): ArrayLike<{
    tagName: string;
    className: string;
    getBoundingClientRect(): { right: number };
  }>;
};

const db = useDatabase();
/** More than two pages of 50: the pages ask for 50 at a time. */
const RUNS = 120;
const EVENTS = 120;
const DECISIONS = 120;
const RECORDS = 120;
const MAILS = 70;

let browser: Browser;
let page: Page;
let dashboard: Dashboard;
let base: string;
let token: string;

const shot = (name: string) => screenshot(page, `paging-${name}`);
/** How long a page may take to show what it read. */
const soon = { timeout: 10_000 };

beforeAll(async () => {
  // A feature named as long as some are, with a long trigger: the widest row.
  const long = await mkdtemp(path.join(tmpdir(), 'nudge-paging-'));
  await writeFile(
    path.join(long, 'subscription-renewal-reminder.yaml'),
    `name: subscription-renewal-reminder-for-annual-plans
trigger:
  table: public.subscription_renewals
  on: update
  when: { new.renews_at: not.is.null, old.renewal_reminder_sent_at: is.null }
contact: { id: new.user_id }
stages: [{ name: reminded-fourteen-days-before, do: [] }]
`,
  );
  dashboard = await startDashboard(db, {
    features: [...(await demoFeatures()), ...(await loadFeatures(long, {}, long))],
  });
  ({ base, token } = dashboard);

  // One contact with RUNS dead action runs (numbered, oldest first) and EVENTS events.
  const [contact] = await db.sql<{ id: string }[]>`
    insert into nudge_engine.contacts (email) values ('pager@example.com') returning id`;
  await db.sql`
    insert into nudge_engine.action_runs (key, feature, contact_id, stage, kind, params, status,
                                          attempts, last_error, created_at, updated_at)
    select 'run-' || n, 'upload-thumbnails', ${contact!.id}, 'thumbnailed', 'webhook', '{}', 'dead',
           3, 'HTTP 503 from https://media.example.com/thumbnails: media service down',
           now() - make_interval(mins => ${RUNS} - n), now() - make_interval(mins => ${RUNS} - n)
      from generate_series(1, ${RUNS}) n`;
  await db.sql`
    insert into nudge_engine.events (contact_id, name, source, occurred_at)
    select ${contact!.id}, 'page_viewed_' || n, 'api', now() - make_interval(mins => ${EVENTS} - n)
      from generate_series(1, ${EVENTS}) n`;
  // DECISIONS decisions (numbered in their reason, oldest first) of a contact of their own,
  // and one with a long email and many attributes: the widest row of Contacts.
  const [decided] = await db.sql<{ id: string }[]>`
    insert into nudge_engine.contacts (email) values ('decided@example.com') returning id`;
  await db.sql`
    insert into nudge_engine.decisions (at, feature, contact_id, outcome, reason)
    select now() - make_interval(mins => ${DECISIONS} - n), 'welcome-drip', ${decided!.id},
           'entered', 'seeded ' || n
      from generate_series(1, ${DECISIONS}) n`;
  await db.sql`
    insert into nudge_engine.contacts (email, attributes)
    values ('maximiliana.von-hohenzollern-sigmaringen@subscriptions.example-company.com',
            ${db.sql.json({ onboarded: true, first_name: 'Maximiliana', plan: 'annual-business-plus', renewal_reminder_sent_at: null, stripe_customer_id: 'cus_0123456789abcdef' })})`;
  // Ingest records as a real app sends them: long table names, wide rows.
  await db.sql`
    insert into nudge_engine.inbox (source, source_key, schema_name, table_name, operation,
                                    event_name, new_row, old_row, occurred_at, processed_at)
    select case when n % 3 = 0 then 'api' else 'outbox' end, 'k' || n,
           case when n % 3 = 0 then null else 'public' end,
           case when n % 3 = 0 then null else 'subscription_renewal_reminders_' || n end,
           case when n % 3 = 0 then null else 'update' end,
           case when n % 3 = 0 then 'checkout_session_completed_with_discount_code' end,
           jsonb_build_object('id', gen_random_uuid(), 'user_id', gen_random_uuid(),
                              'stripe_subscription_id', 'sub_1PqXyZ2eZvKYlo2C0123456789abcdef',
                              'note', repeat('a-very-long-unbroken-value-', 6)),
           jsonb_build_object('status', 'trialing'),
           now() - make_interval(mins => n), case when n % 2 = 0 then now() end
      from generate_series(1, ${RECORDS}) n`;

  // MAILS emails in the dev mailbox (numbered in their subject, oldest first).
  await db.sql`
    insert into nudge_engine.mailbox (key, to_address, from_address, subject, html)
    select 'mail-' || n, 'pager@example.com', 'Nudge demo <hello@example.com>',
           'Seeded mail ' || n, '<p>mail ' || n || '</p>'
      from generate_series(1, ${MAILS}) n`;

  browser = await launchBrowser();
  page = await signedInPage(browser, base, token);
});

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
});

/** The run numbers (run-N) the Actions page shows, in order. */
const runsShown = async () =>
  (
    await page
      .locator('tr[data-key]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key')))
  ).map((key) => Number(String(key).slice('run-'.length)));

/** The decision numbers ("seeded N") Logs shows, in order. */
const decisionsShown = async () =>
  (await page.locator('li.decision .reason').allTextContents()).map((text) =>
    Number(/seeded (\d+)/.exec(text)?.[1]),
  );

/** The ingest record ids the Ingest records tab shows, in order. */
const recordsShown = async () =>
  (
    await page
      .locator('li.ingest')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')))
  ).map(Number);

/** The email numbers ("Seeded mail N") the Mailbox lists, in order. */
const mailsShown = async () =>
  (await page.locator('ol.mails li strong').allTextContents()).map((text) =>
    Number(/Seeded mail (\d+)/.exec(text)?.[1]),
  );

/** The event numbers (page_viewed_N) the timeline shows, in order. */
const eventsShown = async () =>
  (await page.locator('li[data-kind="event"]').allTextContents()).map((text) =>
    Number(/page_viewed_(\d+)/.exec(text)?.[1]),
  );

describe('Older is in the address', () => {
  it('on Actions: reload keeps the older page, Back returns to the newest, a filter starts over', async () => {
    await page.goto(`${base}/actions?feature=upload-thumbnails`);
    await expect.poll(runsShown, soon).toEqual(range(RUNS, RUNS - 49));

    await page.getByRole('link', { name: 'Older' }).click();
    await page.waitForURL(/[?&]before=/);
    const older = new URL(page.url());
    expect(older.searchParams.get('feature')).toBe('upload-thumbnails');
    await expect.poll(runsShown, soon).toEqual(range(RUNS - 50, RUNS - 99));
    await shot('actions-older');

    await page.reload();
    await expect.poll(runsShown, soon).toEqual(range(RUNS - 50, RUNS - 99));
    expect(page.url()).toBe(older.href);

    // The older page's link, opened in another browser (signing in on the way), is the same page.
    const other = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    try {
      await other.goto(`${older.href}&token=${encodeURIComponent(token)}`);
      expect(other.url()).toBe(older.href);
      await expect
        .poll(
          async () => (await other.locator('tr[data-key]').first().getAttribute('data-key')) ?? '',
          soon,
        )
        .toBe(`run-${RUNS - 50}`);
    } finally {
      await other.close();
    }

    await page.goBack();
    await page.waitForURL((url) => !url.searchParams.has('before'));
    await expect.poll(runsShown, soon).toEqual(range(RUNS, RUNS - 49));

    // A filter changed on an older page starts again at the newest.
    await page.goForward();
    await expect.poll(runsShown, soon).toEqual(range(RUNS - 50, RUNS - 99));
    await page.locator('select[name="since"]').selectOption('7d');
    await page.waitForURL(/since=7d/);
    expect(new URL(page.url()).searchParams.has('before')).toBe(false);
    await expect.poll(runsShown, soon).toEqual(range(RUNS, RUNS - 49));
  });

  it('on a contact’s timeline: reload keeps the older page, Back returns to the newest', async () => {
    await page.goto(`${base}/contacts/pager%40example.com`);
    await page.locator('main h1', { hasText: 'pager@example.com' }).waitFor();
    // The timeline merges events with the action runs: events are what it shows of the older ones.
    await expect.poll(async () => await page.locator('li[data-kind]').count(), soon).toBe(50);
    const first = await eventsShown();

    await page.getByRole('link', { name: 'Older' }).click();
    await page.waitForURL(/\/contacts\/pager%40example\.com\?before=/);
    const older = page.url();
    await expect
      .poll(async () => (await eventsShown())[0] ?? 0, soon)
      .toBeLessThan(Math.min(...first));
    const second = await eventsShown();
    await shot('contact-older');

    await page.reload();
    await page.locator('main h1', { hasText: 'pager@example.com' }).waitFor();
    await expect.poll(eventsShown, soon).toEqual(second);
    expect(page.url()).toBe(older);

    await page.goBack();
    await page.waitForURL(/\/contacts\/pager%40example\.com$/);
    await expect.poll(eventsShown, soon).toEqual(first);

    // "Newest", on the older page, is the first page's link.
    await page.goForward();
    await expect.poll(eventsShown, soon).toEqual(second);
    await page.getByRole('link', { name: 'Newest' }).click();
    await page.waitForURL(/\/contacts\/pager%40example\.com$/);
    await expect.poll(eventsShown, soon).toEqual(first);
  });

  it('on Logs: reload keeps the older page, Back returns to the newest, a filter starts over', async () => {
    await page.goto(`${base}/logs?feature=welcome-drip`);
    await expect.poll(decisionsShown, soon).toEqual(range(DECISIONS, DECISIONS - 49));
    // The newest page has the live tail; an older one has not, and says nothing of it.
    await page.getByText('● live').waitFor();
    expect(await page.getByRole('link', { name: 'Newest' }).count()).toBe(0);

    await page.getByRole('link', { name: 'Older' }).click();
    await page.waitForURL(/[?&]before=/);
    const older = new URL(page.url());
    expect(older.searchParams.get('feature')).toBe('welcome-drip');
    await expect.poll(decisionsShown, soon).toEqual(range(DECISIONS - 50, DECISIONS - 99));
    expect(await page.getByTestId('live').count()).toBe(0);
    await shot('logs-older');

    await page.reload();
    await expect.poll(decisionsShown, soon).toEqual(range(DECISIONS - 50, DECISIONS - 99));
    expect(page.url()).toBe(older.href);

    // The older page's link, opened in another browser (signing in on the way), is the same page.
    const other = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    try {
      await other.goto(`${older.href}&token=${encodeURIComponent(token)}`);
      expect(other.url()).toBe(older.href);
      await expect
        .poll(
          async () => (await other.locator('li.decision .reason').first().textContent()) ?? '',
          soon,
        )
        .toContain(`seeded ${DECISIONS - 50}`);
    } finally {
      await other.close();
    }

    // The third page, the last: Older is gone, Newest is the first page's link.
    await page.getByRole('link', { name: 'Older' }).click();
    await expect.poll(decisionsShown, soon).toEqual(range(DECISIONS - 100, 1));
    expect(await page.getByRole('link', { name: 'Older' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Newest' }).click();
    await page.waitForURL((url) => !url.searchParams.has('before'));
    expect(new URL(page.url()).searchParams.get('feature')).toBe('welcome-drip');
    await expect.poll(decisionsShown, soon).toEqual(range(DECISIONS, DECISIONS - 49));

    await page.goBack();
    await page.goBack();
    await page.waitForURL(older.href);
    await expect.poll(decisionsShown, soon).toEqual(range(DECISIONS - 50, DECISIONS - 99));
    await page.goBack();
    await page.waitForURL((url) => !url.searchParams.has('before'));
    await expect.poll(decisionsShown, soon).toEqual(range(DECISIONS, DECISIONS - 49));

    // A filter changed on an older page starts again at the newest.
    await page.goForward();
    await expect.poll(decisionsShown, soon).toEqual(range(DECISIONS - 50, DECISIONS - 99));
    await page.locator('select[name="outcome"]').selectOption('entered');
    await page.waitForURL(/outcome=entered/);
    expect(new URL(page.url()).searchParams.has('before')).toBe(false);
    await expect.poll(decisionsShown, soon).toEqual(range(DECISIONS, DECISIONS - 49));
  });

  it('on the Ingest records: reload keeps the older page, Back returns to the newest, a filter starts over', async () => {
    const ids = (
      await db.sql<{ id: number }[]>`select id::int as id from nudge_engine.inbox order by id desc`
    ).map((row) => row.id);
    expect(ids).toHaveLength(RECORDS);
    await page.goto(`${base}/logs/ingest`);
    await expect.poll(recordsShown, soon).toEqual(ids.slice(0, 50));

    await page.getByRole('link', { name: 'Older' }).click();
    await page.waitForURL(/\/logs\/ingest\?before=/);
    const older = page.url();
    await expect.poll(recordsShown, soon).toEqual(ids.slice(50, 100));
    await shot('ingest-older');

    await page.reload();
    await expect.poll(recordsShown, soon).toEqual(ids.slice(50, 100));
    expect(page.url()).toBe(older);

    await page.goBack();
    await page.waitForURL(/\/logs\/ingest$/);
    await expect.poll(recordsShown, soon).toEqual(ids.slice(0, 50));

    // "Newest", on the older page, is the first page's link.
    await page.goForward();
    await expect.poll(recordsShown, soon).toEqual(ids.slice(50, 100));
    await page.getByRole('link', { name: 'Newest' }).click();
    await page.waitForURL(/\/logs\/ingest$/);
    await expect.poll(recordsShown, soon).toEqual(ids.slice(0, 50));

    // A source chosen on an older page (it applies at once) starts again at the newest that match.
    await page.goBack();
    await expect.poll(recordsShown, soon).toEqual(ids.slice(50, 100));
    await page.locator('select[name="source"]').selectOption('outbox');
    await page.waitForURL(/source=outbox/);
    expect(new URL(page.url()).searchParams.has('before')).toBe(false);
    const outbox = (
      await db.sql<{ id: number }[]>`
        select id::int as id from nudge_engine.inbox where source = 'outbox' order by id desc limit 50`
    ).map((row) => row.id);
    await expect.poll(recordsShown, soon).toEqual(outbox);
  });
});

describe('Older is in the address, on the Mailbox too', () => {
  it('reload keeps the older page and the email chosen on it; Newest returns', async () => {
    await page.goto(`${base}/mailbox`);
    await expect.poll(mailsShown, soon).toEqual(Array.from({ length: 50 }, (_, i) => MAILS - i));
    await page.getByRole('link', { name: 'Older' }).click();
    await page.waitForURL(/\/mailbox\?before=/);
    await expect
      .poll(mailsShown, soon)
      .toEqual(Array.from({ length: MAILS - 50 }, (_, i) => MAILS - 50 - i));
    await page
      .locator('ol.mails li a', { has: page.locator('strong', { hasText: /^Seeded mail 3$/ }) })
      .click();
    await page.waitForURL(/\/mailbox\/\d+\?before=/);
    const chosen = page.url();
    await page.reload();
    await expect.poll(mailsShown, soon).toHaveLength(MAILS - 50);
    await expect
      .poll(async () => await page.locator('ol.mails li.chosen strong').textContent(), soon)
      .toBe('Seeded mail 3');
    expect(page.url()).toBe(chosen);
    await shot('mailbox-older');
    await page.getByRole('link', { name: 'Newest' }).click();
    await page.waitForURL(/\/mailbox\/\d+$/);
    await expect.poll(async () => (await mailsShown())[0], soon).toBe(MAILS);
  });
});

describe('a phone’s width', () => {
  it('shows Features, the Ingest records, Actions and Contacts without scrolling sideways', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      for (const [url, name, ready] of [
        ['/features', 'features-phone', 'tr[data-feature="welcome-drip"]'],
        ['/logs/ingest', 'ingest-phone', 'li.ingest'],
        ['/actions', 'actions-phone', 'tr[data-key]'],
        ['/contacts', 'contacts-phone', 'tr[data-contact^="maximiliana"]'],
      ] as const) {
        await page.goto(`${base}${url}`);
        await page.locator(ready).first().waitFor();
        // A record's row, opened: the widest thing on the page.
        if (url === '/logs/ingest') await page.locator('li.ingest summary').first().click();
        await shot(name);
        const widths = await page.evaluate(() => {
          // A table scrolling sideways in its own box does not widen the page, but
          // its far columns are off the screen all the same: the element ending furthest right.
          let furthest = { right: 0, what: '' };
          for (const e of Array.from(document.querySelectorAll('main *'))) {
            const right = e.getBoundingClientRect().right;
            if (right > furthest.right)
              furthest = { right, what: `<${e.tagName.toLowerCase()} class="${e.className}">` };
          }
          return {
            scroll: document.documentElement.scrollWidth,
            inner: window.innerWidth,
            content: furthest.right,
            furthest: furthest.what,
          };
        });
        expect(widths.scroll, url).toBeLessThanOrEqual(widths.inner);
        expect(widths.content, `${url}: ${widths.furthest}`).toBeLessThanOrEqual(widths.inner);
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
  });
});

/** from, from − 1, …, to. */
function range(from: number, to: number): number[] {
  return Array.from({ length: from - to + 1 }, (_, i) => from - i);
}
