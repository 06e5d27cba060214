// What a newcomer's review of the Lists page found, in real Chromium over a
// dashboard on a test database whose contacts are made as `nudge dev` makes
// the demo's (its sign-ups through the demo's user mapping), plus one with
// plan and country: the Condition's example matches demo contacts, its
// underscores shown; the live count is asked only for a condition that can
// be one (none half-typed, so no 400s in the console), and words with no `=`
// are told what a condition is like; the form does not move as the live
// count comes; a name the API refuses is shown at
// the Name field, right under it (in view at a phone's width), which takes
// the focus, and the refusal goes as soon as the name is edited; a condition on an attribute no contact has is made, and the
// page Create opens warns with the name it likely is (the API's answer to the
// creation, carried in that page's history entry: a later visit does not ask
// for it again); members show attribute values; a segment is deleted after
// "Yes, delete" (not after Cancel or Escape), asked by the dashboard's one
// Confirm; and at a phone's width the Lists table is one card per row.
// Screenshots: test-output/dashboard/segments-*.png.
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { compileUserMapping, userToContact } from '../../src/contacts/mapping.js';
import { useDatabase } from '../harness/db.js';
import {
  type Dashboard,
  launchBrowser,
  screenshot,
  signedInPage,
  startDashboard,
} from './browser.js';

// The page's globals as page.evaluate's callbacks use them (see browser.ts).
declare const window: {
  innerWidth: number;
  innerHeight: number;
  getComputedStyle(e: unknown): { display: string };
};
declare const document: {
  querySelectorAll(selector: string): ArrayLike<{ getBoundingClientRect(): { right: number } }>;
};

const db = useDatabase();
let browser: Browser;
let page: Page;
let dashboard: Dashboard;

const shot = (name: string) => screenshot(page, `segments-${name}`);
const LONG_VALUE = 'annual-business-plus-with-priority-support-and-sso';
const RENEWED = '2026-03-01T09:00:00.000Z';

beforeAll(async () => {
  dashboard = await startDashboard(db);
  // The demo's sign-ups as src/dev/story.ts writes them (Ada signs in, Grace
  // does not), made contacts by the demo's own user mapping.
  const demo = await loadConfig({ cwd: path.resolve('examples/demo'), env: {} });
  const mapping = compileUserMapping(demo.supabase?.user_mapping, demo.config.contacts.attributes);
  for (const [email, firstName, signedIn] of [
    ['ada@example.com', 'Ada', true],
    ['grace@example.com', 'Grace', false],
  ] as const) {
    await db.sql`
      insert into auth.users (instance_id, id, aud, role, email, raw_app_meta_data,
                              raw_user_meta_data, created_at, updated_at, last_sign_in_at)
      values ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated',
              'authenticated', ${email}, '{"provider":"email","providers":["email"]}',
              ${db.sql.json({ first_name: firstName })}, now(), now(),
              ${signedIn ? new Date() : null})`;
  }
  for (const row of await db.sql`select * from auth.users`) {
    const contact = userToContact(row, mapping);
    if (!contact.ok) throw new Error(contact.reason);
    await db.sql`
      insert into nudge_engine.contacts (email, auth_user_id, attributes)
      values (${contact.value.email}, ${contact.value.authUserId},
              ${db.sql.json(JSON.parse(JSON.stringify(contact.value.attributes)))})`;
  }
  await db.sql`
    insert into nudge_engine.contacts (email, attributes)
    values ('pat@example.com', ${db.sql.json({ plan: 'pro', country: 'FR', tier: LONG_VALUE, gone: null, renewed_at: RENEWED })})`;
  // A static list, and a segment with a condition as long as some are: the widest row.
  await db.sql`
    insert into nudge_engine.lists (name, query)
    values ('newsletter', null),
           ('signed-in-recently-on-email', 'provider=eq.email&last_sign_in_at=not.is.null&or=(first_name.eq.Ada,first_name.eq.Grace,first_name.eq.Katherine)')`;
  browser = await launchBrowser();
  page = await signedInPage(browser, dashboard.base, dashboard.token);
});

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
});

