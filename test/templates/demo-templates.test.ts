// The premade templates of examples/demo (what `nudge init --template` offers
// and `npm start` deploys) run on real Postgres with the demo app's tables
// (src/dev/demo.sql): every demo feature checked and deployed together, the
// engine stepped by hand with a manual clock, scheduled features run window
// by window, and each email rendered from the demo's templates with the rows
// the engine captured.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeRenderer } from '../../src/actions/render.js';
import type { NewActionRun } from '../../src/actions/types.js';
import { applyDemoTables } from '../../src/dev/demo.js';
import { makeRouter } from '../../src/engine/intake/router.js';
import { runSchedules } from '../../src/engine/intake/schedule.js';
import { readCatalog } from '../../src/source/catalog.js';
import { signUp, type TestEngine, testEngine } from '../engine/harness.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();
const DEMO = path.resolve('examples/demo');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const renderer = makeRenderer(path.join(DEMO, 'nudge/templates'));

let engine: TestEngine;

beforeAll(async () => {
  await applyDemoTables(db.url);
  const dir = path.join(DEMO, 'nudge/features');
  const files: Record<string, string> = {};
  for (const name of await readdir(dir)) files[name] = await readFile(path.join(dir, name), 'utf8');
  // Every demo feature together, as `npm start` deploys them: testEngine checks
  // them against the live schema and deploys their capture, or throws.
  engine = await testEngine(db, files, {
    config: await readFile(path.join(DEMO, 'nudge.yaml'), 'utf8'),
  });
});

/** The actions queued so far for a feature and contact. */
const queued = (feature: string, contactId?: string) =>
  engine.queued.filter(
    (a) => a.feature === feature && (contactId === undefined || a.contactId === contactId),
  );

const contactOf = async (authUserId: string) => {
  const [row] = await db.sql<{ id: string }[]>`
    select id::text from nudge_engine.contacts where auth_user_id = ${authUserId}`;
  return row!.id;
};

const journeyOf = async (feature: string, contactId: string) => {
  const [row] = await db.sql<{ status: string; stage: string }[]>`
    select status, stage from nudge_engine.journeys
     where feature = ${feature} and contact_id = ${contactId}`;
  return row;
};

const reasons = async (feature: string, contactId: string) =>
  (await engine.decisions(feature)).filter((d) => d.contact_id === contactId).map((d) => d.reason);

/** An email action as the email provider renders it: subject and HTML from the demo's templates. */
async function render(run: NewActionRun) {
  if (run.action.kind !== 'email') throw new Error(`${run.key} is a ${run.action.kind}`);
  const variables = { ...run.context, feature: run.feature, stage: run.stage };
  const subject = await renderer.value(run.action.params.subject, variables, 'email.subject');
  const { html } = await renderer.template(run.action.params.template, variables);
  return { subject: String(subject), html };
}

/** Runs one scheduled feature's current window, as the engine does, then processes what it entered. */
async function runSchedule(feature: string): Promise<number> {
  const entered = await runSchedules(
    {
      source: db.sql,
      engine: db.sql,
      catalog: await readCatalog(db.sql),
      clock: engine.clock,
      route: makeRouter(engine.features, 2),
    },
    [engine.features.get(feature)!],
  );
  await engine.settle();
  return entered;
}

async function openCart(userId: string, items: unknown[], total: number): Promise<number> {
  const [cart] = await db.sql<{ id: number }[]>`
    insert into public.carts (user_id, items, total)
    values (${userId}, ${db.sql.json(items as never)}, ${total}) returning id::int`;
  return cart!.id;
}

const setCart = (id: number, status: string) =>
  db.sql`update public.carts set status = ${status}, updated_at = now() where id = ${id}`;

