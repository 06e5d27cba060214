// Where a backtest reads a value as it is today, not as the event had it:
// rows rebuilt from the table, columns kept events lacked, the contact book's
// attributes. A row changed after its event, when a kept change of that row
// holds the old value, is read as it was (the change's old row), not as it
// is; one whose change was not kept is read as it is, and the report counts
// it under todaysValues, per place, with the events it touched.
import { beforeAll, describe, expect, it } from 'vitest';
import { reportLines } from '../../src/backtest/index.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';
import { backtestJson, daysAgo, insertFeature, keep } from './fixtures.js';

const db = useDatabase();

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
});

/** `nudge backtest <feature> --json` over the last 30 days. */
const report = (features: Record<string, string>, feature: string) =>
  backtestJson(
    db.url,
    'engine: { retention: { ingest_log: 90d } }\ncontacts: { attributes: { plan: text, big_order: boolean } }\n',
    features,
    feature,
    { since: '30d' },
  );

const big = (table: string, when = '{ new.total: gte.100 }') =>
  insertFeature({
    name: 'big',
    table,
    when,
    stage: 'thanked',
    action: '{ set: { big_order: true } }',
  });

describe('values of today in a backtest', () => {
  it('reads a rebuilt row as a kept change says it was, and counts the rows read as they are now', async () => {
    await db.sql`create table public.orders (id bigint primary key, email text not null, total int not null, created_at timestamptz not null)`;
    // Order 1 was 150 when placed and is 50 now: the change was kept (for
    // another feature, on updates), with its old row. Order 2 was 20 and is
    // 200 now: that change was not kept. Order 3 never changed.
    await db.sql`insert into public.orders values
      (1, 'o1@example.com', 50, ${daysAgo(20)}),
      (2, 'o2@example.com', 200, ${daysAgo(15)}),
      (3, 'o3@example.com', 300, ${daysAgo(10)})`;
    await keep(db.sql, [
      {
        sourceKey: 'orders-update-1',
        schema: 'public',
        table: 'orders',
        operation: 'update',
        newRow: { id: 1, email: 'o1@example.com', total: 50 },
        oldRow: { id: 1, email: 'o1@example.com', total: 150 },
        occurredAt: daysAgo(5),
      },
    ]);
    const json = await report({ 'big.yaml': big('orders') }, 'big');
    expect(json.sources.map((s) => s.source)).toEqual(['rows']);
    // Order 1 as it was (150) enters; order 2 as it is (200) does too: its past is unknown.
    expect(json.contacts).toEqual({ entered: 3, entries: 3 });
    expect(json.skips).toEqual({});
    expect(json.todaysValues).toEqual([
      {
        what: 'public.orders: inserts rebuilt from the rows (new.* as the rows are now)',
        events: 2,
      },
    ]);
    expect(json.simplifications).toContain(
      "public.orders: 1 event took email, total from the old row of the first kept change of their row after them (the value just before it), not from today's row",
    );
    const lines = reportLines(json);
    expect(lines).toContain(
      '  public.orders: inserts rebuilt from the rows (new.* as the rows are now): 2 events',
    );
  });

  it('takes a column kept events lacked from a later kept change, not from today’s row', async () => {
    await db.sql`create table public.invoices (id bigint primary key, email text not null, total int not null)`;
    await db.sql`insert into public.invoices values (1, 'i1@example.com', 10), (2, 'i2@example.com', 500)`;
    // Captured for a feature that read only email: no total. Invoice 1 was
    // 400 at its insert and its update later kept the old total; invoice 2's
    // total is read as it is now.
    await keep(db.sql, [
      ...[1, 2].map((id) => ({
        sourceKey: `invoices-${id}`,
        schema: 'public',
        table: 'invoices',
        operation: 'insert' as const,
        newRow: { id, email: `i${id}@example.com` },
        occurredAt: daysAgo(10 - id),
      })),
      {
        sourceKey: 'invoices-update-1',
        schema: 'public',
        table: 'invoices',
        operation: 'update' as const,
        newRow: { id: 1, email: 'i1@example.com', total: 10 },
        oldRow: { id: 1, email: 'i1@example.com', total: 400 },
        occurredAt: daysAgo(3),
      },
    ]);
    const json = await report({ 'big.yaml': big('invoices') }, 'big');
    expect(json.events.read).toBe(2);
    expect(json.contacts).toEqual({ entered: 2, entries: 2 });
    expect(json.todaysValues).toEqual([
      {
        what: 'public.invoices: columns kept events lacked, read from the rows as they are now',
        events: 1,
      },
    ]);
    expect(json.simplifications).toContain(
      "public.invoices: 1 event took total from the old row of the first kept change of their row after them (the value just before it), not from today's row",
    );
  });

  it('takes a column kept events lacked from the kept delete of a row deleted since, and names no gap', async () => {
    await db.sql`create table public.refunds (id bigint primary key, email text not null, total int not null)`;
    // Captured for a feature that read only email: no total. The row is
    // deleted since; its delete was kept with the old row, total 300.
    await keep(db.sql, [
      {
        sourceKey: 'refunds-1',
        schema: 'public',
        table: 'refunds',
        operation: 'insert' as const,
        newRow: { id: 1, email: 'r1@example.com' },
        // After the events the tests above kept: ids grow with receipt, as the engine's do.
        occurredAt: daysAgo(2.8),
      },
      {
        sourceKey: 'refunds-delete-1',
        schema: 'public',
        table: 'refunds',
        operation: 'delete' as const,
        oldRow: { id: 1, email: 'r1@example.com', total: 300 },
        occurredAt: daysAgo(2.5),
      },
    ]);
    const json = await report({ 'big.yaml': big('refunds') }, 'big');
    expect(json.events.read).toBe(1);
    // The old row's 300, not nothing: the refund enters.
    expect(json.contacts).toEqual({ entered: 1, entries: 1 });
    expect(json.todaysValues).toEqual([]);
    expect(json.simplifications).toContain(
      "public.refunds: 1 event took total from the old row of the first kept change of their row after them (the value just before it), not from today's row",
    );
    // Not named among the missing history: the kept delete gave it.
    expect(json.simplifications.filter((s) => s.includes('unknown'))).toEqual([]);
  });

  it('counts the events whose conditions read a contact of the book as it is today', async () => {
    await db.sql`create table public.upgrades (id bigint primary key, email text not null, created_at timestamptz not null)`;
    await db.sql`insert into public.upgrades values
      (1, 'pro1@example.com', ${daysAgo(9)}), (2, 'pro1@example.com', ${daysAgo(8)}),
      (3, 'free1@example.com', ${daysAgo(7)}), (4, 'nobody1@example.com', ${daysAgo(6)})`;
    await db.sql`insert into nudge_engine.contacts (email, attributes) values
      ('pro1@example.com', '{"plan": "pro"}'), ('free1@example.com', '{"plan": "free"}')`;
    const json = await report({ 'big.yaml': big('upgrades', '{ contact.plan: eq.pro }') }, 'big');
    // pro1 enters twice (its journey was over); free1 is skipped.
    expect(json.contacts).toEqual({ entered: 1, entries: 2 });
    // Three events of two book contacts; nobody1 is made from the event, holding nothing of today.
    expect(json.todaysValues).toContainEqual({
      what: 'contact.* in conditions: the attributes 2 contacts of the contact book have today (it keeps no history of them)',
      events: 3,
    });
  });

  it('reads a book contact as the engine kept it at a kept event, not as it is today', async () => {
    await db.sql`create table public.renewals (id bigint primary key, email text not null, created_at timestamptz not null)`;
    // Dee was pro when she renewed, and is free today; Eve is pro today, and
    // no action of that event kept how she was then.
    const [dee] = await db.sql<{ id: string }[]>`
      insert into nudge_engine.contacts (email, attributes)
      values ('dee2@example.com', '{"plan": "free"}') returning id::text`;
    await db.sql`insert into nudge_engine.contacts (email, attributes)
                 values ('eve2@example.com', '{"plan": "pro"}')`;
    await keep(
      db.sql,
      ['dee2', 'eve2'].map((name, i) => ({
        sourceKey: `renewals-${i + 1}`,
        schema: 'public',
        table: 'renewals',
        operation: 'insert' as const,
        newRow: {
          id: i + 1,
          email: `${name}@example.com`,
          created_at: daysAgo(2 - i).toISOString(),
        },
        // After every event the tests above kept: ids grow with receipt, as the engine's do.
        occurredAt: daysAgo(2 - i),
      })),
    );
    const [event] = await db.sql<{ id: string }[]>`
      select id::text from nudge_engine.inbox where source_key = 'renewals-1'`;
    // Another feature's action on that event, as the engine logs it: the run keeps the contact it saw.
    await db.sql`insert into nudge_engine.action_runs (key, feature, contact_id, kind, params, context)
      values ('receipt:dee2', 'receipt', ${dee!.id}, 'email', '{"template": "receipt"}',
              ${db.sql.json({ contact: { id: dee!.id, email: 'dee2@example.com', plan: 'pro' } })})`;
    await db.sql`insert into nudge_engine.decisions (inbox_id, feature, contact_id, outcome, reason, detail)
      values (${event!.id}, 'receipt', ${dee!.id}, 'action', 'email receipt',
              '{"kind": "email", "key": "receipt:dee2"}')`;
    const json = await report({ 'big.yaml': big('renewals', '{ contact.plan: eq.pro }') }, 'big');
    // Both enter: Dee as she was then, Eve as she is today.
    expect(json.contacts).toEqual({ entered: 2, entries: 2 });
    expect(json.simplifications).toContain(
      'contact.* for 1 kept event read as the engine saw the contact then (the row an action it ran on the event kept), not as it is today',
    );
    expect(json.todaysValues).toEqual([
      {
        what: 'contact.* in conditions: the attributes 1 contact of the contact book have today (it keeps no history of them)',
        events: 1,
      },
    ]);
  });
});
