// The dashboard pages issue 19 added or changed, in real Chromium over a
// running engine on a test database: Overview's live nudge doctor checks,
// lanes and per-minute charts; Features → Plan shows a new feature's capture
// → Deploy applies it → Plan again: no changes (and, on a read-only server,
// Deploy refused with the reason); Logs with a time window in the URL, an
// action attempt with its time, and the Ingest records tab; Contacts found
// by the start of an email; a segment made from a condition with its live
// count, its members, and the contact's page listing it; Actions: every dead
// run of a feature replayed at once. Keyboard, phone width and dark mode.
// Screenshots go to test-output/dashboard/ (pages-*.png).
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Browser, Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LoadedConfig, loadConfig } from '../../src/config/load.js';
import { launch, type Running } from '../../src/engine/wiring/launch.js';
import { silentLog } from '../../src/log.js';
import { makeServer, type RunningServer } from '../../src/server/index.js';
import { signUp } from '../engine/harness.js';
import { useDatabase } from '../harness/db.js';
import type { Recorder } from '../harness/http-recorder.js';
import {
  dashboardProject,
  holdRequests,
  launchBrowser,
  overflowsSideways,
  screenshot,
} from './browser.js';

const db = useDatabase();

let running: Running;
let browser: Browser;
let page: Page;
let base: string;
let cwd: string;
let media: Recorder;
let readOnly: RunningServer | undefined;

const shot = (name: string) => screenshot(page, `pages-${name}`);

beforeAll(async () => {
  let project: LoadedConfig;
  ({ cwd, project, media } = await dashboardProject(db.sql, db.url, 100));
  running = await launch(project, { http: true, log: silentLog, idleMs: 20 });
  base = running.url!;
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  await page.goto(running.dashboardUrl!);
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
});

afterAll(async () => {
  await browser?.close();
  await readOnly?.close();
  await running?.stop();
  await media?.close();
});

const go = async (pathname: string) => {
  await page.goto(`${base}${pathname}`);
};

describe('Overview', () => {
  it('shows the checks of nudge doctor with their fixes, the lanes and the last hour', async () => {
    const checks = page.locator('ul.checks li');
    await checks.first().waitFor({ timeout: 20_000 });
    const connection = page.locator('ul.checks li:has(strong:text-is("Connection"))');
    expect(await connection.getAttribute('data-outcome')).toBe('ok');
    expect(await connection.textContent()).toContain('PostgreSQL');
    // Every warning and failure carries its fix line.
    for (const item of await page
      .locator('ul.checks li[data-outcome="warn"], ul.checks li[data-outcome="fail"]')
      .all()) {
      expect(await item.locator('.fix').textContent()).toMatch(/^fix:/);
    }
    // The page reads the server's last run; "Check again" asks for one now.
    const asked = Date.now();
    const [rerun] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/v1/overview/checks?fresh')),
      page.getByRole('button', { name: 'Check again' }).click(),
    ]);
    expect(Date.parse(((await rerun.json()) as { at: string }).at)).toBeGreaterThanOrEqual(asked);
    // Several problems in the feature files: counted, and each listed under the count.
    const broken = path.join(cwd, 'nudge/features/zz-broken.yaml');
    await writeFile(
      broken,
      'name: zz-broken\ntrigger: { table: auth.users, on: insrt }\nstages: [{ name: seen }]\ndescription: 5\n',
    );
    try {
      await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/v1/overview/checks?fresh')),
        page.getByRole('button', { name: 'Check again' }).click(),
      ]);
      const features = page.locator('ul.checks li:has(> strong:text-is("Features"))');
      await features.locator('.message', { hasText: '2 problems in the feature files' }).waitFor();
      expect(await features.locator('ul.items li').allTextContents()).toEqual([
        expect.stringMatching(/^nudge\/features\/zz-broken\.yaml:2:\d+ trigger\.on: .*got "insrt"/),
        expect.stringMatching(
          /^nudge\/features\/zz-broken\.yaml:4:\d+ description: expected a string, got 5$/,
        ),
      ]);
      await shot('overview-feature-problems');
    } finally {
      await rm(broken);
    }
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/v1/overview/checks?fresh')),
      page.getByRole('button', { name: 'Check again' }).click(),
    ]);
    await page.getByTestId('lanes').waitFor();
    expect(await page.getByTestId('lanes').locator('tbody tr').count()).toBeGreaterThanOrEqual(1);
    for (const name of ['Events', 'Actions', 'Failures']) {
      const chart = page.getByTestId(`spark-${name}`);
      await chart.waitFor();
      expect(await chart.locator('svg').getAttribute('aria-label')).toMatch(
        new RegExp(`^${name}: \\d+ in the last hour`),
      );
    }
    await shot('overview');
  });
});

