// The Overview's Lag card says when capture triggers could not capture rows
// (nudge.failed_events), in real Chromium: "Not captured" as an error badge
// with the count and where to look — a link to the checks below on the same
// page, which scrolls there and moves the focus to their heading, the
// address and the page staying as they are — the latest one's table and
// error under it, without scrolling sideways at a phone's width; and "0
// rows", no badge, once there are none. Screenshots:
// test-output/dashboard/overview-not-captured*.png.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationSql } from '../../src/capture/schema.js';
import { useDatabase } from '../harness/db.js';
import {
  type Dashboard,
  launchBrowser,
  overflowsSideways,
  screenshot,
  signedInPage,
  startDashboard,
} from './browser.js';

const db = useDatabase();
let browser: Browser;
let dashboard: Dashboard;

beforeAll(async () => {
  dashboard = await startDashboard(db);
  for (const statement of migrationSql(0, false)) await db.sql.unsafe(statement);
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
});

async function overviewAt(width: number): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width, height: 900 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  const page = await signedInPage(context, dashboard.base, dashboard.token);
  await page.getByTestId('lag-not-captured').waitFor();
  return page;
}

describe('Lag: not captured', () => {
  it('shows the rows a trigger could not capture as an error badge, with the latest error', async () => {
    await db.sql`
      insert into nudge.failed_events (schema_name, table_name, operation, new_row, sqlstate, message, failed_at)
      select 'public', 'orders', 'insert', jsonb_build_object('id', g), '23514',
             'value for domain public.account_ref violates check constraint "acc_prefix", a long message that has to wrap on a phone',
             now() - interval '2 hours' + g * interval '1 minute'
        from generate_series(1, 3) g`;
    for (const width of [1280, 390]) {
      const page = await overviewAt(width);
      try {
        const lag = page.getByTestId('lag-not-captured');
        const badge = lag.locator('.badge');
        expect(await badge.textContent()).toBe('3 rows');
        expect(await badge.getAttribute('class')).toContain('badge-error');
        expect(await lag.textContent()).toContain('3 rows — see the checks below');
        expect(await lag.getByTestId('lag-not-captured-latest').textContent()).toMatch(
          /^latest: public\.orders insert, 1 h ago — 23514 value for domain public\.account_ref violates check constraint "acc_prefix"/,
        );
        expect(await overflowsSideways(page)).toBe(false);
        if (width === 390) await screenshot(page, 'overview-not-captured');
      } finally {
        await page.context().close();
      }
    }
  });

  it('links to the checks below: the heading scrolls into view and has the focus, the page and its address stay', async () => {
    for (const width of [1280, 390]) {
      const page = await overviewAt(width);
      try {
        const before = page.url();
        const link = page.getByRole('link', { name: 'see the checks below' });
        await link.click();
        const heading = page.getByRole('heading', { name: 'Checks', level: 2 });
        await expect
          .poll(() =>
            page.evaluate(() => {
              const { document, innerHeight } = globalThis as unknown as {
                document: {
                  activeElement: { id: string } | null;
                  getElementById(id: string): {
                    getBoundingClientRect(): { top: number; bottom: number };
                  } | null;
                };
                innerHeight: number;
              };
              const box = document.getElementById('checks')?.getBoundingClientRect();
              return {
                focused: document.activeElement?.id ?? null,
                inView: !!box && box.top >= 0 && box.bottom <= innerHeight,
              };
            }),
          )
          .toEqual({ focused: 'checks', inView: true });
        expect(await heading.isVisible()).toBe(true);
        // The router's page and address are the Overview's still: no #checks, no other page.
        expect(page.url()).toBe(before);
        expect(await page.getByRole('heading', { name: 'Overview', level: 1 }).count()).toBe(1);
        if (width === 390) await screenshot(page, 'overview-not-captured-checks');
      } finally {
        await page.context().close();
      }
    }
  });

  it('says 0 rows, without a badge, once there are none', async () => {
    await db.sql`delete from nudge.failed_events`;
    const page = await overviewAt(1280);
    try {
      const lag = page.getByTestId('lag-not-captured');
      expect(await lag.textContent()).toBe('0 rows');
      expect(await lag.locator('.badge').count()).toBe(0);
    } finally {
      await page.context().close();
    }
  });
});
