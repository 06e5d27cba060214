// The Features page's Deploy after capture switched away from replication
// while the slot still holds changes no engine has read, in real Chromium:
// Plan warns before Deploy (the slot and what it holds, and how to drain
// it); Deploy is refused and nothing changes; only the explicit "Discard 3
// unread changes and deploy" sends discardUnread, once, and the slot is gone.
// Screenshot: test-output/dashboard/deploy-unread.png.
import pino from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { makeServer, type RunningServer } from '../../src/server/index.js';
import { useDatabase } from '../harness/db.js';
import { ordersFeature, slotFor, useCapture, useOrdersProject } from '../replication/helpers.js';
import { launchBrowser, screenshot } from './browser.js';

const db = useDatabase();
const project = useOrdersProject(db, ordersFeature('insert'));

let browser: Browser;
let page: Page;
let running: RunningServer;
let dashboardUrl: string;
/** The body of every POST /v1/deploy the page sent, in order. */
const deploys: unknown[] = [];

const slotExists = async () =>
  (await db.sql`select 1 from pg_replication_slots where slot_name = ${slotFor(db)}`).length === 1;

beforeAll(async () => {
  await db.sql`insert into public.orders (status) values ('new'), ('new'), ('paid')`;
  await useCapture(project.cwd(), 'capture: outbox');
  const loaded = await loadConfig({ cwd: project.cwd(), env: { DATABASE_URL: db.url } });
  const server = await makeServer({
    sql: db.sql,
    project: loaded,
    route: () => 0,
    log: pino({ level: 'silent' }),
    dashboard: { features: [], source: db.sql, sourceUrl: db.url },
  });
  running = await server.listen({ host: '127.0.0.1', port: 0 });
  dashboardUrl = `${running.url}/features?token=${server.dashboard.token}`;
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.on('request', (request) => {
    if (request.method() === 'POST' && request.url().endsWith('/v1/deploy'))
      deploys.push(request.postDataJSON());
  });
});

afterAll(async () => {
  await browser?.close();
  await running?.close();
});

describe('Deploy of a plan dropping a slot with unread changes', () => {
  it('warns, refuses without changing anything, and discards only when the button says so', async () => {
    await page.goto(dashboardUrl);
    await page.getByRole('button', { name: 'Plan', exact: true }).click();
    const warning = page.getByTestId('unread-warning');
    await warning.waitFor({ timeout: 15_000 });
    // Before Deploy is pressed: the slot, what it holds, and how to keep it.
    expect(await warning.textContent()).toMatch(
      new RegExp(
        `^This deploy drops a replication slot holding changes no engine has read.*slot ${slotFor(db)}: 3 changes not yet read by an engine \\(`,
      ),
    );
    expect(await page.getByTestId('unread-drain').textContent()).toBe(
      "To keep them, drain first: set capture: replication again in nudge.yaml and restart the engine with it (this one runs the capture it started with) until its log says read the replication slot's backlog; stop it, set your new capture back, start it again, then Plan: the slot's line says no changes waiting.",
    );
    const discard = page.getByRole('button', { name: 'Discard 3 unread changes and deploy' });
    expect(await discard.isEnabled()).toBe(true);
    expect(deploys).toEqual([]);

    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/v1/deploy')),
      page.getByRole('button', { name: 'Yes, deploy' }).click(),
    ]);
    expect(refused.status()).toBe(409);
    await page
      .getByRole('alert')
      .filter({ hasText: /^Deploy refused: it would drop a replication slot/ })
      .waitFor();
    await screenshot(page, 'deploy-unread');
    // Refused once, as asked: no retry, nothing discarded, the slot still there.
    expect(deploys).toHaveLength(1);
    expect(deploys[0]).not.toHaveProperty('discardUnread');
    expect(await slotExists()).toBe(true);

    // The discard asks first too, saying what is lost: nothing sent before Yes.
    await discard.click();
    const ask = page.getByRole('group', { name: /^Discard 3 unread changes and deploy / });
    await ask.waitFor();
    expect(await ask.textContent()).toMatch(/The unread changes are lost for good\./);
    expect(deploys).toHaveLength(1);
    const [deployed] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/v1/deploy')),
      ask.getByRole('button', { name: 'Yes, discard and deploy' }).click(),
    ]);
    expect(deployed.status()).toBe(200);
    await page.getByText(/^Deployment #\d+: \d+ created, \d+ replaced, \d+ dropped\.$/).waitFor();
    expect(deploys).toHaveLength(2);
    expect(deploys[1]).toMatchObject({ discardUnread: true });
    expect(await slotExists()).toBe(false);
    await expect.poll(() => page.getByTestId('plan-text').textContent()).toMatch(/No changes\./);
    expect(await warning.count()).toBe(0);
  });
});