describe('Features: Plan and Deploy', () => {
  it('plans a new feature’s capture, deploys it, and then has nothing to change', async () => {
    // A feature the running engine has not loaded: its capture is new.
    await writeFile(
      path.join(cwd, 'nudge/features/profile-updated.yaml'),
      `name: profile-updated
trigger: { table: auth.users, on: update }
contact: { id: new.id, email: new.email }
stages:
  - name: noted
    do: [{ set: { profile_updated: true } }]
`,
    );
    await page.getByRole('link', { name: 'Features', exact: true }).click();
    await page.getByRole('button', { name: 'Plan', exact: true }).click();
    const plan = page.getByTestId('plan-text');
    await plan.waitFor();
    expect(await plan.textContent()).toMatch(/\+ capture auth\.users update/);
    await shot('features-plan');
    await page.getByRole('button', { name: 'Deploy' }).click();
    await page.getByRole('button', { name: 'Yes, deploy' }).click();
    await page.getByText(/^Deployment #\d+: \d+ created/).waitFor();
    await expect.poll(async () => await plan.textContent()).toMatch(/No changes\./);
    expect(await page.getByRole('button', { name: 'Deploy' }).isDisabled()).toBe(true);
  });

  it('refuses Deploy with the reason in read-only mode', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'nudge-pages-ro-'));
    await cp(path.join(cwd, 'nudge'), path.join(dir, 'nudge'), { recursive: true });
    // The same master key, which the engine's stored secrets were sealed with.
    if (existsSync(path.join(cwd, '.nudge'))) {
      await cp(path.join(cwd, '.nudge'), path.join(dir, '.nudge'), { recursive: true });
    }
    const yaml = await readFile(path.join(cwd, 'nudge.yaml'), 'utf8');
    await writeFile(path.join(dir, 'nudge.yaml'), `access: read-only\n${yaml}`);
    const project = await loadConfig({
      cwd: dir,
      env: { DATABASE_URL: db.url, MEDIA_WEBHOOK_URL: 'http://x' },
    });
    const server = await makeServer({
      sql: db.sql,
      project,
      route: () => 0,
      log: pino({ level: 'silent' }),
      dashboard: { features: [], source: db.sql, sourceUrl: db.url },
    });
    readOnly = await server.listen({ host: '127.0.0.1', port: 0 });
    const other = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    try {
      await other.goto(`${readOnly.url}/features?token=${server.dashboard.token}`);
      await other.getByRole('button', { name: 'Plan', exact: true }).click();
      const refused = other.getByTestId('deploy-refused');
      await refused.waitFor({ timeout: 15_000 }).catch(async (error: unknown) => {
        throw new Error(`${String(error)}\n${await other.locator('main').textContent()}`);
      });
      expect(await refused.textContent()).toMatch(
        /^Deploy is refused: access is read-only \(nudge\.yaml:1\): deploy refuses to write to the database; `nudge deploy --sql`/,
      );
      expect(await other.getByRole('button', { name: 'Deploy' }).isDisabled()).toBe(true);
      await screenshot(other, 'pages-features-read-only');
    } finally {
      await other.close();
    }
  });
});

