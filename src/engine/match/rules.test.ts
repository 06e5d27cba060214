// The matcher's rules for one event and one candidate feature, in their order,
// with the reasons the decision log and the backtest's report show.
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../config/yaml.js';
import { parseFeature } from '../../features/load.js';
import { Catalog } from '../../source/catalog.js';
import { identityOf } from './candidates.js';
import { FeatureSet, type RuntimeFeature } from './features.js';
import { beforeContact, type ContactFreeVerdict, withContact } from './rules.js';

const column = (name: string, typeName: string) => ({
  name,
  type: typeName,
  typeName,
  notNull: false,
  generated: false,
});
const catalog = new Catalog([
  {
    schema: 'public',
    table: 'visits',
    kind: 'table',
    columns: [column('id', 'int8'), column('email', 'text'), column('kind', 'text')],
    primaryKey: ['id'],
    rls: false,
    owner: 'postgres',
    rowEstimate: 0,
  },
]);

const FILES = {
  gate: 'trigger: { table: public.visits, on: insert, when: { new.kind: neq.bot } }\ncontact: { email: new.email }\n',
  vip: 'trigger: { table: public.visits, on: insert, when: { contact.plan: eq.pro } }\ncontact: { email: new.email }\n',
  open: 'trigger: { table: public.visits, on: insert }\ncontact: { email: new.email }\n',
  beat: 'trigger: { table: public.visits, on: insert, when: { new.kind: neq.bot } }\n',
};
const features = new FeatureSet(
  Object.entries(FILES).map(([name, text]) =>
    parseFeature(
      parseYaml(`name: ${name}\n${text}stages: [{ name: only }]\n`, `${name}.yaml`, {}),
      `${name}.yaml`,
    ),
  ),
  catalog,
  { plan: 'text' },
);
const feature = (name: keyof typeof FILES): RuntimeFeature => features.get(name)!;
const now = new Date('2026-03-01T09:00:00Z');

/** A visit's rows, and its contact-free verdict as the engine works it out, noting the features asked. */
function visit(row: Record<string, unknown>) {
  const rows = { new: row, old: null };
  const asked: string[] = [];
  const verdict: ContactFreeVerdict = (f) => {
    asked.push(f.name);
    return f.when!.test({ now, ...rows, contact: null });
  };
  return { rows, asked, verdict };
}

describe('beforeContact', () => {
  it('skips a paused feature first, without asking its condition', () => {
    const { rows, asked, verdict } = visit({ id: 1, email: null, kind: 'bot' });
    expect(beforeContact(feature('gate'), rows, true, verdict)).toMatchObject({
      outcome: 'skipped',
      reason: 'paused',
    });
    expect(asked).toEqual([]);
  });

  it('skips a false condition that reads no contact before looking at the mapping', () => {
    const { rows, asked, verdict } = visit({ id: 1, email: null, kind: 'bot' });
    expect(beforeContact(feature('gate'), rows, false, verdict)).toMatchObject({
      outcome: 'skipped',
      reason: 'trigger condition false: new.kind neq.bot was false (value "bot")',
    });
    expect(asked).toEqual(['gate']);
  });

  it('reads a deleted row for the mapping’s new.*: there is no new row on a delete', () => {
    const { verdict } = visit({});
    const rows = { new: null, old: { id: 1, email: 'ada@example.com', kind: 'human' } };
    expect(identityOf(feature('open'), rows)).toEqual({ email: 'ada@example.com' });
    expect(beforeContact(feature('open'), rows, false, verdict)).toEqual({
      outcome: 'resolve',
      identity: { email: 'ada@example.com' },
    });
  });

  it('skips a row with no value for the contact mapping', () => {
    for (const email of [null, '', undefined]) {
      const { rows, verdict } = visit({ id: 1, email, kind: 'human' });
      expect(beforeContact(feature('gate'), rows, false, verdict)).toMatchObject({
        outcome: 'skipped',
        reason: 'no contact: the row has no value for the contact mapping',
      });
    }
  });

  it('runs a feature with no contact mapping without one, once its condition holds', () => {
    const human = visit({ id: 1, kind: 'human' });
    expect(beforeContact(feature('beat'), human.rows, false, human.verdict)).toEqual({
      outcome: 'without contact',
    });
    const bot = visit({ id: 2, kind: 'bot' });
    expect(beforeContact(feature('beat'), bot.rows, false, bot.verdict)).toMatchObject({
      outcome: 'skipped',
      reason: 'trigger condition false: new.kind neq.bot was false (value "bot")',
    });
  });

  it('names the contact to resolve, and leaves a condition on the contact for later', () => {
    const { rows, asked, verdict } = visit({ id: 1, email: 'ann@example.com', kind: 'bot' });
    for (const name of ['vip', 'open'] as const) {
      expect(beforeContact(feature(name), rows, false, verdict)).toEqual({
        outcome: 'resolve',
        identity: { email: 'ann@example.com' },
      });
    }
    expect(asked).toEqual([]);
  });
});

describe('withContact', () => {
  const { rows } = visit({ id: 1, email: 'ann@example.com', kind: 'human' });

  it('skips a false condition on the contact, with its reason', () => {
    expect(withContact(feature('vip'), rows, { plan: 'free' }, now)).toMatchObject({
      outcome: 'skipped',
      reason: 'trigger condition false: contact.plan eq.pro was false (value "free")',
    });
    expect(withContact(feature('vip'), rows, null, now)).toMatchObject({
      outcome: 'skipped',
      reason: 'trigger condition false: contact.plan eq.pro was unknown (value null)',
    });
  });

  it('matches when it holds, and does not ask again a condition that reads no contact', () => {
    const matched = { outcome: 'matched', reason: 'trigger matched' };
    expect(withContact(feature('vip'), rows, { plan: 'pro' }, now)).toEqual(matched);
    expect(withContact(feature('open'), rows, null, now)).toEqual(matched);
    // A bot: gate's condition was beforeContact's to ask, not withContact's.
    const bot = visit({ id: 2, email: 'bo@example.com', kind: 'bot' });
    expect(withContact(feature('gate'), bot.rows, null, now)).toEqual(matched);
  });
});