const openLists = async () => {
  await page.goto(`${dashboard.base}/lists`);
  await page.getByRole('heading', { name: 'Lists and segments' }).waitFor();
};
const liveCount = () => page.getByTestId('live-count').textContent();
/** Whether the keyboard's focus is on the field labelled `label`. */
const focusedOn = (label: string) =>
  page.getByLabel(label).evaluate((e) => e.ownerDocument.activeElement === e);
/** The page's box of an element: where it is in the window now. */
type Box = { top: number; bottom: number; left: number; right: number };
const box = (selector: string) =>
  page
    .locator(selector)
    .evaluate((e) => (e as unknown as { getBoundingClientRect(): Box }).getBoundingClientRect());
/** Submits a name the API refuses, with a condition it takes. */
const refuseName = async (name: string) => {
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Condition').fill('provider=eq.email');
  await expect.poll(liveCount).toBe('2 contacts now');
  await page.getByRole('button', { name: 'Create segment' }).click();
};
const listNames = async () =>
  (await db.sql<{ name: string }[]>`select name from nudge_engine.lists order by name`).map(
    (row) => row.name,
  );

describe('the New segment form', () => {
  it('has a Condition example that matches demo contacts', async () => {
    await openLists();
    const condition = page.getByLabel('Condition');
    const example = await condition.getAttribute('placeholder');
    expect(example).toBeTruthy();
    await condition.fill(example!);
    await expect.poll(liveCount).toBe('1 contact now');
  });

  it('shows the underscores of its Condition example', async () => {
    await openLists();
    const condition = page.getByLabel('Condition');
    const example = (await condition.getAttribute('placeholder')) ?? '';
    expect(example).toContain('last_sign_in_at');
    const shown = await condition.screenshot();
    // The same example with spaces for underscores must look different.
    await condition.evaluate(
      (input, text) => input.setAttribute('placeholder', text),
      example.replaceAll('_', ' '),
    );
    expect((await condition.screenshot()).equals(shown)).toBe(false);
  });

  it('counts only a condition that can be one, and says what one with no = lacks', async () => {
    // The page's timers under the test's hand: the form's pause before it asks is run at once.
    await page.clock.install();
    await openLists();
    const asked: string[] = [];
    const consoleErrors: string[] = [];
    const onRequest = (request: { url(): string }) => {
      const url = new URL(request.url());
      if (url.pathname === '/v1/contacts') asked.push(url.search);
    };
    const onConsole = (message: { type(): string; text(): string }) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    };
    page.on('request', onRequest);
    page.on('console', onConsole);
    try {
      const condition = page.getByLabel('Condition');
      const typed = async (text: string) => {
        await condition.fill(text);
        await page.clock.runFor(1_000);
      };
      // Half-typed, it is not asked for (each would be a 400), nor said to be wrong.
      for (const draft of ['provider=', 'provider=eq.', 'or=(provider.eq.email,provider.eq.x']) {
        await typed(draft);
        expect(await liveCount()).toBe('');
        expect(await page.getByRole('alert').count()).toBe(0);
      }
      await typed('provider=eq.email');
      await expect.poll(liveCount).toBe('2 contacts now');
      expect(asked).toHaveLength(1);
      expect(new URLSearchParams(asked[0]).get('provider')).toBe('eq.email');

      // Words with no "=": the form's own words, and nothing asked.
      await typed('signed up');
      const problem = page.locator('section[aria-labelledby="new-segment"] [role="alert"]');
      await expect
        .poll(() => problem.textContent())
        .toBe('signed up: expected field=op.value, e.g. plan=eq.pro');
      expect(await liveCount()).toBe('');
      expect(await page.getByRole('button', { name: 'Create segment' }).isDisabled()).toBe(true);
      await shot('condition-no-equals');
      expect(asked).toHaveLength(1);
      expect(consoleErrors).toEqual([]);
    } finally {
      page.off('request', onRequest);
      page.off('console', onConsole);
    }
  });

  it('stays put while the live count comes', async () => {
    await openLists();
    const boxes = () =>
      Promise.all(['Name', 'Condition'].map((label) => page.getByLabel(label).boundingBox())).then(
        async (fields) => [
          ...fields,
          await page.getByRole('button', { name: 'Create segment' }).boundingBox(),
        ],
      );
    const before = await boxes();
    await page.getByLabel('Condition').fill('email=like.*@example.com');
    await expect.poll(liveCount).toBe('3 contacts now');
    expect(await boxes()).toEqual(before);
    await page.getByLabel('Condition').fill('email=like.*@example.com&country=eq.FR');
    await expect.poll(liveCount).toBe('1 contact now');
    expect(await boxes()).toEqual(before);
  });

  it('shows a refused name at the Name field, which takes the focus, and makes nothing', async () => {
    await openLists();
    await refuseName('Email Users!');
    const problem = page.locator('form #segment-name-problem');
    await expect
      .poll(() => problem.textContent())
      .toBe(
        'name: expected a name of letters, digits, - and _, starting with a letter or digit (e.g. email-users), got "Email Users!"',
      );
    expect(await page.getByLabel('Name').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByLabel('Name').getAttribute('aria-describedby')).toBe(
      'segment-name-problem',
    );
    expect(new URL(page.url()).pathname).toBe('/lists');
    expect(await focusedOn('Name')).toBe(true);
    await shot('name-refused');
    expect(await listNames()).toEqual(['newsletter', 'signed-in-recently-on-email']);

    // Edited, the name is no longer the one refused: the refusal goes at once.
    await page.keyboard.press('Backspace');
    await problem.waitFor({ state: 'detached', timeout: 1_000 });
    expect(await page.getByLabel('Name').getAttribute('aria-invalid')).toBeNull();
    expect(await page.getByLabel('Name').getAttribute('aria-describedby')).toBeNull();
  });

  it('shows a refused name right under the Name field, in view at a phone’s width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await openLists();
      await refuseName('Signed in users!');
      const problem = page.locator('form #segment-name-problem');
      await problem.waitFor();
      expect(await focusedOn('Name')).toBe(true);
      await shot('name-refused-phone');
      const shown = await box('form #segment-name-problem');
      const field = await box('form input[name="name"]');
      const condition = await box('form input[name="query"]');
      // In the window, under the Name field and above the Condition field.
      expect(shown.top).toBeGreaterThanOrEqual(0);
      expect(shown.bottom).toBeLessThanOrEqual(await page.evaluate(() => window.innerHeight));
      expect(shown.right).toBeLessThanOrEqual(await page.evaluate(() => window.innerWidth));
      expect(shown.top).toBeGreaterThanOrEqual(field.bottom);
      expect(shown.bottom).toBeLessThanOrEqual(condition.top);
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
  });

  it('makes a segment on an attribute no contact has, and its page says so', async () => {
    await openLists();
    await page.getByLabel('Name').fill('typo');
    await page.getByLabel('Condition').fill('plann=eq.pro');
    await expect.poll(liveCount).toBe('0 contacts now');
    await page.getByRole('button', { name: 'Create segment' }).click();
    await page.getByRole('heading', { name: 'typo' }).waitFor();
    const warning = 'no contact has the attribute "plann" yet (did you mean "plan"?)';
    await expect.poll(() => page.getByTestId('segment-warning').textContent()).toContain(warning);
    await shot('warning');
    // Carried with the page Create opened: there again on reload.
    await page.reload();
    await expect.poll(() => page.getByTestId('segment-warning').textContent()).toContain(warning);
    // Opened from Lists, the page does not scan the contacts for it again.
    await openLists();
    await page.locator('tr[data-list="typo"] a').click();
    await page.getByText('Segment: plann=eq.pro, evaluated when read.').waitFor();
    expect(await page.getByTestId('segment-warning').count()).toBe(0);
  });
});

