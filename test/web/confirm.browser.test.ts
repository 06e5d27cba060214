// The dashboard's changes that a click cannot take back ask first, in real
// Chromium over a server on a test database: Deploy says how many changes go
// to which database, Replay how many runs run again (one, or every dead run
// of a filter), the Clock page how far the engine's clock moves. Nothing is
// sent before "Yes, …"; Cancel and Escape send nothing and give the focus
// back to the button; the keyboard alone can open, cancel and confirm.
// Screenshots: test-output/dashboard/confirm-*.png.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import type { Browser, Locator, Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateEngine } from '../../src/db/migrate.js';
import { makeServer, type RunningServer } from '../../src/server/index.js';
import { useDatabase } from '../harness/db.js';
import type { Recorder } from '../harness/http-recorder.js';
import {
  dashboardProject,
  demoFeatures,
  holdRequests,
  launchBrowser,
  screenshot,
  signedInPage,
} from './browser.js';

const db = useDatabase();
const DAY = 86_400_000;
const soon = { timeout: 10_000 };

let browser: Browser;
let page: Page;
let running: RunningServer;
let media: Recorder;
let base: string;
/** The project's folder: its feature files are read from disk at every plan. */
let cwd: string;
/** The path of every POST the page sent to /v1, in order. */
const posts: string[] = [];

/** The page globals the question watch uses (the test program has no DOM lib). */
interface QuestionWatch {
  questions: string[];
  document: {
    body: unknown;
    querySelectorAll(selector: string): Iterable<{ textContent: string | null }>;
  };
  MutationObserver: new (
    callback: () => void,
  ) => { observe(target: unknown, options: Record<string, boolean>): void };
  requestAnimationFrame(callback: () => void): void;
}

const shot = (name: string) => screenshot(page, `confirm-${name}`);
/** Whether the element has the keyboard's focus. */
const focused = (locator: Locator) =>
  locator.evaluate((element) => element.ownerDocument.activeElement === element);
const sent = (pathname: string) => posts.filter((p) => p === pathname).length;
const offset = async () =>
  Number(
    (await db.sql<{ offset_ms: string }[]>`select offset_ms from nudge_engine.clock`)[0]!.offset_ms,
  );

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  const made = await dashboardProject(db.sql, db.url, 100);
  media = made.media;
  cwd = made.cwd;
  // A feature no deploy has captured yet: the plan has something to deploy.
  await writeFile(
    path.join(made.cwd, 'nudge/features/profile-updated.yaml'),
    `name: profile-updated
trigger: { table: auth.users, on: update }
contact: { id: new.id, email: new.email }
stages:
  - name: noted
    do: [{ set: { profile_updated: true } }]
`,
  );
  const server = await makeServer({
    sql: db.sql,
    project: made.project,
    route: () => 0,
    log: pino({ level: 'silent' }),
    dashboard: {
      features: await demoFeatures(),
      source: db.sql,
      sourceUrl: db.url,
      movableClock: true,
    },
  });
  running = await server.listen({ host: '127.0.0.1', port: 0 });
  base = running.url;
  browser = await launchBrowser();
  page = await signedInPage(browser, base, server.dashboard.token);
  page.on('request', (request) => {
    if (request.method() === 'POST') posts.push(new URL(request.url()).pathname);
  });
});

afterAll(async () => {
  await browser?.close();
  await running?.close();
  await media?.close();
});

