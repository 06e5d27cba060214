// Experiments without a database: the feature file's goal, holdout and split
// as the compiler checks them (errors at file:line), the assignment (stable,
// independent draws, weights honoured), and what the state machine does with
// a group — a held-out contact gets no messages, a variant its parameters.
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../config/yaml.js';
import { parseFeature } from '../../features/load.js';
import { Catalog } from '../../source/catalog.js';
import { FeatureSet, type RuntimeFeature } from '../match/features.js';
import { applyVariant, assign, drawsOf } from './experiment.js';
import { type EventFacts, stepJourney } from './machine.js';

const T0 = new Date('2026-03-01T09:00:00.000Z');
const DAY = 86_400_000;
const contactId = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

const parse = (yaml: string) => parseFeature(parseYaml(yaml, 'f.yaml', {}), 'f.yaml');

function compile(yaml: string): RuntimeFeature {
  const feature = parse(yaml);
  return new FeatureSet([feature], new Catalog([]), { onboarded: 'boolean' }).get(feature.name)!;
}

const SPLIT = `name: welcome
trigger: { event: order.placed }
contact: { id: new.user_id }
goal:
  when: { "contact.onboarded": "is.true" }
  within: 7d
holdout: 10
stages:
  - name: welcomed
    do:
      - email: { template: welcome, subject: Welcome }
      - add_to_list: welcomed
    split:
      - { name: short, weight: 3, with: { email: { subject: Hi } } }
      - { name: long, with: { email: { subject: "Welcome to Acme", template: welcome-long } } }
`;

const facts = (userId: string, inboxId = 1): EventFacts => ({
  inboxId,
  name: 'order.placed',
  newRow: { id: 1, user_id: userId },
  oldRow: null,
  occurredAt: T0,
});

describe('the feature file', () => {
  it('compiles goal, holdout and split', () => {
    const feature = parse(SPLIT);
    expect(feature.goal).toMatchObject({ withinMs: 7 * DAY });
    expect(feature.experiment).toEqual({
      holdoutPercent: 10,
      split: {
        stage: 'welcomed',
        variants: [
          { name: 'short', weight: 3, overrides: { email: { subject: 'Hi' } } },
          {
            name: 'long',
            weight: 1,
            overrides: { email: { subject: 'Welcome to Acme', template: 'welcome-long' } },
          },
        ],
      },
    });
    expect(parse(SPLIT.replace('holdout: 10', 'holdout: "12.5%"')).experiment?.holdoutPercent).toBe(
      12.5,
    );
  });

  it.each([
    ['holdout: 10', 'holdout: 100', /f\.yaml:7:10 holdout: expected a percentage greater than 0/],
    ['holdout: 10', 'holdout: ten', /f\.yaml:7:10 holdout: expected a percentage such as 10/],
    ['  within: 7d', '  within: 7 days', /f\.yaml:6:11 goal\.within: expected a duration/],
    [
      'with: { email: { subject: Hi } }',
      'with: { email: { subjekt: Hi } }',
      /f\.yaml:14:\d+ stages\[0\]\.split\[0\]\.with\.email\.subjekt: unknown email parameter "subjekt" \(did you mean "subject"\?\)/,
    ],
    [
      'with: { email: { subject: Hi } }',
      'with: { webhook: { url: "http://x" } }',
      /f\.yaml:14:\d+ stages\[0\]\.split\[0\]\.with\.webhook: stage welcomed has no webhook action to change/,
    ],
    [
      'with: { email: { subject: Hi } }',
      'with: { add_to_list: { x: 1 } }',
      /stages\[0\]\.split\[0\]\.with\.add_to_list: a variant changes the parameters of email, webhook, function, track actions/,
    ],
    [
      'name: long',
      'name: short',
      /f\.yaml:15:\d+ stages\[0\]\.split\[1\]\.name: variant "short" is defined twice/,
    ],
    ['name: long', 'name: holdout', /stages\[0\]\.split\[1\]\.name: "holdout" is reserved/],
    [
      '"contact.onboarded": "is.true" }',
      '"new.plan": "eq.pro" }',
      /f\.yaml:5:\d+ goal\.when\["new\.plan"\]: new\.plan: a goal without an event reads only contact\.\*/,
    ],
  ])('refuses %s → %s with its place', (from, to, error) => {
    expect(() => parse(SPLIT.replace(from, to))).toThrow(error);
  });

  it('refuses a goal on a feature that finds no contact', () => {
    // A table's rows name no contact unless the feature says how (auth.users aside).
    const noContact = SPLIT.replace(
      'trigger: { event: order.placed }\ncontact: { id: new.user_id }\n',
      'trigger: { table: public.orders, on: insert }\n',
    );
    expect(() => parse(noContact)).toThrow(
      /f\.yaml:3:1 goal: a goal is measured per contact, so this feature needs contact:/,
    );
  });

  it('refuses a split or a holdout without a goal, and a second split', () => {
    const noGoal = SPLIT.replace(/goal:\n.*\n.*\n/, '');
    expect(() => parse(noGoal)).toThrow(/stages\[0\]\.split: a split needs a goal to measure it/);
    const holdoutOnly = noGoal.replace(/ {4}split:\n.*\n.*\n/, '');
    expect(() => parse(holdoutOnly)).toThrow(/f\.yaml:\d+:1 holdout: a holdout needs a goal/);
    const twice = `${SPLIT}  - name: later
    after: 1d
    do: [{ email: { template: later } }]
    split: [{ name: a }, { name: b }]
`;
    expect(() => parse(twice)).toThrow(/stages\[1\]\.split: only one stage may split/);
  });
});

