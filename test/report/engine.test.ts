// Goals, splits and holdouts through the engine on real Postgres: sign-ups
// enter a feature with a holdout and a split; each contact's group is the one
// assign() gives and is recorded once; held-out contacts get no email but are
// counted; variants get their subject. Conversions are recorded when an
// event of the contact arrives and the goal holds within its limit — on the
// contact's attributes, or on a named event (never the entering one) — once,
// and not after the limit. The report counts what the engine recorded.
import { describe, expect, it } from 'vitest';
import { trackEvent } from '../../src/contacts/track-event.js';
import { makeRouter } from '../../src/engine/intake/router.js';
import { assign } from '../../src/engine/journeys/experiment.js';
import { recordEntry, sweepConversions } from '../../src/engine/journeys/experiment-store.js';
import { featureReport } from '../../src/report/index.js';
import { signUp, type TestEngine, testEngine } from '../engine/harness.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();
const DAY = 86_400_000;

const CONFIG = 'contacts: { attributes: { onboarded: boolean } }\n';

const WELCOME = `name: welcome
trigger: { table: auth.users, on: insert }
goal:
  when: { "contact.onboarded": "is.true" }
  within: 7d
holdout: 50
stages:
  - name: welcomed
    do:
      - email: { template: welcome, subject: Welcome }
      - add_to_list: welcomed
    split:
      - { name: short, with: { email: { subject: Hi } } }
      - { name: long, with: { email: { subject: "Welcome to Acme" } } }
`;

const ECHO = `name: echo
trigger: { event: purchase }
goal: { event: purchase, within: 3d }
stages:
  - name: thanks
    do: [{ email: { template: thanks } }]
`;

const ACTIVATE = `name: activate
trigger: { event: user.signed_up }
goal:
  event: onboarding.completed
  when: { "new.steps": "gte.3" }
  within: 3d
stages:
  - name: hello
    do: [{ email: { template: hello } }]
`;

interface Entry {
  contact_id: string;
  group: string;
  entered_at: Date;
  converted_at: Date | null;
}

async function entries(feature: string): Promise<Map<string, Entry>> {
  const rows = await db.sql<Entry[]>`
    select contact_id::text, "group", entered_at, converted_at
      from nudge_engine.experiment_entries where feature = ${feature}`;
  return new Map(rows.map((r) => [r.contact_id, r]));
}

async function contactOf(email: string): Promise<string> {
  const [row] = await db.sql<{ id: string }[]>`
    select id::text from nudge_engine.contacts where email = ${email}`;
  return row!.id;
}

/** An event of the contact, as POST /v1/events records it, then the engine runs. */
async function track(engine: TestEngine, contactId: string, event: string, properties = {}) {
  await trackEvent(
    db.sql,
    { contact: { id: contactId }, event, properties, occurredAt: engine.clock.now() },
    makeRouter(engine.features, 2),
  );
  await engine.settle();
}