describe('Deploy', () => {
  it('says "the source database" when the Overview cannot be read, and still asks', async () => {
    const refuse = (route: Route) => route.abort('connectionrefused');
    await page.route('**/v1/overview', refuse);
    try {
      await page.goto(`${base}/features`);
      await page.getByRole('button', { name: 'Plan', exact: true }).click();
      await page.getByRole('button', { name: 'Deploy', exact: true }).click();
      const ask = page.getByRole('group', { name: /^Deploy \d+ changes? to / });
      await expect
        .poll(() => ask.locator('.question').textContent(), soon)
        .toMatch(/^Deploy \d+ changes? to the source database \(/);
      await ask.getByRole('button', { name: 'Cancel' }).click();
      expect(sent('/v1/deploy')).toBe(0);
    } finally {
      await page.unroute('**/v1/overview', refuse);
    }
  });

  it('says how many changes go to which database, and deploys only on Yes', async () => {
    await page.goto(`${base}/features`);
    // Every question the page shows, as it shows it: one that opens on the
    // fallback words and then names the database is seen here.
    await page.evaluate(() => {
      const window = globalThis as unknown as QuestionWatch;
      window.questions = [];
      new window.MutationObserver(() => {
        for (const question of window.document.querySelectorAll('.question'))
          window.questions.push(question.textContent ?? '');
      }).observe(window.document.body, { childList: true, subtree: true, characterData: true });
    });
    const questions = () => page.evaluate(() => (globalThis as unknown as QuestionWatch).questions);
    // The database's name (from /v1/overview) answers only after the plan.
    const overview = await holdRequests(page, '**/v1/overview');
    const [planned] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/v1/plan')),
      page.getByRole('button', { name: 'Plan', exact: true }).click(),
    ]);
    const { counts } = (await planned.json()) as {
      counts: { create: number; replace: number; drop: number };
    };
    const changes = counts.create + counts.replace + counts.drop;
    expect(changes).toBeGreaterThan(0);
    const [source] = await db.sql<{ database: string }[]>`select current_database() as database`;
    const database = source!.database;

    // The plan is in, the name is not: Deploy is not offered yet (a frame
    // after the plan's answer, the page has shown whatever it shows for it).
    const deploy = page.getByRole('button', { name: 'Deploy', exact: true });
    await planned.finished();
    await page.evaluate(
      () =>
        new Promise<void>((resolve) =>
          (globalThis as unknown as QuestionWatch).requestAnimationFrame(() => resolve()),
        ),
    );
    expect(await deploy.count()).toBe(0);
    await overview.release();

    await deploy.click();
    const ask = page.getByRole('group', { name: /^Deploy \d+ changes? to / });
    await expect
      .poll(() => ask.locator('.question').textContent(), soon)
      .toMatch(
        new RegExp(`^Deploy ${changes} changes? to ${database} \\(${counts.create} to create`),
      );
    expect(
      (await questions()).filter((question) => question.includes('the source database')),
    ).toEqual([]);
    await shot('deploy');
    expect(sent('/v1/deploy')).toBe(0);

    // Cancel: nothing sent, the question gone, the focus back on Deploy.
    await ask.getByRole('button', { name: 'Cancel' }).click();
    await ask.waitFor({ state: 'detached' });
    expect(await focused(deploy)).toBe(true);
    expect(sent('/v1/deploy')).toBe(0);

    // The keyboard: Enter asks (the question takes the focus), Escape cancels.
    await page.keyboard.press('Enter');
    await ask.waitFor();
    expect(await focused(ask)).toBe(true);
    await page.keyboard.press('Escape');
    await ask.waitFor({ state: 'detached' });
    expect(await focused(deploy)).toBe(true);
    expect(sent('/v1/deploy')).toBe(0);

    // Enter, Tab to "Yes, deploy", Enter: deployed, once.
    await page.keyboard.press('Enter');
    await ask.waitFor();
    await page.keyboard.press('Tab');
    expect(await page.locator(':focus').textContent()).toBe('Yes, deploy');
    const [deployed] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/v1/deploy')),
      page.keyboard.press('Enter'),
    ]);
    expect(deployed.status()).toBe(200);
    await page.getByText(/^Deployment #\d+: \d+ created/).waitFor();
    expect(sent('/v1/deploy')).toBe(1);
    // Said as done (the ok colour's bar), not as a warning (amber): the
    // note's computed bar against each colour as the page computes it.
    const colours = await page.evaluate(() => {
      type Styled = { borderLeftColor: string; color: string };
      type Node = { style: { color: string }; remove(): void };
      const window = globalThis as unknown as {
        getComputedStyle(node: unknown): Styled;
        document: {
          querySelector(selector: string): unknown;
          createElement(tag: string): Node;
          body: { append(node: Node): void };
        };
      };
      const of = (variable: string) => {
        const probe = window.document.createElement('span');
        probe.style.color = `var(${variable})`;
        window.document.body.append(probe);
        const value = window.getComputedStyle(probe).color;
        probe.remove();
        return value;
      };
      const note = window.document.querySelector('[data-testid="deployed"]');
      return {
        bar: window.getComputedStyle(note).borderLeftColor,
        ok: of('--ok'),
        warn: of('--warn'),
      };
    });
    expect(colours.ok).toMatch(/^rgb/);
    expect(colours.bar).toBe(colours.ok);
    expect(colours.bar).not.toBe(colours.warn);
  });

  it('shows the new plan when the plan changed before Yes, and deploys that one after Yes', async () => {
    const deployments = async () =>
      Number((await db.sql<{ n: string }[]>`select count(*) as n from nudge.deployments`)[0]!.n);
    const feature = (name: string, table: string) =>
      writeFile(
        path.join(cwd, `nudge/features/${name}.yaml`),
        `name: ${name}\ntrigger: { table: ${table}, on: delete }\nstages:\n  - name: noted\n    do: [{ track: { event: ${name.replace('-', '_')} } }]\n`,
      );
    await feature('user-gone', 'auth.users');
    await page.goto(`${base}/features`);
    await page.getByRole('button', { name: 'Plan', exact: true }).click();
    const plan = page.getByTestId('plan-text');
    await expect.poll(() => plan.textContent(), soon).toMatch(/\+ capture auth\.users delete/);
    expect(await plan.textContent()).not.toMatch(/auth\.identities/);

    // A feature file written after the plan was shown: the shown plan is no longer the plan.
    await feature('identity-gone', 'auth.identities');
    const before = await deployments();
    const deploy = page.getByRole('button', { name: 'Deploy', exact: true });
    await deploy.click();
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/v1/deploy')),
      page.getByRole('button', { name: 'Yes, deploy' }).click(),
    ]);
    expect(refused.status()).toBe(409);
    // The new plan, at once, with a note saying so; nothing deployed.
    const note = page.getByTestId('plan-changed');
    await expect
      .poll(() => note.textContent(), soon)
      .toMatch(/^The plan changed since it was shown .*: this is the new plan/);
    await expect.poll(() => plan.textContent(), soon).toMatch(/\+ capture auth\.identities delete/);
    expect(await plan.textContent()).toMatch(/\+ capture auth\.users delete/);
    expect(await deploy.isEnabled()).toBe(true);
    expect(await deployments()).toBe(before);
    await shot('plan-changed');

    // Deploy now deploys the plan shown, after its question.
    await deploy.click();
    const [deployed] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/v1/deploy')),
      page.getByRole('button', { name: 'Yes, deploy' }).click(),
    ]);
    expect(deployed.status()).toBe(200);
    await page.getByText(/^Deployment #\d+: \d+ created/).waitFor();
    expect(await deployments()).toBe(before + 1);
    await expect.poll(() => plan.textContent(), soon).toMatch(/No changes\./);
    expect(await note.count()).toBe(0);
  });
});

