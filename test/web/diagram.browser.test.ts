// The stage diagram as Chromium draws it: on the Feature page of every demo
// feature, and of a crowded feature written to be hard to lay out, no edge
// label overlaps another label or a stage box, measured with the browser's
// own text metrics (the layout only estimates them). Screenshots:
// test-output/dashboard/diagram-*.png.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Feature, loadFeatures } from '../../src/features/load.js';
import { useDatabase } from '../harness/db.js';
import {
  type Dashboard,
  demoFeatures,
  launchBrowser,
  SHOTS,
  screenshot,
  signedInPage,
  startDashboard,
} from './browser.js';

const db = useDatabase();

/**
 * Every way arrows crowd: two arrows to the next stage (the second must
 * curve), the same early end from three stages, loops back over skips, and
 * labels long enough to be clipped.
 */
const CROWDED = `name: crowded
trigger: { table: public.carts, on: [insert, update] }
contact: { id: new.user_id }
stages:
  - name: carted
    next:
      - { to: null, until: { new.status: eq.checked_out } }
      - { to: reminded, after: 1h }
      - { to: reminded, when: { new.total: gt.100, new.currency: eq.EUR } }
      - { to: recovered, until: { new.status: eq.checked_out }, within: 2d }
      - { to: lost, when: { new.status: eq.emptied } }
  - name: reminded
    next:
      - { to: null, until: { new.status: eq.checked_out } }
      - { to: carted, when: { new.status: eq.reopened } }
      - { to: recovered, until: { new.status: eq.checked_out }, within: 2d }
  - name: recovered
    next:
      - { to: null, until: { new.status: eq.checked_out } }
      - { to: carted, when: { new.status: eq.reopened } }
  - name: lost
`;

let browser: Browser;
let page: Page;
let dashboard: Dashboard;
let base: string;
let features: Feature[];

beforeAll(async () => {
  const crowded = await mkdtemp(path.join(tmpdir(), 'nudge-diagram-'));
  await writeFile(path.join(crowded, 'crowded.yaml'), CROWDED);
  features = [...(await demoFeatures()), ...(await loadFeatures(crowded, {}, crowded))];
  dashboard = await startDashboard(db, { features });
  base = dashboard.base;
  browser = await launchBrowser();
  page = await signedInPage(browser, base, dashboard.token);
});

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
});

/** The pairs of things in the diagram that overlap: an edge label with a label, a box or a box's text. */
const overlaps = () =>
  page.evaluate(() => {
    interface Rect {
      left: number;
      right: number;
      top: number;
      bottom: number;
    }
    interface Element {
      lastChild: { textContent: string | null } | null;
      getBoundingClientRect(): Rect;
    }
    const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): Element[] } })
      .document;
    // A label's text without its <title> (the unclipped label, for a tooltip).
    const all = (selector: string) =>
      [...doc.querySelectorAll(selector)].map((el) => ({
        what: `${selector} "${el.lastChild?.textContent ?? ''}"`,
        box: el.getBoundingClientRect(),
      }));
    const labels = all('.diagram .edge > text');
    const nodes = [...all('.diagram .node rect'), ...all('.diagram .node text')];
    const meet = (a: Rect, b: Rect) =>
      a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    const found: string[] = [];
    labels.forEach((label, i) => {
      for (const other of [...labels.slice(i + 1), ...nodes])
        if (meet(label.box, other.box)) found.push(`${label.what} / ${other.what}`);
    });
    return found;
  });

describe('the stage diagram', () => {
  it('draws no edge label over another or over a stage, for every demo feature and a crowded one', async () => {
    for (const feature of features) {
      await page.goto(`${base}/features/${feature.name}`);
      await page.locator('.diagram svg').waitFor();
      expect(await page.locator('.diagram .node').count(), feature.name).toBe(
        feature.machine.stages.size + 1,
      );
      await page.locator('.diagram').screenshot({
        path: path.join(SHOTS, `diagram-${feature.name}.png`),
      });
      expect(await overlaps(), feature.name).toEqual([]);
    }
    await page.goto(`${base}/features/abandoned-cart`);
    await page.locator('.diagram svg').waitFor();
    await screenshot(page, 'diagram-abandoned-cart-page');
  });
});
