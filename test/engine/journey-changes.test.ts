// Journeys that outlive the feature file they entered under, and journeys that
// come back to a stage: a stage removed or renamed while journeys wait in it,
// a wait shortened, a reminder loop that sends again on each visit, restarts
// bound by max_entries, and timers that fire late after the engine was down.
import { describe, expect, it } from 'vitest';
import { processTimers } from '../../src/engine/journeys/timers.js';
import { useDatabase } from '../harness/db.js';
import { signUp, testEngine } from './harness.js';

const db = useDatabase();
const DAY = 86_400_000;

const DRIP = `name: drip
trigger: { table: auth.users, on: insert }
stages:
  - name: welcomed
    do: [{ email: { template: welcome } }]
  - name: nudged
    after: 2d
    do: [{ email: { template: day-two } }]
  - name: last-call
    after: 5d
    do: [{ email: { template: last-call } }]
`;

async function journeyOf(feature: string, user: string) {
  const [row] = await db.sql`
    select status, stage, wake_at from nudge_engine.journeys
     where feature = ${feature}
       and contact_id = (select id from nudge_engine.contacts where auth_user_id = ${user})`;
  return row;
}

describe('a journey waiting in a stage the feature no longer has', () => {
  it('ends when its timer comes due, once, instead of being claimed on every tick', async () => {
    const engine = await testEngine(db, { 'drip.yaml': DRIP });
    const ada = await signUp(db.sql, 'ada@example.com');
    await engine.settle();
    // nudged is renamed while Ada waits in welcomed for it... and then her
    // stage itself is renamed.
    await engine.redeploy(
      DRIP.replace('name: welcomed', 'name: hello').replace('name: nudged', 'name: reminded'),
    );
    engine.clock.advance(2 * DAY);
    await engine.settle();
    expect(await journeyOf('drip', ada)).toMatchObject({ status: 'exited', wake_at: null });
    expect((await engine.decisions('drip')).at(-1)).toMatchObject({
      outcome: 'exited',
      reason: 'stage welcomed is no longer in the feature',
    });
    // Nothing is left due: another pass claims nothing.
    expect(await processTimers(engine.ctx)).toBe(0);
    expect(engine.queued.map((a) => a.stage)).toEqual(['welcomed']);
  });

  it('lets its contact enter again when the trigger matches', async () => {
    const waits = `name: waits
trigger: { table: auth.users, on: [insert, update] }
stages:
  - name: waiting
    next: [{ to: done, when: { new.email_confirmed_at: is.not_null } }]
  - name: done
    do: [{ email: { template: confirmed } }]
`;
    const engine = await testEngine(db, { 'waits.yaml': waits });
    const bo = await signUp(db.sql, 'bo@example.com');
    await engine.settle();
    await engine.redeploy(waits.replaceAll('waiting', 'pending'));
    await db.sql`update auth.users set phone = '123' where id = ${bo}`;
    await engine.settle();
    const reasons = (await engine.decisions('waits')).map((d) => d.reason);
    expect(reasons.slice(-3)).toEqual([
      'stage waiting is no longer in the feature',
      'entered (entry 2)',
      'stage pending',
    ]);
    expect(await journeyOf('waits', bo)).toMatchObject({ status: 'active', stage: 'pending' });
  });
  it('ends one that waits on events only, with no event to come', async () => {
    const waits = `name: waits-2
trigger: { table: auth.users, on: insert }
stages:
  - name: waiting
    next: [{ to: done, when: { new.email_confirmed_at: is.not_null } }]
  - name: done
    do: [{ email: { template: confirmed } }]
`;
    const engine = await testEngine(db, { 'waits.yaml': waits });
    const eli = await signUp(db.sql, 'eli@example.com');
    await engine.settle();
    expect(await journeyOf('waits-2', eli)).toMatchObject({ status: 'active', wake_at: null });
    await engine.redeploy(waits.replaceAll('waiting', 'pending'));
    await engine.settle();
    expect(await journeyOf('waits-2', eli)).toMatchObject({ status: 'exited', wake_at: null });
    expect((await engine.decisions('waits-2')).at(-1)?.reason).toBe(
      'stage waiting is no longer in the feature',
    );
  });
});