describe('assign', () => {
  const experiment = parse(SPLIT).experiment!;

  it('is the same answer for the same (feature, contact), and differs by feature', () => {
    const first = assign('welcome', contactId(7), experiment);
    expect(assign('welcome', contactId(7), experiment)).toEqual(first);
    const draws = drawsOf('welcome', contactId(7));
    expect(drawsOf('welcome', contactId(7))).toEqual(draws);
    expect(drawsOf('other', contactId(7))).not.toEqual(draws);
    for (const d of draws) expect(d >= 0 && d < 1).toBe(true);
  });

  it('holds out about the share asked and splits the rest by weight', () => {
    const n = 20_000;
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const { group } = assign('welcome', contactId(i), experiment);
      counts.set(group, (counts.get(group) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(['holdout', 'long', 'short']);
    // Binomial standard deviations: holdout √(n·.1·.9) ≈ 42; short √(n·.675·.325) ≈ 66.
    expect(Math.abs(counts.get('holdout')! - 0.1 * n)).toBeLessThan(4 * 42);
    expect(Math.abs(counts.get('short')! - 0.9 * 0.75 * n)).toBeLessThan(4 * 66);
    expect(counts.get('holdout')! + counts.get('short')! + counts.get('long')!).toBe(n);
  });

  it('keeps contacts in their variant when only the holdout share changes', () => {
    const wider = { ...experiment, holdoutPercent: 30 };
    for (let i = 0; i < 2000; i++) {
      const before = assign('welcome', contactId(i), experiment);
      const after = assign('welcome', contactId(i), wider);
      if (!after.holdout) expect(after.group).toBe(before.group);
      if (before.holdout) expect(after.holdout).toBe(true);
    }
  });

  it('a variant replaces only the parameters it names', () => {
    const variant = experiment.split!.variants[1]!;
    const email = { kind: 'email', params: { template: 'welcome', subject: 'Welcome', to: 'x' } };
    expect(applyVariant(email as never, variant)).toEqual({
      kind: 'email',
      params: { template: 'welcome-long', subject: 'Welcome to Acme', to: 'x' },
    });
    const list = { kind: 'add_to_list', params: 'welcomed' } as const;
    expect(applyVariant(list, variant)).toBe(list);
  });
});

describe('the state machine with an experiment', () => {
  const feature = compile(SPLIT);
  const experiment = feature.feature.experiment!;
  const find = (wanted: (i: number) => boolean) => {
    for (let i = 0; ; i++) if (wanted(i)) return contactId(i);
  };
  const held = find((i) => assign('welcome', contactId(i), experiment).holdout);
  const long = find((i) => assign('welcome', contactId(i), experiment).group === 'long');
  const enter = (id: string) =>
    stepJourney({
      step: { kind: 'trigger', contactId: id, facts: facts(id, 42) },
      feature,
      contact: null,
      journey: null,
      now: T0,
    });

  it('a held-out contact enters and is counted, gets no email, and still takes the path', () => {
    const out = enter(held);
    expect(out.measured).toEqual({
      feature: 'welcome',
      contactId: held,
      group: 'holdout',
      enteredAt: T0,
      deadline: new Date(T0.getTime() + 7 * DAY),
      inboxId: 42,
    });
    expect(out.actions.map((a) => a.action.kind)).toEqual(['add_to_list']);
    expect(out.decisions.map((d) => d.reason)).toContain(
      'stage welcomed: email withheld (holdout)',
    );
    expect(out.decisions[0]!.reason).toBe('entered (entry 1, group holdout)');
    expect(out.journey?.status).toBe('completed');
  });

  it('a contact in a variant gets the variant’s parameters', () => {
    const out = enter(long);
    expect(out.measured?.group).toBe('long');
    const email = out.actions.find((a) => a.action.kind === 'email')!;
    expect(email.action.params).toMatchObject({
      template: 'welcome-long',
      subject: 'Welcome to Acme',
    });
  });

  it('a feature with a goal and no experiment records everyone as treated', () => {
    const plain = compile(SPLIT.replace('holdout: 10\n', '').replace(/ {4}split:\n.*\n.*\n/, ''));
    const out = stepJourney({
      step: { kind: 'trigger', contactId: held, facts: facts(held) },
      feature: plain,
      contact: null,
      journey: null,
      now: T0,
    });
    expect(out.measured?.group).toBe('treated');
    expect(out.actions.map((a) => a.action.kind)).toEqual(['email', 'add_to_list']);
    expect(out.decisions[0]!.reason).toBe('entered (entry 1)');
  });
});