describe('experiments in the engine', () => {
  it('assigns, withholds, varies, converts once within the limit, and reports it', async () => {
    const engine = await testEngine(db, { 'welcome.yaml': WELCOME }, { config: CONFIG });
    const experiment = engine.features.get('welcome')!.feature.experiment!;
    const emails = Array.from({ length: 16 }, (_, i) => `user${i}@example.com`);
    for (const email of emails) await signUp(db.sql, email);
    await engine.settle();

    const entered = await entries('welcome');
    expect(entered.size).toBe(16);
    const groupOf = new Map<string, string>();
    for (const email of emails) {
      const id = await contactOf(email);
      const { group } = assign('welcome', id, experiment);
      expect(entered.get(id)!.group).toBe(group);
      groupOf.set(id, group);
    }
    const held = [...groupOf].filter(([, g]) => g === 'holdout').map(([id]) => id);
    const treated = [...groupOf].filter(([, g]) => g !== 'holdout').map(([id]) => id);
    expect(held.length).toBeGreaterThan(0);
    expect(treated.length).toBeGreaterThan(0);

    // Emails only to contacts not held out, with their variant's subject; lists for everyone.
    const queuedEmails = engine.queued.filter((a) => a.action.kind === 'email');
    expect(queuedEmails.map((a) => a.contactId).sort()).toEqual([...treated].sort());
    for (const run of queuedEmails) {
      const subject = groupOf.get(run.contactId!) === 'short' ? 'Hi' : 'Welcome to Acme';
      expect(run.action.params).toMatchObject({ template: 'welcome', subject });
    }
    expect(engine.queued.filter((a) => a.action.kind === 'add_to_list')).toHaveLength(16);
    const withheld = (await engine.decisions('welcome')).filter(
      (d) => d.reason === 'stage welcomed: email withheld (holdout)',
    );
    expect(withheld.map((d) => d.contact_id).sort()).toEqual([...held].sort());

    // Onboarded (an attribute the app set through the API), seen with the contact's next event.
    const onboard = async (id: string) => {
      await db.sql`update nudge_engine.contacts
                      set attributes = attributes || '{"onboarded": true}' where id = ${id}`;
      await track(engine, id, 'page_viewed');
    };
    engine.clock.advance(2 * DAY);
    const convertedAt = engine.clock.now();
    await onboard(held[0]!);
    await onboard(treated[0]!);
    // An event while the goal does not hold converts no one.
    await track(engine, treated[1]!, 'page_viewed');
    // A second event after converting changes nothing: the conversion is recorded once.
    engine.clock.advance(DAY);
    await track(engine, treated[0]!, 'page_viewed');
    // After the 7 days, onboarding no longer counts.
    engine.clock.advance(5 * DAY);
    await onboard(treated[1]!);

    const after = await entries('welcome');
    expect(after.get(held[0]!)!.converted_at).toEqual(convertedAt);
    expect(after.get(treated[0]!)!.converted_at).toEqual(convertedAt);
    expect(after.get(treated[1]!)!.converted_at).toBeNull();
    const converted = [...after.values()].filter((e) => e.converted_at !== null);
    expect(converted.map((e) => e.contact_id).sort()).toEqual([held[0]!, treated[0]!].sort());

    const report = await featureReport(
      db.sql,
      'welcome',
      engine.features.get('welcome')!.feature,
      engine.clock.now(),
    );
    const count = (group: string) => [...groupOf.values()].filter((g) => g === group).length;
    expect(report.groups.map((g) => [g.group, g.entered, g.converted])).toEqual([
      ['holdout', held.length, 1],
      ['short', count('short'), groupOf.get(treated[0]!) === 'short' ? 1 : 0],
      ['long', count('long'), groupOf.get(treated[0]!) === 'long' ? 1 : 0],
    ]);
    // Eight days later every window has closed.
    expect(report.groups.every((g) => g.open === 0)).toBe(true);
  });

  it('a goal on the contact alone is also met with no event: the sweep converts in SQL', async () => {
    const engine = await testEngine(
      db,
      {
        'welcome.yaml': WELCOME.replace('name: welcome', 'name: swept'),
        'activate.yaml': ACTIVATE.replace('name: activate', 'name: activated'),
      },
      { config: CONFIG },
    );
    const emails = ['eve@example.com', 'fay@example.com', 'gus@example.com'];
    for (const email of emails) await signUp(db.sql, email);
    await engine.settle();
    const [eve, fay, gus] = await Promise.all(emails.map(contactOf));
    const attributes = { onboarded: 'boolean' as const };
    // Set through the API (no event): the lanes cannot see it; the sweep can.
    const onboard = (id: string) => db.sql`
      update nudge_engine.contacts set attributes = attributes || '{"onboarded": true}' where id = ${id}`;
    engine.clock.advance(DAY);
    await onboard(eve!);
    const sweptAt = engine.clock.now();
    expect(await sweepConversions(db.sql, engine.features, attributes, sweptAt)).toBe(1);
    // Once: a second sweep changes nothing.
    engine.clock.advance(DAY);
    expect(await sweepConversions(db.sql, engine.features, attributes, engine.clock.now())).toBe(0);
    // After the limit, no more.
    engine.clock.advance(6 * DAY);
    await onboard(fay!);
    expect(await sweepConversions(db.sql, engine.features, attributes, engine.clock.now())).toBe(0);
    const swept = await entries('swept');
    expect(swept.get(eve!)!.converted_at).toEqual(sweptAt);
    expect(swept.get(fay!)!.converted_at).toBeNull();
    expect(swept.get(gus!)!.converted_at).toBeNull();
    // An event goal is left to the lanes: activate's entries are untouched.
    const activated = [...(await entries('activated')).values()];
    expect(activated).toHaveLength(3);
    expect(activated.every((e) => e.converted_at === null)).toBe(true);
  });

  it('an event goal converts on that event with its properties, never on the entering event', async () => {
    const engine = await testEngine(db, { 'activate.yaml': ACTIVATE }, { config: CONFIG });
    const ada = await signUp(db.sql, 'ada@example.com');
    const bob = await signUp(db.sql, 'bob@example.com');
    const cat = await signUp(db.sql, 'cat@example.com');
    await engine.settle();
    const [a, b, c] = [
      await contactOf('ada@example.com'),
      await contactOf('bob@example.com'),
      await contactOf('cat@example.com'),
    ];
    expect([ada, bob, cat]).toHaveLength(3);
    expect([...(await entries('activate')).values()].map((e) => e.group)).toEqual([
      'treated',
      'treated',
      'treated',
    ]);
    engine.clock.advance(DAY);
    const at = engine.clock.now();
    await track(engine, a, 'onboarding.completed', { steps: 3 });
    await track(engine, b, 'onboarding.completed', { steps: 1 });
    await track(engine, c, 'onboarding.started', { steps: 5 });
    const after = await entries('activate');
    expect(after.get(a)!.converted_at).toEqual(at);
    expect(after.get(b)!.converted_at).toBeNull();
    expect(after.get(c)!.converted_at).toBeNull();
  });

  it('the event that made the contact enter does not convert it; the next one does', async () => {
    const engine = await testEngine(db, { 'echo.yaml': ECHO }, { config: CONFIG });
    // The first purchase creates the contact (by email) and makes it enter.
    await trackEvent(
      db.sql,
      {
        contact: { email: 'dan@example.com' },
        event: 'purchase',
        properties: {},
        occurredAt: engine.clock.now(),
      },
      makeRouter(engine.features, 2),
    );
    await engine.settle();
    const dan = await contactOf('dan@example.com');
    const entered = (await entries('echo')).get(dan)!;
    expect(entered.converted_at).toBeNull();
    engine.clock.advance(DAY);
    await track(engine, dan, 'purchase');
    expect((await entries('echo')).get(dan)!.converted_at).toEqual(engine.clock.now());
  });

  it('records a contact’s first entry only: a re-entry keeps its group, time and window', async () => {
    const dan = '00000000-0000-4000-8000-00000000d4a0';
    const entry = (group: string, at: Date) => ({
      feature: 'f',
      contactId: dan,
      group,
      enteredAt: at,
      deadline: new Date(at.getTime() + DAY),
      inboxId: null,
    });
    const first = new Date('2026-03-01T00:00:00Z');
    await db.sql.begin((tx) => recordEntry(tx, entry('short', first)));
    await db.sql.begin((tx) => recordEntry(tx, entry('long', new Date('2026-03-05T00:00:00Z'))));
    const [row] = await db.sql`
      select "group", entered_at, deadline from nudge_engine.experiment_entries
       where feature = 'f' and contact_id = ${dan}`;
    expect(row).toEqual({
      group: 'short',
      entered_at: first,
      deadline: new Date(first.getTime() + DAY),
    });
  });
});