describe('Replay', () => {
  it('asks before one run and before every dead run of a filter, saying how many', async () => {
    const [contact] = await db.sql<{ id: string }[]>`
      insert into nudge_engine.contacts (email) values ('replay@example.com') returning id`;
    for (const key of ['replay-1', 'replay-2', 'replay-3'])
      await db.sql`
        insert into nudge_engine.action_runs (key, feature, contact_id, stage, kind, params, status,
                                              attempts, last_error)
        values (${key}, 'upload-thumbnails', ${contact!.id}, 'thumbnailed', 'webhook', '{}',
                'dead', 2, 'HTTP 503')`;
    const status = async (key: string) =>
      (
        await db.sql<{ status: string }[]>`
          select status from nudge_engine.action_runs where key = ${key}`
      )[0]?.status;

    await page.goto(`${base}/actions?feature=upload-thumbnails`);
    const dead = page.locator('tr[data-status="dead"]');
    await expect.poll(() => dead.count(), soon).toBe(3);

    // One run: the question is in its row.
    const row = page.locator('tr[data-key="replay-1"]');
    const replay = row.getByRole('button', { name: 'Replay', exact: true });
    await replay.click();
    const one = row.getByRole('group', { name: /^Replay this dead webhook run/ });
    await one.waitFor();
    expect(await one.locator('.question').textContent()).toMatch(
      /^Replay this dead webhook run for \S+\? Its action runs again\.$/,
    );
    await shot('replay-one');
    await one.getByRole('button', { name: 'Cancel' }).click();
    await one.waitFor({ state: 'detached' });
    expect(await focused(replay)).toBe(true);
    expect(sent('/v1/actions/replay')).toBe(0);
    expect(await status('replay-1')).toBe('dead');

    await replay.click();
    await one.getByRole('button', { name: 'Yes, replay' }).click();
    await page.getByText('1 run queued again.').waitFor();
    expect(sent('/v1/actions/replay')).toBe(1);
    expect(await status('replay-1')).not.toBe('dead');
    expect(await status('replay-2')).toBe('dead');

    // Every dead run of the feature: how many, and only on Yes.
    await expect.poll(() => dead.count(), soon).toBe(2);
    const all = page.getByRole('button', { name: 'Replay all dead runs of upload-thumbnails' });
    await all.click();
    const many = page.getByRole('group', { name: /^Replay 2 dead runs of upload-thumbnails/ });
    await many.waitFor();
    expect(await many.locator('.question').textContent()).toBe(
      'Replay 2 dead runs of upload-thumbnails? Their actions run again.',
    );
    await shot('replay-all');
    await page.keyboard.press('Escape');
    await many.waitFor({ state: 'detached' });
    expect(await focused(all)).toBe(true);
    expect(sent('/v1/actions/replay')).toBe(1);
    expect(await status('replay-2')).toBe('dead');

    await all.click();
    await many.getByRole('button', { name: 'Yes, replay' }).click();
    await page.getByText('2 runs queued again.').waitFor();
    expect(sent('/v1/actions/replay')).toBe(2);
    expect(await status('replay-2')).not.toBe('dead');
    expect(await status('replay-3')).not.toBe('dead');
  });
});