describe('a segment’s page', () => {
  it('shows each member’s attribute values, a long one cut', async () => {
    await openLists();
    await page.getByLabel('Name').fill('pros');
    await page.getByLabel('Condition').fill('plan=eq.pro');
    await expect.poll(liveCount).toBe('1 contact now');
    await page.getByRole('button', { name: 'Create segment' }).click();
    const row = page.locator('li[data-contact="pat@example.com"]');
    await row.waitFor();
    const shown = await row.textContent();
    expect(shown).toContain('plan: pro');
    expect(shown).toContain('country: FR');
    expect(shown).toContain(`tier: ${LONG_VALUE.slice(0, 32)}…`);
    expect(shown).not.toContain(LONG_VALUE);
    expect(shown).not.toContain('gone');
    // A time in local time, as the pages show times, not its ISO stamp.
    const local = await page.evaluate(
      (iso) =>
        new Date(iso).toLocaleString(undefined, {
          day: 'numeric',
          month: 'short',
          hour: '2-digit',
          minute: '2-digit',
          second: '2-digit',
        }),
      RENEWED,
    );
    expect(shown).toContain(`renewed_at: ${local}`);
    expect(shown).not.toContain(RENEWED);
    expect(await row.locator('.member-attributes').getAttribute('title')).toContain(
      `tier: ${LONG_VALUE}`,
    );
    await shot('members');
  });

  it('deletes the segment after Yes, delete, not after Cancel or Escape', async () => {
    await page.goto(`${dashboard.base}/lists/pros`);
    await page.getByRole('heading', { name: 'pros' }).waitFor();
    const focused = (locator: typeof deleteButton) =>
      locator.evaluate((e) => e.ownerDocument.activeElement === e);
    const deleteButton = page.getByRole('button', { name: 'Delete segment' });
    const ask = page.getByRole('group', {
      name: 'Delete “pros”? Its condition goes; its members stay contacts.',
    });
    await deleteButton.click();
    await ask.waitFor();
    // The question takes the focus (read out; Yes is a Tab away, not under a held Enter).
    await expect.poll(() => focused(ask)).toBe(true);
    expect(await deleteButton.getAttribute('aria-expanded')).toBe('true');
    const yes = ask.getByRole('button', { name: 'Yes, delete' });
    expect(await yes.getAttribute('class')).toBe('danger');
    await shot('delete-asked');
    await ask.getByRole('button', { name: 'Cancel' }).click();
    await ask.waitFor({ state: 'detached' });
    expect(await focused(deleteButton)).toBe(true);
    expect(await listNames()).toContain('pros');
    // Escape is Cancel too.
    await deleteButton.click();
    await ask.waitFor();
    await page.keyboard.press('Escape');
    await ask.waitFor({ state: 'detached' });
    expect(await focused(deleteButton)).toBe(true);
    expect(await listNames()).toContain('pros');

    await deleteButton.click();
    await yes.click();
    await page.getByRole('heading', { name: 'Lists and segments' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/lists');
    await page.locator('tr[data-list="newsletter"]').waitFor();
    expect(await page.locator('tr[data-list="pros"]').count()).toBe(0);
    expect(await listNames()).not.toContain('pros');
  });

  it('offers no Delete on a static list', async () => {
    await page.goto(`${dashboard.base}/lists/newsletter`);
    await page.getByText('Static list of 0 contacts.').waitFor();
    expect(await page.getByRole('button', { name: /Delete/ }).count()).toBe(0);
  });
});

describe('the Lists table at a phone’s width', () => {
  it('is one card per row, with nothing past the screen’s edge', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await openLists();
      await page.locator('tr[data-list="signed-in-recently-on-email"]').waitFor();
      await shot('lists-phone');
      const cells = page.locator('tr[data-list="signed-in-recently-on-email"] td');
      for (const display of await cells.evaluateAll((tds) =>
        tds.map((td) => window.getComputedStyle(td).display),
      )) {
        expect(display).toBe('block');
      }
      // Each cell on its own line of the card, under the one before.
      const tops = await cells.evaluateAll((tds) =>
        tds.map(
          (td) =>
            (td as unknown as { getBoundingClientRect(): { top: number } }).getBoundingClientRect()
              .top,
        ),
      );
      expect([...tops].sort((a, b) => a - b)).toEqual(tops);
      expect(new Set(tops).size).toBe(tops.length);
      const furthest = await page.evaluate(() =>
        Math.max(
          ...Array.from(document.querySelectorAll('main *')).map(
            (e) => e.getBoundingClientRect().right,
          ),
        ),
      );
      expect(furthest).toBeLessThanOrEqual(await page.evaluate(() => window.innerWidth));
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
  });
});
