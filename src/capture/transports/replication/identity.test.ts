import { describe, expect, it } from 'vitest';
import { identityPlan, stillFull, type TableIdentity } from './identity.js';

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

describe('identityPlan of a partitioned table', () => {
  const p2024 = { schema: 'public', table: 'orders_2024' };
  const p2025 = { schema: 'public', table: 'orders_2025' };
  const low = { schema: 'public', table: 'orders_2025_low' };
  const partitions = [
    { table: p2024, of: orders },
    { table: p2025, of: orders },
    { table: low, of: orders },
    { table: low, of: p2025 },
  ];

  it('makes every partition FULL, at any depth, and remembers those it made FULL', () => {
    const plan = identityPlan(
      [orders],
      [
        { table: orders, identity: 'full' },
        { table: p2024, identity: 'full' },
        { table: low, identity: 'default' },
      ],
      [orders, p2024],
      partitions,
    );
    expect(plan.full.map((i) => [i.subject, i.action])).toEqual([
      ['public.orders', 'unchanged'],
      ['public.orders_2024', 'unchanged'],
      ['public.orders_2025', 'replace'],
      ['public.orders_2025_low', 'replace'],
    ]);
    expect(plan.full[2]!.detail).toContain('FULL as partition of public.orders:');
    expect(plan.full[3]!.sql).toEqual([
      'ALTER TABLE "public"."orders_2025_low" REPLICA IDENTITY FULL',
    ]);
    expect(plan.madeFull).toEqual([orders, p2024, p2025, low]);
    expect(plan.reset).toEqual([]);
  });

  it('sees a partition set back by hand as drift, and sets back one detached since', () => {
    const plan = identityPlan(
      [orders],
      [
        { table: orders, identity: 'full' },
        { table: p2024, identity: 'default' },
        { table: gone, identity: 'full' },
      ],
      [orders, p2024, gone],
      partitions.slice(0, 1),
    );
    expect(plan.full[1]).toMatchObject({
      subject: 'public.orders_2024',
      action: 'replace',
      drift: ['replica identity was set to DEFAULT by hand'],
    });
    expect(plan.reset.map((i) => [i.subject, i.action])).toEqual([['public.gone', 'replace']]);
  });
});