describe('Clock', () => {
  it('says how far the clock moves, and moves or resets it only on Yes', async () => {
    await db.sql`update nudge_engine.clock set offset_ms = 0`;
    await page.goto(`${base}/clock`);
    await page.getByTestId('engine-time').waitFor();

    const plusDay = page.getByRole('button', { name: '+1d' });
    await plusDay.click();
    const move = page.getByRole('group', { name: /^Move the engine clock 1 day ahead/ });
    await move.waitFor();
    expect(await move.locator('.question').textContent()).toBe(
      'Move the engine clock 1 day ahead, to 1 day ahead of real time? Waits and cooldowns due by then fire now, in every running engine.',
    );
    await shot('clock-advance');
    await move.getByRole('button', { name: 'Cancel' }).click();
    await move.waitFor({ state: 'detached' });
    expect(await focused(plusDay)).toBe(true);
    expect(sent('/v1/clock/advance')).toBe(0);
    expect(await offset()).toBe(0);

    await plusDay.click();
    await move.getByRole('button', { name: 'Yes, move it' }).click();
    await expect
      .poll(() => page.getByTestId('clock-offset').textContent(), soon)
      .toBe('1 day ahead of real time');
    expect(await offset()).toBe(DAY);

    const reset = page.getByRole('button', { name: 'Reset to real time' });
    await reset.click();
    const back = page.getByRole('group', { name: /^Put the engine clock back on real time/ });
    await back.waitFor();
    expect(await back.locator('.question').textContent()).toBe(
      'Put the engine clock back on real time, from 1 day ahead of real time? What the engine did while ahead stays done.',
    );
    await shot('clock-reset');
    await page.keyboard.press('Escape');
    await back.waitFor({ state: 'detached' });
    expect(sent('/v1/clock/reset')).toBe(0);
    expect(await offset()).toBe(DAY);

    await reset.click();
    await back.getByRole('button', { name: 'Yes, reset' }).click();
    await expect.poll(() => page.getByTestId('clock-offset').textContent(), soon).toBe('real time');
    expect(await offset()).toBe(0);
    expect(sent('/v1/clock/reset')).toBe(1);
  });
});
