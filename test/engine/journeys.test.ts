// Journeys end to end on real Postgres, stepped by hand with a manual clock:
// entry, waits that fire only when their time comes, guards, cooldown, max
// entries, until/within, exit, features without a contact, paused features,
// the frequency cap, and a decision with a reason for every candidate.
import { describe, expect, it } from 'vitest';
import { processTimers } from '../../src/engine/journeys/timers.js';
import { FeatureSet } from '../../src/engine/match/features.js';
import { readCatalog } from '../../src/source/catalog.js';
import { useDatabase } from '../harness/db.js';
import { signUp, testEngine } from './harness.js';

const db = useDatabase();
const DAY = 86_400_000;

const CONFIG = `contacts:
  attributes:
    onboarded: boolean
    plan: text
actions:
  frequency_cap: { max: 2, per: 1d }
`;

const WELCOME = `name: welcome
trigger:
  table: auth.users
  on: insert
  when: { new.email: like.*@example.com }
stages:
  - name: welcomed
    do: [{ email: { template: welcome } }]
  - name: nudged
    after: 2d
    unless: { contact.onboarded: is.true }
    do: [{ email: { template: day-two } }]
cooldown: 30d
`;

const UPGRADE = `name: upgrade
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages:
  - name: waiting
    do: [{ track: { event: trial_started } }]
  - name: upgraded
    until: { contact.plan: eq.pro }
    within: 7d
    do: [{ webhook: { url: "http://127.0.0.1:1/upgraded" } }]
exit:
  when: { new.status: eq.refunded }
max_entries: 2
`;

const HEARTBEAT = `name: heartbeat
trigger: { table: public.orders, on: insert }
stages:
  - name: tracked
    do: [{ webhook: { url: "http://127.0.0.1:1/heartbeat" } }]
`;

const PAUSED = `name: paused-one
status: paused
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages:
  - name: only
    do: [{ email: { template: x } }]
`;

async function setupTables() {
  await db.sql`create table if not exists public.orders (
    id bigserial primary key, user_id uuid references auth.users (id), status text not null default 'new', total numeric)`;
}