describe('Logs', () => {
  it('keeps a time window in the URL, shows attempts with their time, and the ingest records', async () => {
    await signUp(db.sql, 'ada.lovelace@example.com');
    await go('/logs?outcome=attempt');
    const attempt = page.getByTestId('attempt').first();
    await attempt.waitFor({ timeout: 20_000 }).catch(async (error: unknown) => {
      const state = {
        log: await db.sql`select count(*)::int as n from nudge.event_log`,
        inbox:
          await db.sql`select source, table_name, processed_at is not null as done from nudge_engine.inbox`,
        decisions:
          await db.sql`select feature, outcome, reason from nudge_engine.decisions order by id`,
        runs: await db.sql`select kind, status, last_error from nudge_engine.action_runs`,
      };
      throw new Error(`${String(error)}\n${JSON.stringify(state)}`);
    });
    // The attempt's row says which attempt and how it went; the time follows.
    expect(await attempt.textContent()).toMatch(/^ · in \d+ ms$/);
    expect(await page.locator('li.decision[data-outcome="attempt"]').first().textContent()).toMatch(
      /attempt 1 succeeded · in \d+ ms/,
    );

    // While the first page is on its way the page says so, not "no decisions".
    const decisions = await holdRequests(page, '**/v1/decisions?*');
    await go('/logs?outcome=entered');
    await page.getByRole('status').filter({ hasText: 'Loading…' }).waitFor();
    expect(await page.getByText('No decisions match').count()).toBe(0);
    await decisions.release();
    await page.getByRole('status').filter({ hasText: 'Loading…' }).waitFor({ state: 'detached' });

    // A window that ended an hour ago holds none of today's decisions.
    const to = new Date(Date.now() - 3_600_000).toISOString();
    await go(`/logs?to=${encodeURIComponent(to)}`);
    // Nothing new can come into an ended window: it does not promise any.
    await page.getByText('No decisions match.', { exact: true }).waitFor();
    expect(await page.locator('input[name="to"]').inputValue()).not.toBe('');
    // The live tail's badge settles after its first answer: wait for it, do not read it early.
    await page.getByTestId('live').filter({ hasText: 'not live' }).waitFor();

    // No answer at all (the server stopped): what to do, not fetch's "Failed to fetch".
    const refuse = (route: Route) => route.abort('connectionrefused');
    await page.route('**/v1/decisions?*', refuse);
    await go('/logs?outcome=matched');
    expect(await page.getByRole('alert').textContent()).toMatch(
      /^Cannot reach the Nudge server: it may have stopped\. Start it again \(nudge start, or nudge dev\), then reload this page\.$/,
    );
    await page.unroute('**/v1/decisions?*', refuse);

    // A filter the API refuses: the form shows it as given, the reason, and no live tail.
    await go('/logs?outcome=bogus');
    await page.getByRole('alert').waitFor();
    expect(await page.locator('select[name="outcome"]').inputValue()).toBe('bogus');
    await page.getByTestId('live').filter({ hasText: 'not live' }).waitFor();
    await go('/logs');

    await page.getByRole('link', { name: 'Ingest records' }).click();
    expect(new URL(page.url()).pathname).toBe('/logs/ingest');
    const record = page.locator('li.ingest', { hasText: 'insert on auth.users' }).first();
    await record.waitFor();
    await page.getByLabel('Table or event').fill('auth.users');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => new URL(page.url()).search).toBe('?subject=auth.users');
    expect(await page.locator('li.ingest').count()).toBeGreaterThanOrEqual(1);
    await shot('ingest');
    await page.goBack();
    expect(new URL(page.url()).search).toBe('');
  });
});

