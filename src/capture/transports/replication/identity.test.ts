import { describe, expect, it } from 'vitest';
import { stillFull, type TableIdentity } from './identity.js';

const orders = { schema: 'public', table: 'orders' };
const items = { schema: 'my-app', table: 'Order "Items"' };
const prefs = { schema: 'public', table: 'prefs' };
const gone = { schema: 'public', table: 'gone' };

describe('stillFull', () => {
  it('sets back only the tables Nudge made FULL that are FULL still, in marker order', () => {
    const identities: TableIdentity[] = [
      { table: orders, identity: 'full' },
      { table: items, identity: 'full' },
      // FULL by its owner, not by Nudge: not in madeFull, never set back.
      { table: prefs, identity: 'full' },
    ];
    expect(stillFull(identities, [orders, items])).toEqual([items, orders]);
  });

  it('leaves a table changed by hand since, or dropped', () => {
    const identities: TableIdentity[] = [
      { table: orders, identity: 'index' },
      { table: items, identity: 'default' },
    ];
    expect(stillFull(identities, [orders, items, gone])).toEqual([]);
    expect(stillFull([], [])).toEqual([]);
  });
});
