// The Overview as a newcomer's review found it, in real Chromium over a
// server on a test database with the engine clock two days ahead (as the
// demo leaves it): the engine processes and lanes tables' columns line up
// with their headers, numbers right-aligned under right-aligned headers, at a
// desktop's and a phone's width; the Failures chart counts failed attempts on
// the engine clock and says which clock each chart is on; the checks' summary
// reads as a sentence would say it. Screenshots: test-output/dashboard/overview-*.png.
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorChecks } from '../../src/client/index.js';
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
const TWO_DAYS = 2 * 86_400_000;

let browser: Browser;
let dashboard: Dashboard;

beforeAll(async () => {
  dashboard = await startDashboard(db);
  await db.sql`update nudge_engine.clock set offset_ms = ${TWO_DAYS}`;
  await db.sql`
    insert into nudge_engine.workers (id, host, pid, started_at, heartbeat_at)
    values ('pool-a', 'worker-host-1.internal', 4242, now() - interval '3 hours', now()),
           ('pool-b', 'box', 77, now() - interval '30 minutes', now() - interval '5 seconds')`;
  // Events waiting in lane 0 (1234 of them, an hour old), lane 1, and lane 5,
  // beyond engine.partitions (2): not run.
  await db.sql`
    insert into nudge_engine.inbox (source, source_key, event_name, occurred_at, received_at, partition)
    select 'api', 'lane0-' || g, 'x', now(), now() - interval '1 hour', 0 from generate_series(1, 1234) g
    union all select 'api', 'lane1', 'x', now(), now() - interval '2 minutes', 1
    union all select 'api', 'lane5', 'x', now(), now() - interval '5 minutes', 5`;
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
  await page.getByTestId('lanes').locator('tbody tr').first().waitFor();
  return page;
}

/** Where a cell's value and a header's word are: its first piece of text, and the cell's alignment. */
interface Placed {
  text: string;
  align: string;
  left: number;
  right: number;
}

/** Each row of `table` (the header first), each cell placed as Placed says. */
const placed = (table: Locator): Promise<Placed[][]> =>
  table.evaluate((element) => {
    interface Box {
      left: number;
      right: number;
    }
    interface DomNode {
      nodeType: number;
      textContent: string | null;
      childNodes: ArrayLike<DomNode>;
    }
    const dom = globalThis as unknown as {
      document: {
        createRange(): { selectNodeContents(n: DomNode): void; getBoundingClientRect(): Box };
      };
      getComputedStyle(e: unknown): { textAlign: string };
    };
    const firstText = (node: DomNode): DomNode | undefined => {
      if (node.nodeType === 3) return node.textContent?.trim() ? node : undefined;
      for (const child of Array.from(node.childNodes)) {
        const found = firstText(child);
        if (found) return found;
      }
      return undefined;
    };
    const rows = (element as unknown as { rows: ArrayLike<{ cells: ArrayLike<DomNode> }> }).rows;
    return Array.from(rows).map((row) =>
      Array.from(row.cells).map((cell) => {
        const text = firstText(cell);
        const range = dom.document.createRange();
        if (text) range.selectNodeContents(text);
        const box = range.getBoundingClientRect();
        return {
          text: text?.textContent?.trim() ?? '',
          align: dom.getComputedStyle(cell).textAlign,
          left: box.left,
          right: box.right,
        };
      }),
    );
  });

/**
 * Every column of `table` lines up with its header: the same alignment, and
 * each value's first word at the header's edge on that side (right for
 * numbers, left for words).
 */
function expectColumnsAligned(rows: Placed[][]) {
  const [header, ...body] = rows;
  expect(body.length).toBeGreaterThan(0);
  for (const row of body) {
    expect(row).toHaveLength(header!.length);
    row.forEach((cell, i) => {
      const head = header![i]!;
      const where = `${head.text} column, cell "${cell.text}"`;
      expect(cell.align, where).toBe(head.align);
      if (!cell.text) return;
      const edge = head.align === 'right' ? 'right' : 'left';
      expect(Math.abs(cell[edge] - head[edge]), where).toBeLessThanOrEqual(1);
    });
  }
}

describe('Engine processes and lanes', () => {
  for (const width of [1280, 390]) {
    it(`are two tables whose columns line up with their headers at ${width} px`, async () => {
      const page = await overviewAt(width);
      try {
        const processes = page.getByRole('table', { name: 'Engine processes' });
        const lanes = page.getByRole('table', { name: 'Lanes' });
        expect(await lanes.getAttribute('data-testid')).toBe('lanes');
        const processRows = await placed(processes);
        expect(processRows.map((row) => row[0]!.text)).toEqual([
          'Host',
          'worker-host-1.internal',
          'box',
        ]);
        expectColumnsAligned(processRows);
        const laneRows = await placed(lanes);
        // The lane's number alone in its cell, numbers right-aligned under their headers.
        expect(laneRows.map((row) => [row[0]!.text, row[0]!.align, row[1]!.text])).toEqual([
          ['Lane', 'right', 'Waiting'],
          ['0', 'right', '1,234'],
          ['1', 'right', '1'],
          ['5', 'right', '1'],
        ]);
        expectColumnsAligned(laneRows);
        expect(await lanes.locator('tbody tr').last().textContent()).toContain(
          'no: beyond engine.partitions',
        );
        expect(await overflowsSideways(page)).toBe(false);
        await screenshot(page, `overview-lanes-${width}`);
      } finally {
        await page.context().close();
      }
    });
  }
});

describe('Last hour, per minute', () => {
  it('counts failed attempts on the engine clock, and says which clock each chart is on', async () => {
    // On the engine clock (two days ahead): an attempt that failed 10
    // minutes ago, and the replayed run's attempt that succeeded 5 minutes
    // ago; the run itself is succeeded now.
    await db.sql`
      insert into nudge_engine.action_runs (key, kind, params, status, attempts, replays, attempts_before_replay)
      values ('replayed', 'webhook', '{}', 'succeeded', 1, 1, 1)`;
    await db.sql`
      insert into nudge_engine.decisions (at, outcome, reason, detail)
      values (now() + ${TWO_DAYS} * interval '1 millisecond' - interval '10 minutes', 'attempt',
              'webhook attempt 1 failed: HTTP 503; dead (no attempts left of 1)',
              '{"kind": "webhook", "key": "replayed", "attempt": 1, "status": "dead"}'),
             (now() + ${TWO_DAYS} * interval '1 millisecond' - interval '5 minutes', 'attempt',
              'webhook attempt 1 succeeded',
              '{"kind": "webhook", "key": "replayed", "attempt": 1, "status": "succeeded"}')`;
    const page = await overviewAt(1280);
    try {
      const activity = page.getByRole('region', { name: 'Last hour, per minute' });
      await activity.waitFor();
      expect(await activity.getByTestId('clock-note').textContent()).toBe(
        'Events are counted in real time; actions and failures (each attempt, at the minute it was made) on the engine clock, 2 days ahead of real time.',
      );
      expect(
        await activity.getByTestId('spark-Failures').locator('svg').getAttribute('aria-label'),
      ).toBe('Failures: 1 in the last hour, at most 1 a minute');
      expect(
        await activity.getByTestId('spark-Actions').locator('svg').getAttribute('aria-label'),
      ).toBe('Actions: 1 in the last hour, at most 1 a minute');
      // Under each chart its first and last minute: real time undated, the
      // engine clock's dated two days ahead.
      const axis = (name: string) =>
        activity.getByTestId(`spark-${name}`).locator('.spark-axis span').allTextContents();
      const [eventsFrom, eventsTo] = await axis('Events');
      expect(eventsFrom).toMatch(/^\d{1,2}:\d{2}( [AP]M)?$/);
      expect(eventsTo).toMatch(/^\d{1,2}:\d{2}( [AP]M)?$/);
      const ahead = new Date(Date.now() + TWO_DAYS);
      const [failuresFrom, failuresTo] = await axis('Failures');
      expect(failuresTo).toContain(String(ahead.getDate()));
      expect(failuresTo).not.toBe(eventsTo);
      expect(failuresFrom).toContain(String(new Date(ahead.getTime() - 59 * 60_000).getDate()));
      await screenshot(page, 'overview-activity');
    } finally {
      await page.context().close();
    }
  });
});

describe('Checks', () => {
  const check = (outcome: 'ok' | 'warn' | 'fail', label: string) => ({
    section: 'Database',
    outcome,
    label,
    message: `${label} ${outcome}`,
    fix: outcome === 'ok' ? null : `fix ${label}`,
  });
  const cases: [string, DoctorChecks['checks']][] = [
    ['no problems', [check('ok', 'Connection'), check('ok', 'Role')]],
    ['1 warning', [check('ok', 'Connection'), check('warn', 'Role')]],
    ['2 warnings', [check('warn', 'Connection'), check('warn', 'Role')]],
    ['1 problem', [check('fail', 'Connection')]],
    [
      '2 problems, 1 warning',
      [check('fail', 'Connection'), check('fail', 'Role'), check('warn', 'Slot')],
    ],
  ];

  it('sums them up as one would say it', async () => {
    const page = await overviewAt(1280);
    try {
      for (const [said, checks] of cases) {
        await page.unroute('**/v1/overview/checks*');
        await page.route('**/v1/overview/checks*', (route) =>
          route.fulfill({ json: { checks, at: new Date().toISOString() } satisfies DoctorChecks }),
        );
        await page.reload();
        const summary = page.getByTestId('checks-summary');
        await summary.getByText(/ago|now/).waitFor();
        expect((await summary.textContent())?.split(' · ')[0]).toBe(said);
      }
    } finally {
      await page.context().close();
    }
  });
});