describe('journeys', () => {
  it('enters on a match, waits 2 days, then runs the next stage; decisions say why', async () => {
    await setupTables();
    const engine = await testEngine(db, { 'welcome.yaml': WELCOME }, { config: CONFIG });
    const ada = await signUp(db.sql, 'ada@example.com');
    await signUp(db.sql, 'eve@elsewhere.org');
    await engine.settle();
    expect(engine.queued.map((a) => `${a.stage}:${a.action.kind}`)).toEqual(['welcomed:email']);
    expect(engine.queued[0]!.key).toMatch(/^welcome:[0-9a-f-]{36}:1:welcomed:0$/);
    expect(engine.queued[0]!.context.new?.email).toBe('ada@example.com');
    // Eve's row never reached the engine: the trigger condition runs inside the
    // capture trigger, so it was not even captured.
    const decisions = await engine.decisions('welcome');
    expect(decisions.map((d) => d.reason)).toEqual([
      'trigger matched',
      'entered (entry 1)',
      'stage welcomed',
      'stage welcomed: email queued',
    ]);
    const [captured] =
      await db.sql`select count(*)::int as n from nudge_engine.inbox where new_row ->> 'email' = 'eve@elsewhere.org'`;
    expect(captured!.n).toBe(0);

    // Nothing happens before the wait is over.
    engine.clock.advance(2 * DAY - 60_000);
    await engine.settle();
    expect(engine.queued).toHaveLength(1);
    engine.clock.advance(60_000);
    await engine.settle();
    expect(engine.queued.map((a) => a.stage)).toEqual(['welcomed', 'nudged']);
    const [journey] =
      await db.sql`select status, stage from nudge_engine.journeys where feature = 'welcome'`;
    expect(journey).toEqual({ status: 'completed', stage: 'nudged' });

    // A second sign-up event for the same user within the cooldown is skipped with the date.
    await db.sql`delete from auth.users where id = ${ada}`;
    await db.sql`insert into auth.users (id, email) values (${ada}, 'ada@example.com')`;
    await engine.settle();
    const last = (await engine.decisions('welcome')).at(-1)!;
    expect(last.reason).toBe('cooldown until 2026-03-31 09:00:00 UTC');
  });

  it('ends a waiting journey whose feature is no longer active when its timer comes due', async () => {
    await setupTables();
    const engine = await testEngine(db, { 'welcome.yaml': WELCOME }, { config: CONFIG });
    const kit = await signUp(db.sql, 'kit@example.com');
    await engine.settle();
    engine.clock.advance(2 * DAY);
    // The feature was removed from its file (or drafted) since: the engine has none.
    const removed = { ...engine.ctx, features: new FeatureSet([], await readCatalog(db.sql)) };
    expect(await processTimers(removed)).toBe(1);
    const [journey] = await db.sql`
      select status, ended_at, updated_at, wake_at from nudge_engine.journeys
       where feature = 'welcome' and contact_id = (select id from nudge_engine.contacts where auth_user_id = ${kit})`;
    const now = engine.clock.now();
    // Its timeline place moves with it: updated_at is when it ended, on the engine's clock.
    expect(journey).toEqual({ status: 'exited', ended_at: now, updated_at: now, wake_at: null });
    expect((await engine.decisions('welcome')).at(-1)).toMatchObject({
      outcome: 'exited',
      reason: 'feature is no longer active',
    });
    expect(engine.queued.map((a) => a.stage)).toEqual(['welcomed']);
  });

  it('skips a stage whose unless holds, with the clause in the decision', async () => {
    const engine = await testEngine(
      db,
      { 'welcome.yaml': WELCOME.replace('name: welcome', 'name: welcome-2') },
      { config: CONFIG },
    );
    const grace = await signUp(db.sql, 'grace@example.com');
    await engine.settle();
    await db.sql`update nudge_engine.contacts set attributes = '{"onboarded": true}' where auth_user_id = ${grace}`;
    engine.clock.advance(2 * DAY);
    await engine.settle();
    const mine = engine.queued.filter((a) => a.feature === 'welcome-2');
    expect(mine.map((a) => a.stage)).toEqual(['welcomed']);
    expect((await engine.decisions('welcome-2')).map((d) => d.reason)).toContain(
      'stage nudged: actions skipped, contact.onboarded is.true was true (value true)',
    );
  });

  it('waits until a condition holds, gives up after within, exits on exit.when, and limits entries', async () => {
    const engine = await testEngine(db, { 'upgrade.yaml': UPGRADE }, { config: CONFIG });
    const alan = await signUp(db.sql, 'alan@example.com');
    const [o1] =
      await db.sql`insert into public.orders (user_id, total) values (${alan}, 10) returning id`;
    await engine.settle();
    expect(engine.queued.map((a) => a.action.kind)).toEqual(['track']);

    // The plan changes; the next event of this contact lets `until` pass.
    await db.sql`update nudge_engine.contacts set attributes = attributes || '{"plan": "pro"}' where auth_user_id = ${alan}`;
    engine.clock.advance(DAY);
    await db.sql`insert into public.orders (user_id, total) values (${alan}, 20)`;
    await engine.settle();
    expect(engine.queued.map((a) => `${a.stage}:${a.action.kind}`)).toEqual([
      'waiting:track',
      'upgraded:webhook',
    ]);

    // Entry 2: the plan is reset; `until` never holds, and after 7 days the journey times out.
    await db.sql`update nudge_engine.contacts set attributes = attributes || '{"plan": "free"}' where auth_user_id = ${alan}`;
    await db.sql`insert into public.orders (user_id, total) values (${alan}, 30)`;
    await engine.settle();
    engine.clock.advance(7 * DAY);
    await engine.settle();
    const reasons = (await engine.decisions('upgrade')).map((d) => d.reason);
    expect(reasons).toContain('entered (entry 2)');
    expect(reasons).toContain('timed out: until did not hold within 7 days');

    // max_entries: 2 reached.
    await db.sql`insert into public.orders (user_id, total) values (${alan}, 40)`;
    await engine.settle();
    expect((await engine.decisions('upgrade')).at(-1)!.reason).toBe('max entries reached (2 of 2)');
    void o1;
  });

  it('ends a journey when exit.when holds', async () => {
    const engine = await testEngine(
      db,
      {
        'upgrade.yaml': UPGRADE.replace('name: upgrade', 'name: refund-exit').replace(
          'on: insert',
          'on: [insert, update]',
        ),
      },
      { config: CONFIG },
    );
    const bob = await signUp(db.sql, 'bob@example.com');
    const [order] =
      await db.sql`insert into public.orders (user_id, total) values (${bob}, 10) returning id`;
    await engine.settle();
    await db.sql`update public.orders set status = 'refunded' where id = ${order!.id}`;
    await engine.settle();
    const [journey] =
      await db.sql`select status from nudge_engine.journeys where feature = 'refund-exit'`;
    expect(journey!.status).toBe('exited');
    expect((await engine.decisions('refund-exit')).map((d) => d.reason)).toContain(
      'exit.when became true',
    );
  });

  it('explains a trigger condition on contact attributes that was false', async () => {
    const vip = `name: vip-only
trigger: { table: public.orders, on: insert, when: { contact.plan: eq.pro } }
contact: { id: new.user_id }
stages:
  - name: thanked
    do: [{ email: { template: thanks } }]
`;
    const engine = await testEngine(db, { 'vip.yaml': vip }, { config: CONFIG });
    const fay = await signUp(db.sql, 'fay@example.com');
    await db.sql`insert into public.orders (user_id, total) values (${fay}, 5)`;
    await engine.settle();
    expect((await engine.decisions('vip-only')).map((d) => d.reason)).toEqual([
      'trigger condition false: contact.plan eq.pro was unknown (value null)',
    ]);
  });

  it('runs a feature without a contact once per event, and skips paused features', async () => {
    const engine = await testEngine(
      db,
      { 'heartbeat.yaml': HEARTBEAT, 'paused.yaml': PAUSED },
      { config: CONFIG },
    );
    const carl = await signUp(db.sql, 'carl@example.com');
    await db.sql`insert into public.orders (user_id, total) values (${carl}, 1), (${carl}, 2)`;
    await engine.settle();
    const beats = engine.queued.filter((a) => a.feature === 'heartbeat');
    expect(beats).toHaveLength(2);
    expect(new Set(beats.map((a) => a.key)).size).toBe(2);
    expect(beats.map((a) => a.context.new?.total)).toEqual([1, 2]);
    expect((await engine.decisions('paused-one')).map((d) => d.reason)).toEqual([
      'paused',
      'paused',
    ]);
  });

  it('applies the frequency cap across features', async () => {
    const one = WELCOME.replace('name: welcome', 'name: cap-a').replace('cooldown: 30d', '');
    const two = WELCOME.replace('name: welcome', 'name: cap-b').replace('cooldown: 30d', '');
    const three = WELCOME.replace('name: welcome', 'name: cap-c').replace('cooldown: 30d', '');
    const engine = await testEngine(
      db,
      { 'a.yaml': one, 'b.yaml': two, 'c.yaml': three },
      { config: CONFIG },
    );
    await signUp(db.sql, 'dora@example.com');
    await engine.settle();
    const emails = engine.queued.filter(
      (a) => a.feature?.startsWith('cap-') && a.context.new?.email === 'dora@example.com',
    );
    expect(emails).toHaveLength(2);
    const capped = (await engine.decisions()).filter((d) => d.reason.includes('frequency cap'));
    expect(capped).toHaveLength(1);
  });
});

