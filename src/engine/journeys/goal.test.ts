// Whether an event converts an entry, without a database: the time limit on
// the engine's clock, the goal's event (by name, by what a captured row change
// means, never the entering event), and its condition on the contact and on
// the event's properties.
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../config/yaml.js';
import { parseFeature } from '../../features/load.js';
import { Catalog } from '../../source/catalog.js';
import { FeatureSet } from '../match/features.js';
import { converts, type OpenEntry } from './goal.js';
import type { EventFacts } from './machine.js';

const DAY = 86_400_000;
const T0 = new Date('2026-03-01T09:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const ADA = '00000000-0000-4000-8000-000000000001';

function goalOf(goal: string) {
  const yaml = `name: g
trigger: { event: signed_up }
${goal}
stages:
  - name: only
    do: [{ email: { template: x } }]
`;
  const feature = parseFeature(parseYaml(yaml, 'g.yaml', {}), 'g.yaml');
  return new FeatureSet([feature], new Catalog([]), { onboarded: 'boolean' }).get('g')!.goal!;
}

const entry: OpenEntry = {
  feature: 'g',
  contact_id: ADA,
  entered_at: T0,
  deadline: at(7 * DAY),
  entry_inbox_id: 10,
};

const event = (
  name: string | undefined,
  newRow: Record<string, unknown>,
  inboxId = 11,
): EventFacts => ({
  inboxId,
  ...(name ? { name } : {}),
  newRow,
  oldRow: null,
  occurredAt: T0,
});

describe('converts', () => {
  const onboarded = goalOf('goal: { when: { "contact.onboarded": "is.true" }, within: 7d }');

  it('holds on the contact within the limit, and not after it or before entering', () => {
    const any = event('page_viewed', {});
    expect(converts(onboarded, entry, any, { onboarded: true }, at(DAY))).toBe(true);
    expect(converts(onboarded, entry, any, { onboarded: false }, at(DAY))).toBe(false);
    expect(converts(onboarded, entry, any, null, at(DAY))).toBe(false);
    expect(converts(onboarded, entry, any, { onboarded: true }, at(7 * DAY))).toBe(true);
    expect(converts(onboarded, entry, any, { onboarded: true }, at(7 * DAY + 1))).toBe(false);
    expect(converts(onboarded, entry, any, { onboarded: true }, at(-1))).toBe(false);
    // A goal on the contact alone may hold already on the entering event.
    expect(converts(onboarded, entry, event('signed_up', {}, 10), { onboarded: true }, T0)).toBe(
      true,
    );
  });

  it('an event goal needs its event, with the properties its condition asks for', () => {
    const paid = goalOf('goal: { event: order.paid, when: { "new.total": "gte.50" }, within: 3d }');
    expect(converts(paid, entry, event('order.paid', { total: 80 }), null, at(DAY))).toBe(true);
    expect(converts(paid, entry, event('order.paid', { total: 20 }), null, at(DAY))).toBe(false);
    expect(converts(paid, entry, event('order.refunded', { total: 80 }), null, at(DAY))).toBe(
      false,
    );
    // The entering event is the cause of the entry, never its conversion.
    expect(converts(paid, entry, event('order.paid', { total: 80 }, 10), null, at(DAY))).toBe(
      false,
    );
    const bare = goalOf('goal: { event: order.paid, within: 3d }');
    expect(converts(bare, entry, event('order.paid', {}), null, at(DAY))).toBe(true);
  });

  it('an event goal on a named event matches the captured row change it stands for', () => {
    const signedIn = goalOf('goal: { event: user.signed_in, within: 3d }');
    const update = (before: string | null, after: string): EventFacts => ({
      inboxId: 12,
      schema: 'auth',
      table: 'users',
      operation: 'update',
      newRow: { id: ADA, last_sign_in_at: after },
      oldRow: { id: ADA, last_sign_in_at: before },
      occurredAt: T0,
    });
    expect(converts(signedIn, entry, update(null, '2026-03-02T00:00:00Z'), null, at(DAY))).toBe(
      true,
    );
    expect(
      converts(
        signedIn,
        entry,
        update('2026-03-02T00:00:00Z', '2026-03-02T00:00:00Z'),
        null,
        at(DAY),
      ),
    ).toBe(false);
  });
});
