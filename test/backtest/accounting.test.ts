// Every event a backtest reads is accounted for once: a feature that
// triggers on updates reads the table's updates, not its inserts too (which
// it would neither match nor skip); a feature whose journeys wait on events
// reads the others and says why; and a row inserted after capture began with
// a creation column dated before it (an import, a backdated order) is one
// event, from kept events, not a second one rebuilt from the table.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BacktestReport } from '../../src/backtest/index.js';
import { backtest } from '../../src/cli/backtest.js';
import { memoryIo } from '../../src/cli/io.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { insertInbox } from '../../src/engine/intake/inbox.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();
const DAY = 86_400_000;
const now = Date.now();
const daysAgo = (n: number) => new Date(now - n * DAY);

const FEATURES = {
  'paid.yaml': `name: paid
trigger: { table: public.orders, on: update, when: { new.status: eq.paid } }
contact: { email: new.email }
stages:
  - name: thanked
    do: [{ track: { event: paid } }]
`,
  'placed.yaml': `name: placed
trigger: { table: public.orders, on: insert }
contact: { email: new.email }
stages:
  - name: noted
    do: [{ track: { event: placed } }]
`,
  'shipping.yaml': `name: shipping
trigger: { table: public.orders, on: insert }
contact: { email: new.email }
stages:
  - name: waiting
    next: [{ to: shipped, when: { new.status: eq.shipped } }]
  - name: shipped
    do: [{ track: { event: shipped } }]
`,
};

/** id, days ago created, days ago captured (undefined: before capture began, only a row). */
const ORDERS = [
  { id: 6, created: 20 },
  { id: 7, created: 19 },
  { id: 8, created: 18 },
  { id: 1, created: 10, captured: 10 },
  { id: 2, created: 9, captured: 9 },
  { id: 3, created: 8, captured: 8 },
  { id: 4, created: 7, captured: 7 },
  { id: 5, created: 6, captured: 6 },
  // Imported two days ago, dated 25 days back: captured, and older than capture.
  { id: 9, created: 25, captured: 2 },
];
/** Updates, all captured: two paid, one cancelled. */
const UPDATES = [
  { id: 1, status: 'paid', ago: 5 },
  { id: 2, status: 'paid', ago: 4 },
  { id: 3, status: 'cancelled', ago: 3 },
];

let cwd: string;

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  await db.sql`create table public.orders (
    id bigint primary key, email text not null, status text not null, created_at timestamptz not null)`;
  const email = (id: number) => `o${id}@example.com`;
  for (const o of ORDERS) {
    const status = UPDATES.find((u) => u.id === o.id)?.status ?? 'new';
    await db.sql`insert into public.orders values (${o.id}, ${email(o.id)}, ${status}, ${daysAgo(o.created)})`;
  }
  const row = (id: number, status: string) => ({
    id,
    email: email(id),
    status,
    created_at: daysAgo(ORDERS.find((o) => o.id === id)!.created).toISOString(),
  });
  // In the order they were received: inbox ids grow with receipt time.
  const events = [
    ...ORDERS.filter((o) => o.captured !== undefined).map((o) => ({
      source: 'outbox' as const,
      sourceKey: `i${o.id}`,
      schema: 'public',
      table: 'orders',
      operation: 'insert' as const,
      newRow: row(o.id, 'new'),
      occurredAt: daysAgo(o.captured!),
    })),
    ...UPDATES.map((u) => ({
      source: 'outbox' as const,
      sourceKey: `u${u.id}`,
      schema: 'public',
      table: 'orders',
      operation: 'update' as const,
      newRow: row(u.id, u.status),
      oldRow: row(u.id, 'new'),
      occurredAt: daysAgo(u.ago),
    })),
  ].sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime());
  await insertInbox(db.sql, events);
  await db.sql`update nudge_engine.inbox set processed_at = occurred_at, received_at = occurred_at`;
  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-backtest-accounting-'));
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  await writeFile(path.join(cwd, 'nudge.yaml'), 'engine: { retention: { ingest_log: 30d } }\n');
  for (const [name, text] of Object.entries(FEATURES)) {
    await writeFile(path.join(cwd, 'nudge/features', name), text);
  }
});

async function report(feature: string): Promise<{ json: BacktestReport; text: string }> {
  const json = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  expect(await backtest([feature], { since: '30d', json: true }, json.io)).toBe(0);
  const text = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  expect(await backtest([feature], { since: '30d' }, text.io)).toBe(0);
  return { json: JSON.parse(json.stdout()) as BacktestReport, text: text.stdout() };
}

describe('what a backtest reads', () => {
  it('an update-only feature reads the updates: each is matched or skipped', async () => {
    const { json, text } = await report('paid');
    expect(json.events.read).toBe(3);
    expect(json.events.matched).toBe(2);
    expect(json.events.notTrigger).toBe(0);
    expect(json.skips).toEqual({ 'condition false': 1 });
    expect(text).toContain('Events read: 3, matched: 2\n');
  });

  it('a row imported with an older creation date is one event, from kept events', async () => {
    const { json } = await report('placed');
    // Rows: 6, 7, 8 (before capture began); kept: 1-5 and the imported 9.
    expect(json.events.bySource).toEqual({
      rows: { read: 3, matched: 3, entered: 3 },
      'kept events': { read: 6, matched: 6, entered: 6 },
    });
    expect(json.events.read).toBe(9);
    expect(json.contacts.entries).toBe(9);
  });

  it('a feature whose journeys wait on events reads the others, and says what they are for', async () => {
    const { json, text } = await report('shipping');
    expect(json.events.read).toBe(12);
    expect(json.events.notTrigger).toBe(3);
    expect(json.events.matched).toBe(9);
    expect(text).toContain(
      'Events read: 12, matched: 9\n  3 of them not what shipping triggers on: read for journeys waiting on events (when, until, exit.when)\n',
    );
  });
});