describe('scheduled features', () => {
  it('enters each matching row once per window, as parameterized SQL over the table', async () => {
    const inactivity = `name: inactivity
trigger:
  table: auth.users
  schedule: { every: 1d }
  when: { new.last_sign_in_at: lt.now()-7d, new.email: like.*@quiet.io }
stages:
  - name: reengaged
    do: [{ email: { template: we-miss-you } }]
cooldown: 30d
`;
    const engine = await testEngine(db, { 'inactivity.yaml': inactivity }, { config: CONFIG });
    const { runSchedules } = await import('../../src/engine/intake/schedule.js');
    const { readCatalog } = await import('../../src/source/catalog.js');
    const { makeRouter } = await import('../../src/engine/intake/router.js');
    const now = engine.clock.now();
    const ago = (days: number) => new Date(now.getTime() - days * DAY);
    await db.sql`insert into auth.users (id, email, last_sign_in_at) values
      (gen_random_uuid(), 'old@quiet.io', ${ago(10)}), (gen_random_uuid(), 'new@quiet.io', ${ago(1)}),
      (gen_random_uuid(), 'o''brien@quiet.io', ${ago(30)})`;
    const ctx = {
      source: db.sql,
      engine: db.sql,
      catalog: await readCatalog(db.sql),
      clock: engine.clock,
      route: makeRouter(engine.features, 2),
    };
    expect(await runSchedules(ctx, engine.features.scheduled())).toBe(2);
    const sources = await db.sql`
      select distinct source from nudge_engine.inbox where event_name = 'schedule:inactivity'`;
    expect(sources.map((r) => r.source)).toEqual(['schedule']);
    // Same window: nothing new.
    expect(await runSchedules(ctx, engine.features.scheduled())).toBe(0);
    await engine.settle();
    const emailed = engine.queued
      .filter((a) => a.feature === 'inactivity')
      .map((a) => a.context.new?.email);
    expect(emailed.sort()).toEqual(["o'brien@quiet.io", 'old@quiet.io']);
    // Next window: still inactive, but the cooldown holds them back.
    engine.clock.advance(DAY);
    expect(await runSchedules(ctx, engine.features.scheduled())).toBe(2);
    await engine.settle();
    expect(engine.queued.filter((a) => a.feature === 'inactivity')).toHaveLength(2);
    expect(
      (await engine.decisions('inactivity')).filter((d) => d.reason.startsWith('cooldown until')),
    ).toHaveLength(2);

    // A window whose run died halfway (claimed, never finished) is run again
    // once stale, and only then; a finished one never.
    engine.clock.advance(DAY);
    const window = new Date(Math.floor(engine.clock.now().getTime() / DAY) * DAY);
    await db.sql`insert into nudge_engine.schedule_runs (feature, window_start, started_at)
                 values ('inactivity', ${window}, now())`;
    expect(await runSchedules(ctx, engine.features.scheduled())).toBe(0);
    await db.sql`update nudge_engine.schedule_runs set started_at = now() - interval '10 minutes'
                  where feature = 'inactivity' and window_start = ${window}`;
    expect(await runSchedules(ctx, engine.features.scheduled())).toBe(2);
    const [run] = await db.sql<{ matched: number }[]>`
      select matched from nudge_engine.schedule_runs where feature = 'inactivity' and window_start = ${window}`;
    expect(run!.matched).toBe(2);
    await db.sql`update nudge_engine.schedule_runs set started_at = now() - interval '10 minutes'
                  where feature = 'inactivity' and window_start = ${window}`;
    expect(await runSchedules(ctx, engine.features.scheduled())).toBe(0);
  });
});

