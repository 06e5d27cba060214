// The journey state machine on its own: plain data in, decisions, actions and
// the journey row out — no database, no clock. Each test walks one rule of
// machine.ts: entry limits, waits and wake-ups, until/within, exit.when,
// goto/exit actions, guards, the frequency cap and the loop stop.
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../config/yaml.js';
import { parseFeature } from '../../features/load.js';
import { Catalog, type Table } from '../../source/catalog.js';
import { FeatureSet, type RuntimeFeature } from '../match/features.js';
import {
  type EventFacts,
  type JourneyRow,
  type JourneyStep,
  MAX_CHAIN,
  type StepInput,
  stepJourney,
  stepWithoutContact,
} from './machine.js';

const DAY = 86_400_000;
const T0 = new Date('2026-03-01T09:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const ADA = '00000000-0000-4000-8000-000000000001';

const orders: Table = {
  schema: 'public',
  table: 'orders',
  kind: 'table',
  columns: [
    { name: 'id', type: 'bigint', typeName: 'int8', notNull: true, generated: false },
    { name: 'user_id', type: 'uuid', typeName: 'uuid', notNull: false, generated: false },
    { name: 'status', type: 'text', typeName: 'text', notNull: false, generated: false },
  ],
  primaryKey: ['id'],
  rls: false,
  owner: 'postgres',
  rowEstimate: 0,
};

function compile(yaml: string): RuntimeFeature {
  const feature = parseFeature(parseYaml(yaml, 'f.yaml', {}), 'f.yaml');
  const set = new FeatureSet([feature], new Catalog([orders]), { plan: 'text' });
  return set.get(feature.name)!;
}

const facts = (newRow: Record<string, unknown>, inboxId = 1): EventFacts => ({
  inboxId,
  schema: 'public',
  table: 'orders',
  operation: 'insert',
  newRow,
  oldRow: null,
  occurredAt: T0,
});

const trigger = (event = facts({ id: 1, user_id: ADA })): JourneyStep => ({
  kind: 'trigger',
  contactId: ADA,
  facts: event,
});

const step = (input: Partial<StepInput> & Pick<StepInput, 'feature' | 'step'>) =>
  stepJourney({ contact: null, journey: null, now: T0, ...input });

const DRIP = `name: drip
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages:
  - name: first
    do: [{ email: { template: one } }, { webhook: { url: "http://127.0.0.1:1/x" } }]
  - name: second
    after: 2d
    do: [{ email: { template: two } }]
cooldown: 30d
max_entries: 2
`;

describe('stepJourney', () => {
  it('enters a new contact, queues the first stage with keys, and sets the wake-up', () => {
    const feature = compile(DRIP);
    const out = step({ feature, step: trigger() });
    expect(out.decisions.map((d) => [d.outcome, d.reason])).toEqual([
      ['entered', 'entered (entry 1)'],
      ['advanced', 'stage first'],
      ['action', 'stage first: email queued'],
      ['action', 'stage first: webhook queued'],
    ]);
    expect(out.decisions.every((d) => d.inboxId === 1 && d.contactId === ADA)).toBe(true);
    expect(out.actions.map((a) => a.key)).toEqual([
      `drip:${ADA}:1:first:0`,
      `drip:${ADA}:1:first:1`,
    ]);
    expect(out.actions[0]!.context.journey).toEqual({
      feature: 'drip',
      stage: 'first',
      entered_at: T0.toISOString(),
    });
    expect(out.journey).toMatchObject({
      status: 'active',
      stage: 'first',
      entries: 1,
      entered_at: T0,
      wake_at: at(2 * DAY),
    });
    expect(out.moved).toBe(true);
  });

  it('does not change the journey row it is given', () => {
    const feature = compile(DRIP);
    const journey = step({ feature, step: trigger() }).journey!;
    const before = structuredClone(journey);
    step({ feature, step: { kind: 'timer' }, journey, now: at(2 * DAY) });
    expect(journey).toEqual(before);
  });

  it('wakes only when the wait is over, then runs the next stage and completes', () => {
    const feature = compile(DRIP);
    const journey = step({ feature, step: trigger() }).journey!;
    const early = step({ feature, step: { kind: 'timer' }, journey, now: at(DAY) });
    expect(early.decisions).toEqual([]);
    expect(early.journey?.wake_at).toEqual(at(2 * DAY));
    expect(early.moved).toBe(false);
    const due = step({ feature, step: { kind: 'timer' }, journey, now: at(2 * DAY) });
    expect(due.decisions.map((d) => d.reason)).toEqual([
      'stage second (after)',
      'stage second: email queued',
      'completed after stage second',
    ]);
    // A timer's decisions name the event the journey was entered by.
    expect(due.decisions.every((d) => d.inboxId === 1)).toBe(true);
    expect(due.actions.map((a) => a.key)).toEqual([`drip:${ADA}:1:second:0`]);
    expect(due.journey).toMatchObject({
      status: 'completed',
      ended_at: at(2 * DAY),
      wake_at: null,
    });
  });

  it('skips an active contact, a cooldown and max_entries, each with its reason', () => {
    const feature = compile(DRIP);
    const active = step({ feature, step: trigger() }).journey!;
    const again = step({ feature, step: trigger(), journey: active, now: at(DAY) });
    expect(again.decisions.map((d) => d.reason)).toEqual(['already in the journey at stage first']);
    expect(again.journey).toBeNull();
    expect(again.actions).toEqual([]);

    const ended: JourneyRow = { ...active, status: 'completed', ended_at: at(2 * DAY) };
    const cooling = step({ feature, step: trigger(), journey: ended, now: at(10 * DAY) });
    expect(cooling.decisions).toEqual([
      expect.objectContaining({
        outcome: 'skipped',
        reason: 'cooldown until 2026-03-31 09:00:00 UTC',
        detail: { cooldown_until: '2026-03-31T09:00:00.000Z' },
      }),
    ]);
    const second = step({ feature, step: trigger(), journey: ended, now: at(31 * DAY) });
    expect(second.decisions[0]!.reason).toBe('entered (entry 2)');
    expect(second.actions[0]!.key).toBe(`drip:${ADA}:2:first:0`);

    const full: JourneyRow = { ...second.journey!, status: 'completed' };
    const capped = step({ feature, step: trigger(), journey: full, now: at(70 * DAY) });
    expect(capped.decisions.map((d) => d.reason)).toEqual(['max entries reached (2 of 2)']);
  });

  it('enters once with re_entry: never, and restarts with re_entry: restart', () => {
    const never = compile(DRIP.replace('cooldown: 30d\n', 're_entry: never\n'));
    const done: JourneyRow = {
      ...step({ feature: never, step: trigger() }).journey!,
      status: 'completed',
    };
    expect(
      step({ feature: never, step: trigger(), journey: done, now: at(DAY) }).decisions[0]!.reason,
    ).toBe('already entered once (re_entry: never)');

    const restart = compile(DRIP.replace('cooldown: 30d\n', 're_entry: restart\n'));
    const active = step({ feature: restart, step: trigger() }).journey!;
    const out = step({ feature: restart, step: trigger(), journey: active, now: at(DAY) });
    expect(out.decisions.slice(0, 2).map((d) => [d.outcome, d.reason])).toEqual([
      ['exited', 'restarted: re_entry is restart (was at stage first)'],
      ['entered', 'entered (entry 2)'],
    ]);
    expect(out.journey).toMatchObject({ entries: 2, entered_at: at(DAY), stage: 'first' });
  });

  const UNTIL = `name: upgrade
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages:
  - name: waiting
  - name: upgraded
    until: { contact.plan: eq.pro }
    within: 7d
    do: [{ webhook: { url: "http://127.0.0.1:1/up" } }]
exit:
  when: { new.status: eq.refunded }
`;

  it('takes an until as soon as it holds, and times out when within runs out', () => {
    const feature = compile(UNTIL);
    const waiting = step({ feature, step: trigger(), contact: { plan: 'free' } });
    expect(waiting.journey).toMatchObject({ stage: 'waiting', wake_at: at(7 * DAY) });
    const journey = waiting.journey!;

    const other = facts({ id: 2, user_id: ADA, status: 'paid' }, 2);
    const still = step({
      feature,
      step: { kind: 'event', facts: other },
      journey,
      contact: { plan: 'free' },
    });
    expect(still).toEqual({ decisions: [], actions: [], journey: null, moved: false });

    const pro = step({
      feature,
      step: { kind: 'event', facts: other },
      journey,
      contact: { plan: 'pro' },
      now: at(DAY),
    });
    expect(pro.decisions.map((d) => [d.inboxId, d.reason])).toEqual([
      [2, 'stage upgraded (until)'],
      [2, 'stage upgraded: webhook queued'],
      [2, 'completed after stage upgraded'],
    ]);
    expect(pro.moved).toBe(true);

    const late = step({
      feature,
      step: { kind: 'timer' },
      journey,
      contact: { plan: 'free' },
      now: at(7 * DAY),
    });
    expect(late.decisions.map((d) => [d.outcome, d.inboxId, d.reason])).toEqual([
      ['exited', null, 'timed out: until did not hold within 7 days'],
    ]);
    expect(late.journey).toMatchObject({ status: 'exited', ended_at: at(7 * DAY), wake_at: null });
  });

  it('ends on exit.when, from any event of the contact', () => {
    const feature = compile(UNTIL);
    const journey = step({ feature, step: trigger(), contact: {} }).journey!;
    const refunded = facts({ id: 1, user_id: ADA, status: 'refunded' }, 3);
    const out = step({ feature, step: { kind: 'event', facts: refunded }, journey, contact: {} });
    expect(out.decisions.map((d) => [d.outcome, d.reason])).toEqual([
      ['exited', 'exit.when became true'],
    ]);
    expect(out.journey?.status).toBe('exited');
  });

  it('skips a stage whose guard is false, with the clause', () => {
    const feature = compile(`name: guarded
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages:
  - name: only
    unless: { contact.plan: eq.pro }
    do: [{ email: { template: x } }]
`);
    const out = step({ feature, step: trigger(), contact: { plan: 'pro' } });
    expect(out.actions).toEqual([]);
    expect(out.decisions.map((d) => d.reason)).toEqual([
      'entered (entry 1)',
      'stage only',
      expect.stringMatching(/^stage only: actions skipped, /),
      'completed after stage only',
    ]);
  });

  it('follows goto and exit actions', () => {
    const feature = compile(`name: jumps
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages:
  - name: a
    do: [{ goto: c }, { email: { template: never } }]
  - name: b
    do: [{ email: { template: never } }]
  - name: c
    do: [{ exit: true }]
`);
    const out = step({ feature, step: trigger() });
    expect(out.actions).toEqual([]);
    expect(out.decisions.map((d) => d.reason)).toEqual([
      'entered (entry 1)',
      'stage a',
      'stage c',
      'exit action in stage c',
    ]);
  });

  it('stops a chain of stages without a wait', () => {
    const feature = compile(`name: loop
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages:
  - name: a
    do: [{ goto: b }]
  - name: b
    do: [{ goto: a }]
`);
    const out = step({ feature, step: trigger() });
    expect(out.decisions.filter((d) => d.outcome === 'advanced')).toHaveLength(MAX_CHAIN);
    expect(out.decisions.at(-1)!.reason).toBe(
      `stopped after ${MAX_CHAIN} stages without a wait (a loop?)`,
    );
    expect(out.journey?.status).toBe('exited');
  });

  it('skips emails that would reach the frequency cap, counting its own', () => {
    const feature = compile(`name: burst
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages:
  - name: only
    do: [{ email: { template: a } }, { email: { template: b } }, { webhook: { url: "http://127.0.0.1:1/w" } }]
`);
    const out = step({ feature, step: trigger(), frequencyCap: { max: 2, emailsInWindow: 1 } });
    expect(out.decisions.map((d) => d.reason).slice(2)).toEqual([
      'stage only: email queued',
      'stage only: email skipped by the frequency cap',
      'stage only: webhook queued',
      'completed after stage only',
    ]);
    expect(out.decisions[3]!.detail).toEqual({ action: 1 });
    expect(out.actions.map((a) => a.key)).toEqual([
      `burst:${ADA}:1:only:0`,
      `burst:${ADA}:1:only:2`,
    ]);
  });

  it('does nothing for a timer of an ended journey', () => {
    const feature = compile(DRIP);
    const ended: JourneyRow = { ...step({ feature, step: trigger() }).journey!, status: 'exited' };
    expect(step({ feature, step: { kind: 'timer' }, journey: ended, now: at(3 * DAY) })).toEqual({
      decisions: [],
      actions: [],
      journey: null,
      moved: false,
    });
  });
});

describe('stepWithoutContact', () => {
  it('queues the first stage once per event, keyed by the event, with the event in its templates', () => {
    const feature = compile(`name: heartbeat
trigger: { table: public.orders, on: insert }
stages:
  - name: tracked
    do: [{ webhook: { url: "http://127.0.0.1:1/h" } }, { track: { event: beat } }]
`);
    const event = { ...facts({ id: 7 }, 42), name: 'order.placed' };
    const out = stepWithoutContact(feature, event, T0);
    expect(out.decisions.map((d) => [d.outcome, d.contactId, d.reason])).toEqual([
      ['matched', null, 'trigger matched (no contact)'],
      ['action', null, 'stage tracked: webhook queued'],
      ['action', null, 'stage tracked: track queued'],
    ]);
    expect(out.actions.map((a) => a.key)).toEqual([
      'heartbeat:event:42:tracked:0',
      'heartbeat:event:42:tracked:1',
    ]);
    // The same template context as a journey's action (it once lacked event.name).
    expect(out.actions[0]!.context).toEqual({
      contact: null,
      new: { id: 7 },
      old: null,
      enrichment: null,
      event: {
        name: 'order.placed',
        schema: 'public',
        table: 'orders',
        operation: 'insert',
        occurred_at: T0.toISOString(),
      },
      journey: { feature: 'heartbeat', stage: 'tracked' },
    });
  });
});

describe('stepJourney, when the journey outlives its feature file or comes back', () => {
  it('bounds a restart by max_entries and the cooldown, as any other entry', () => {
    const restart = compile(DRIP.replace('name: drip', 'name: again') + 're_entry: restart\n');
    const first = step({ feature: restart, step: trigger() }).journey!;
    // Within the 30-day cooldown: no restart; the journey goes on where it was.
    const cooling = step({ feature: restart, step: trigger(), journey: first, now: at(DAY) });
    expect(cooling.decisions.map((d) => d.reason)).toEqual([
      'cooldown until 2026-03-31 09:00:00 UTC',
    ]);
    expect(cooling.actions).toEqual([]);
    expect(cooling.journey).toBeNull();
    // The cooldown over, a restart is entry 2; then max_entries (2) holds.
    const second = step({ feature: restart, step: trigger(), journey: first, now: at(31 * DAY) });
    expect(second.decisions[1]!.reason).toBe('entered (entry 2)');
    const active = { ...second.journey!, status: 'active' as const };
    const third = step({ feature: restart, step: trigger(), journey: active, now: at(62 * DAY) });
    expect(third.decisions.map((d) => d.reason)).toEqual(['max entries reached (2 of 2)']);
    expect(third.actions).toEqual([]);
  });

  it('takes the wait that ran out first when its timer fires late', () => {
    const feature = compile(`name: late
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages:
  - name: waiting
    next:
      - { to: slow, after: 5d }
      - { to: fast, after: 1d }
  - name: slow
    do: [{ email: { template: slow } }]
    next: [{ to: null }]
  - name: fast
    do: [{ email: { template: fast } }]
`);
    const journey = step({ feature, step: trigger() }).journey!;
    expect(journey.wake_at).toEqual(at(DAY));
    // The engine was down for a week: the 1-day wait ran out first.
    const late = step({ feature, step: { kind: 'timer' }, journey, now: at(7 * DAY) });
    expect(late.actions.map((a) => a.stage)).toEqual(['fast']);
  });

  it('keys a stage visited again in one entry apart, and the same when the step is retried', () => {
    const feature = compile(`name: remind
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages:
  - name: reminded
    do: [{ email: { template: reminder } }]
    next: [{ to: reminded, after: 3d }]
`);
    let journey = step({ feature, step: trigger() }).journey!;
    const keys = [`remind:${ADA}:1:reminded:0`];
    for (let visit = 2; visit <= 3; visit++) {
      const input = {
        feature,
        step: { kind: 'timer' } as const,
        journey,
        now: at(3 * DAY * (visit - 1)),
      };
      const out = step(input);
      // A retry (the step's row never committed) starts from the same row: the same keys.
      expect(step(input).actions.map((a) => a.key)).toEqual(out.actions.map((a) => a.key));
      keys.push(`remind:${ADA}:1:reminded.${visit}:0`);
      expect(out.actions.map((a) => a.key)).toEqual([keys.at(-1)]);
      journey = out.journey!;
    }
    // A new entry counts its visits from the start.
    const ended: JourneyRow = { ...journey, status: 'exited' };
    const again = step({ feature, step: trigger(), journey: ended, now: at(10 * DAY) });
    expect(again.actions.map((a) => a.key)).toEqual([`remind:${ADA}:2:reminded:0`]);
  });

  it('ends a journey whose stage was removed or renamed, on its timer or an event', () => {
    const before = compile(DRIP);
    const journey = step({ feature: before, step: trigger() }).journey!;
    const renamed = compile(DRIP.replace('name: first', 'name: hello'));
    for (const kind of ['timer', 'event'] as const) {
      const out = step({
        feature: renamed,
        step: kind === 'timer' ? { kind } : { kind, facts: facts({ id: 2, user_id: ADA }, 2) },
        journey,
        now: at(2 * DAY),
      });
      expect(out.decisions.map((d) => [d.outcome, d.reason])).toEqual([
        ['exited', 'stage first is no longer in the feature'],
      ]);
      expect(out.journey).toMatchObject({ status: 'exited', wake_at: null, ended_at: at(2 * DAY) });
      expect(out.actions).toEqual([]);
    }
    // A trigger ends it and enters anew, under the entry rules (here: the cooldown).
    const soon = step({ feature: renamed, step: trigger(), journey, now: at(2 * DAY) });
    expect(soon.decisions.map((d) => d.reason)).toEqual([
      'stage first is no longer in the feature',
      'cooldown until 2026-03-31 09:00:00 UTC',
    ]);
    expect(soon.journey?.status).toBe('exited');
    const later = step({ feature: renamed, step: trigger(), journey, now: at(31 * DAY) });
    expect(later.decisions.map((d) => d.reason).slice(0, 3)).toEqual([
      'stage first is no longer in the feature',
      'entered (entry 2)',
      'stage hello',
    ]);
  });
});