describe('a wait changed while journeys wait', () => {
  it('fires at the shorter time when after is shortened', async () => {
    const engine = await testEngine(db, {
      'drip.yaml': DRIP.replace('name: drip', 'name: drip-2'),
    });
    const cy = await signUp(db.sql, 'cy@example.com');
    await engine.settle();
    await engine.redeploy(
      DRIP.replace('name: drip', 'name: drip-2').replace('after: 2d', 'after: 1d'),
    );
    engine.clock.advance(DAY);
    await engine.settle();
    expect(engine.queued.map((a) => a.stage)).toEqual(['welcomed', 'nudged']);
    expect(await journeyOf('drip-2', cy)).toMatchObject({ stage: 'nudged' });
  });
});

describe('a stage visited again in one entry', () => {
  it('sends its actions again, under a new key each visit, the same key on a retry', async () => {
    const remind = `name: remind
trigger: { table: auth.users, on: insert }
stages:
  - name: reminded
    do: [{ email: { template: reminder } }]
    next: [{ to: reminded, after: 3d }]
`;
    const engine = await testEngine(db, { 'remind.yaml': remind });
    await signUp(db.sql, 'dee@example.com');
    await engine.settle();
    for (let i = 0; i < 3; i++) {
      engine.clock.advance(3 * DAY);
      await engine.settle();
    }
    const keys = engine.queued.map((a) => a.key);
    expect(keys).toHaveLength(4);
    expect(new Set(keys).size).toBe(4);
    expect(keys[0]).toMatch(/^remind:[0-9a-f-]{36}:1:reminded:0$/);
  });
});

describe('an event whose trigger condition is false for the contact', () => {
  it('still reaches the journey the contact is in: exit.when ends it before the next email', async () => {
    await db.sql`create table if not exists public.orders (
      id bigserial primary key, user_id uuid references auth.users (id), total numeric)`;
    const upsell = `name: upsell
trigger: { table: public.orders, on: insert, when: { contact.plan: eq.free } }
contact: { id: new.user_id }
stages:
  - name: thanked
  - name: pitched
    after: 3d
    do: [{ email: { template: go-pro } }]
exit:
  when: { contact.plan: eq.pro }
`;
    const engine = await testEngine(
      db,
      { 'upsell.yaml': upsell },
      { config: 'contacts:\n  attributes:\n    plan: text\n' },
    );
    const ann = await signUp(db.sql, 'ann@example.com');
    await db.sql`insert into nudge_engine.contacts (auth_user_id, email, attributes)
                 values (${ann}, 'ann@example.com', '{"plan": "free"}')`;
    await db.sql`insert into public.orders (user_id, total) values (${ann}, 10)`;
    await engine.settle();
    expect(await journeyOf('upsell', ann)).toMatchObject({ status: 'active', stage: 'thanked' });
    // Ann upgrades; her next order does not enter her (she is not free), but
    // it is an event of hers, and her journey's exit.when now holds.
    await db.sql`update nudge_engine.contacts set attributes = '{"plan": "pro"}' where auth_user_id = ${ann}`;
    await db.sql`insert into public.orders (user_id, total) values (${ann}, 99)`;
    await engine.settle();
    engine.clock.advance(3 * DAY);
    await engine.settle();
    expect(engine.queued.filter((a) => a.feature === 'upsell')).toEqual([]);
    expect((await engine.decisions('upsell')).map((d) => d.reason).slice(-2)).toEqual([
      'trigger condition false: contact.plan eq.free was false (value "pro")',
      'exit.when became true',
    ]);
    expect(await journeyOf('upsell', ann)).toMatchObject({ status: 'exited' });
  });
});