describe('Contacts and Lists', () => {
  it('finds a contact by the start of its email, makes a segment with a live count, and lists it on the contact', async () => {
    await signUp(db.sql, 'grace.hopper@example.com');
    // The engine makes the contact from the sign-up; search once it is there
    // (the page asks once per search, it does not poll).
    await expect
      .poll(
        async () =>
          (
            await db.sql`select 1 from nudge_engine.contacts where email = 'grace.hopper@example.com'`
          ).length,
        { timeout: 20_000 },
      )
      .toBe(1);
    await go('/contacts');
    await page.getByLabel('Email starts with').fill('grace');
    await page.getByRole('button', { name: 'Search' }).click();
    const row = page.locator('tr[data-contact="grace.hopper@example.com"]');
    await row.waitFor({ timeout: 20_000 });
    expect(new URL(page.url()).search).toBe('?q=grace');
    // The row is in the unfiltered page too: wait for the search's answer, one row.
    await expect.poll(() => page.locator('tbody tr').count(), { timeout: 15_000 }).toBe(1);

    // Keyboard: the Lists link in the header, by Tab and Enter.
    await page.getByRole('link', { name: 'Lists', exact: true }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Lists and segments' }).waitFor();
    await page.getByLabel('Name').fill('hoppers');
    await page.getByLabel('Condition').fill('email=like.grace*');
    await expect
      .poll(async () => page.getByTestId('live-count').textContent())
      .toBe('1 contact now');
    await page.getByLabel('Condition').fill('email=like.*@example.com');
    await expect
      .poll(async () => page.getByTestId('live-count').textContent())
      .toMatch(/^[2-9] contacts now$/);
    await page.getByLabel('Condition').fill('email=nope.x');
    await page.getByRole('alert').waitFor();
    await page.getByLabel('Condition').fill('email=like.grace*');
    await expect
      .poll(async () => page.getByTestId('live-count').textContent())
      .toBe('1 contact now');
    await page.getByRole('button', { name: 'Create segment' }).click();
    await page.getByRole('heading', { name: 'hoppers' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/lists/hoppers');
    await page.locator('li[data-contact="grace.hopper@example.com"]').waitFor();
    await shot('list');

    await page.getByRole('link', { name: 'grace.hopper@example.com' }).click();
    const lists = page.getByTestId('contact-lists');
    await expect.poll(async () => lists.textContent()).toBe('hoppers (segment)');
    await shot('contact-lists');

    // A phone's width: no sideways scrolling; and dark mode follows the system.
    await page.setViewportSize({ width: 390, height: 844 });
    await go('/lists');
    await page.getByRole('heading', { name: 'Lists and segments' }).waitFor();
    expect(await overflowsSideways(page)).toBe(false);
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot('lists-phone-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1280, height: 860 });
  });
});

describe('Actions', () => {
  it('replays every dead run of a feature at once, as nudge replay --feature', async () => {
    const [user] = await db.sql<
      { id: string }[]
    >`select id from auth.users where email = 'grace.hopper@example.com'`;
    await db.sql`insert into storage.buckets (id, name) values ('avatars', 'avatars') on conflict do nothing`;
    for (const name of ['a.png', 'b.png']) {
      await db.sql`insert into storage.objects (bucket_id, name, owner)
                   values ('avatars', ${`${user!.id}/${name}`}, ${user!.id})`;
    }
    const runs = () =>
      db.sql<
        { status: string }[]
      >`select status from nudge_engine.action_runs where feature = 'upload-thumbnails'`;
    await expect
      .poll(async () => (await runs()).map((r) => r.status).join(','), { timeout: 30_000 })
      .toBe('dead,dead');
    await go('/actions?feature=upload-thumbnails');
    await page.locator('tr[data-status="dead"]').nth(1).waitFor();
    media.respondWith({ status: 200, body: { ok: true } });
    await page.getByRole('button', { name: 'Replay all dead runs of upload-thumbnails' }).click();
    await page.getByRole('button', { name: 'Yes, replay' }).click();
    await page.getByText('2 runs queued again.').waitFor();
    await expect
      .poll(async () => (await runs()).map((r) => r.status).join(','), { timeout: 20_000 })
      .toBe('succeeded,succeeded');
    await shot('actions-replayed');
  });
});