describe('events tracked through the API', () => {
  it('run features triggered by the event name, finding the contact by the identity it carries', async () => {
    const placed = `name: first-order
trigger: { event: order_placed, when: { new.total: gt.100 } }
stages:
  - name: thanked
    do: [{ email: { template: thanks } }]
`;
    const engine = await testEngine(db, { 'placed.yaml': placed }, { config: CONFIG });
    const { insertInbox } = await import('../../src/engine/intake/inbox.js');
    await insertInbox(db.sql, [
      {
        source: 'api',
        sourceKey: 'e1',
        eventName: 'order_placed',
        newRow: { email: 'Hana@Example.com', total: 250 },
        occurredAt: new Date(),
      },
      {
        source: 'api',
        sourceKey: 'e2',
        eventName: 'order_placed',
        newRow: { email: 'ivy@example.com', total: 20 },
        occurredAt: new Date(),
      },
    ]);
    await engine.settle();
    const mine = engine.queued.filter((a) => a.feature === 'first-order');
    expect(mine.map((a) => a.context.contact?.email)).toEqual(['hana@example.com']);
    expect((await engine.decisions('first-order')).map((d) => d.reason)).toContain(
      'trigger condition false: new.total gt.100 was false (value 20)',
    );
  });

  it('refuses an unknown built-in event with a suggestion', async () => {
    await expect(
      testEngine(db, {
        'typo.yaml': 'name: typo\ntrigger: { event: user.signed_upp }\nstages: [{ name: a }]\n',
      }),
    ).rejects.toThrow(
      /typo\.yaml:2:\d+ trigger\.event: unknown event "user\.signed_upp" \(did you mean "user\.signed_up"\?\)/,
    );
  });
});