describe('abandoned-cart: a reminder after an hour, then a wait until checkout of at most two days', () => {
  it('reminds after an hour, and completes as recovered when the cart is checked out after the reminder', async () => {
    const ada = await signUp(db.sql, 'ada@example.com');
    const cart = await openCart(ada, [{ sku: 'tea', qty: 2 }], 12.5);
    await engine.settle();
    const contact = await contactOf(ada);
    expect(await journeyOf('abandoned-cart', contact)).toEqual({
      status: 'active',
      stage: 'carted',
    });

    engine.clock.advance(HOUR - 60_000);
    await engine.settle();
    expect(queued('abandoned-cart', contact)).toEqual([]);
    engine.clock.advance(60_000);
    await engine.settle();
    const [reminder] = queued('abandoned-cart', contact);
    expect(reminder?.stage).toBe('reminded');
    const mail = await render(reminder!);
    expect(mail.subject).toBe('You left something in your cart');
    expect(mail.html).toContain('You left something in your cart');
    expect(await journeyOf('abandoned-cart', contact)).toEqual({
      status: 'active',
      stage: 'reminded',
    });

    engine.clock.advance(DAY);
    await setCart(cart, 'checked_out');
    await engine.settle();
    expect(await journeyOf('abandoned-cart', contact)).toEqual({
      status: 'completed',
      stage: 'recovered',
    });
    const track = queued('abandoned-cart', contact).find((a) => a.stage === 'recovered');
    expect(track?.action).toEqual({
      kind: 'track',
      params: {
        event: 'cart_recovered',
        properties: { cart: '{{ new.id }}', total: '{{ new.total }}' },
      },
    });
    expect(
      await renderer.value(track!.action.params, { ...track!.context }, 'track'),
    ).toMatchObject({ properties: { cart, total: 12.5 } });
    expect(await reasons('abandoned-cart', contact)).toContain('stage recovered (until)');
  });

  it('sends nothing when the cart is checked out within the hour', async () => {
    const bob = await signUp(db.sql, 'bob@example.com');
    const cart = await openCart(bob, [{ sku: 'mug', qty: 1 }], 9);
    await engine.settle();
    engine.clock.advance(10 * 60_000);
    await setCart(cart, 'checked_out');
    await engine.settle();
    engine.clock.advance(2 * HOUR);
    await engine.settle();
    const contact = await contactOf(bob);
    expect(queued('abandoned-cart', contact)).toEqual([]);
    expect(await journeyOf('abandoned-cart', contact)).toEqual({
      status: 'completed',
      stage: 'carted',
    });
    expect(await reasons('abandoned-cart', contact)).toContain('completed (until)');
  });

  it('gives up two days after the reminder when the cart never comes back', async () => {
    const cyd = await signUp(db.sql, 'cyd@example.com');
    await openCart(cyd, [{ sku: 'pot', qty: 1 }], 30);
    await engine.settle();
    engine.clock.advance(HOUR);
    await engine.settle();
    const contact = await contactOf(cyd);
    expect(queued('abandoned-cart', contact).map((a) => a.stage)).toEqual(['reminded']);
    engine.clock.advance(2 * DAY - 60_000);
    await engine.settle();
    expect((await journeyOf('abandoned-cart', contact))?.status).toBe('active');
    engine.clock.advance(60_000);
    await engine.settle();
    expect(await journeyOf('abandoned-cart', contact)).toEqual({
      status: 'exited',
      stage: 'reminded',
    });
    expect(await reasons('abandoned-cart', contact)).toContain(
      'timed out: until did not hold within 2 days',
    );
    expect(queued('abandoned-cart', contact).map((a) => a.stage)).toEqual(['reminded']);
  });

  it('ends the journey without a reminder when the cart is emptied', async () => {
    const dee = await signUp(db.sql, 'dee@example.com');
    const cart = await openCart(dee, [{ sku: 'tea', qty: 1 }], 6);
    await engine.settle();
    await setCart(cart, 'emptied');
    await engine.settle();
    engine.clock.advance(2 * HOUR);
    await engine.settle();
    const contact = await contactOf(dee);
    expect(await journeyOf('abandoned-cart', contact)).toEqual({
      status: 'exited',
      stage: 'carted',
    });
    expect(await reasons('abandoned-cart', contact)).toContain('exit.when became true');
    expect(queued('abandoned-cart', contact)).toEqual([]);
  });
});

describe('order-confirmation', () => {
  it('sends the buyer a receipt with the items and the total of each order', async () => {
    const eve = await signUp(db.sql, 'eve@example.com');
    const items = [
      { sku: 'tea', name: 'Green tea', qty: 2 },
      { sku: 'mug', qty: 1 },
    ];
    const [order] = await db.sql<{ id: number }[]>`
      insert into public.orders (user_id, total, currency, items)
      values (${eve}, 42.50, 'eur', ${db.sql.json(items)}) returning id::int`;
    await engine.settle();
    const contact = await contactOf(eve);
    const [receipt] = queued('order-confirmation', contact);
    expect(receipt?.stage).toBe('confirmed');
    expect(receipt?.context.contact?.email).toBe('eve@example.com');
    // A receipt is transactional: no unsubscribe link, not held by quiet hours.
    expect(receipt?.action).toMatchObject({ kind: 'email', params: { topic: 'transactional' } });
    const mail = await render(receipt!);
    expect(mail.subject).toBe(`Order #${order!.id} confirmed`);
    expect(mail.html).toContain(`Order #${order!.id}`);
    expect(mail.html).toContain('<li>2 × Green tea</li>');
    expect(mail.html).toContain('<li>1 × mug</li>');
    expect(mail.html).toContain('Total: 42.50 EUR');
  });
});

describe('trial-ending', () => {
  it('reminds once, three days before the trial ends, and not for subscriptions that are not trialing', async () => {
    const fay = await signUp(db.sql, 'fay@example.com');
    const gil = await signUp(db.sql, 'gil@example.com');
    const now = engine.clock.now().getTime();
    const trialEnd = new Date(now + 5 * DAY);
    await db.sql`insert into public.subscriptions (user_id, plan, status, trial_ends_at)
                 values (${fay}, 'pro', 'trialing', ${trialEnd}),
                        (${gil}, 'pro', 'canceled', ${new Date(now + 2 * DAY)})`;
    await engine.settle();
    const faye = await contactOf(fay);

    // Five days before: not yet.
    await runSchedule('trial-ending');
    expect(queued('trial-ending')).toEqual([]);

    // Two days later, in the next daily window, the trial ends within three days.
    engine.clock.advance(2 * DAY);
    expect(await runSchedule('trial-ending')).toBe(1);
    const [reminder, ...more] = queued('trial-ending');
    expect(more).toEqual([]);
    expect(reminder?.contactId).toBe(faye);
    expect(reminder?.action).toMatchObject({ kind: 'email', params: { topic: 'transactional' } });
    const day = trialEnd.toLocaleDateString('en-US', { month: 'long', day: 'numeric' });
    const mail = await render(reminder!);
    expect(mail.subject).toBe(`Your pro trial ends on ${day}`);
    expect(mail.html).toContain(`Your pro trial ends on `);
    expect(mail.html).toContain(day);

    // The next day's run finds the same subscription, and the cooldown keeps it to one email.
    engine.clock.advance(DAY);
    expect(await runSchedule('trial-ending')).toBe(1);
    expect(queued('trial-ending')).toHaveLength(1);
    expect((await reasons('trial-ending', faye)).at(-1)).toMatch(/^cooldown until /);
  });
});

describe('weekly-digest', () => {
  it("sums up each active user's last seven days from public.weekly_activity, and skips the quiet ones", async () => {
    const hal = await signUp(db.sql, 'hal@example.com');
    const ivy = await signUp(db.sql, 'ivy@example.com');
    await db.sql`insert into public.orders (user_id, total, status)
                 values (${hal}, 10.00, 'paid'), (${hal}, 5.50, 'paid'), (${hal}, 99, 'pending')`;
    await db.sql`insert into storage.objects (bucket_id, name, owner)
                 values ('avatars', ${`${hal}/me.png`}, ${hal})`;
    await engine.settle();
    // A new weekly window (the earlier tests ran in this one).
    engine.clock.advance(7 * DAY);
    await runSchedule('weekly-digest');
    const halContact = await contactOf(hal);
    const ivyContact = await contactOf(ivy);
    const [digest] = queued('weekly-digest', halContact);
    expect(digest?.stage).toBe('sent');
    expect(queued('weekly-digest', ivyContact)).toEqual([]);
    const mail = await render(digest!);
    expect(mail.subject).toBe('Your week in the app');
    expect(mail.html).toContain('<li>3 orders placed, 15.50 spent</li>');
    expect(mail.html).toContain('<li>1 file uploaded</li>');
  });
});
