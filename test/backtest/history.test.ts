// What a backtest reads of the past, at its edges: a window that ends before
// the kept history replays no row past its end; the kept history of an
// insert feature starts at the oldest kept insert, not at an update kept for
// another feature; kept events lacking a column the feature reads (captured
// for the features deployed then) get it from the row as it is now, and the
// report names what could not be had; a scheduled feature with no kept run
// says so.
import { beforeAll, describe, expect, it } from 'vitest';
import { migrateEngine } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';
import { backtestJson, daysAgo, insertFeature, keep } from './fixtures.js';

const db = useDatabase();

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
});

/** `nudge backtest <feature> --json` over a project of these feature files. */
const report = (
  features: Record<string, string>,
  feature: string,
  window: { since?: string; from?: string; to?: string },
) =>
  backtestJson(db.url, 'engine: { retention: { ingest_log: 90d } }\n', features, feature, window);

const welcome = (table: string) =>
  insertFeature({ name: 'welcome', table, stage: 'hi', action: '{ email: { template: hi } }' });

describe('what a backtest reads', () => {
  it('a window that ends before the kept history reads the rows inside it only', async () => {
    await db.sql`create table public.accounts (id bigint primary key, email text not null, created_at timestamptz not null)`;
    for (const [id, ago] of [
      [1, 60],
      [2, 50],
      [3, 40],
      [4, 20],
      [5, 10],
      [6, 3],
    ] as const) {
      await db.sql`insert into public.accounts values (${id}, ${`u${id}@example.com`}, ${daysAgo(ago)})`;
    }
    // Account 6 was captured; the others were made before capture began.
    await keep(db.sql, [
      {
        sourceKey: 'accounts-6',
        schema: 'public',
        table: 'accounts',
        operation: 'insert',
        newRow: { id: 6, email: 'u6@example.com', created_at: daysAgo(3).toISOString() },
        occurredAt: daysAgo(3),
      },
    ]);
    const json = await report({ 'welcome.yaml': welcome('accounts') }, 'welcome', {
      from: '70d',
      to: '30d',
    });
    // 60, 50 and 40 days ago; not 20 and 10, which are past the window's end.
    expect(json.contacts).toEqual({ entered: 3, entries: 3 });
    expect(json.sources.map((s) => [s.source, s.from, s.to])).toEqual([
      ['rows', json.window.from, json.window.to],
    ]);
  });

  it('an insert feature’s kept history starts at the oldest kept insert, not at an update kept for another feature', async () => {
    await db.sql`create table public.teams (id bigint primary key, email text not null, plan text, created_at timestamptz not null)`;
    await db.sql`insert into public.teams values (1, 't1@example.com', 'b', ${daysAgo(20)}),
                                                 (2, 't2@example.com', 'a', ${daysAgo(2)})`;
    // Another feature, deployed on updates of teams, kept this one; no insert was captured.
    await keep(db.sql, [
      {
        sourceKey: 'teams-update-1',
        schema: 'public',
        table: 'teams',
        operation: 'update',
        newRow: { id: 1, plan: 'b' },
        oldRow: { id: 1, plan: 'a' },
        occurredAt: daysAgo(5),
      },
    ]);
    const json = await report({ 'welcome.yaml': welcome('teams') }, 'welcome', { since: '30d' });
    expect(json.contacts).toEqual({ entered: 2, entries: 2 });
    expect(json.sources.map((s) => s.source)).toEqual(['rows']);
  });

  it('kept events lacking a column the feature reads get it from the row as it is now; what cannot be had is named', async () => {
    await db.sql`create table public.payments (id bigint primary key, user_email text not null, amount int not null)`;
    await db.sql`insert into public.payments values (1, 'p1@example.com', 500), (3, 'p3@example.com', 50)`;
    // Captured for a feature that read only user_email: no amount. Payment 2 is deleted since.
    await keep(
      db.sql,
      [1, 2, 3].map((id) => ({
        sourceKey: `payments-${id}`,
        schema: 'public',
        table: 'payments',
        operation: 'insert' as const,
        newRow: { id, user_email: `p${id}@example.com` },
        occurredAt: daysAgo(4 - id),
      })),
    );
    // And an update of payment 1, its old row without amount.
    await keep(db.sql, [
      {
        sourceKey: 'payments-update-1',
        schema: 'public',
        table: 'payments',
        operation: 'update',
        newRow: { id: 1, user_email: 'p1@example.com' },
        oldRow: { id: 1, user_email: 'p1@example.com' },
        occurredAt: daysAgo(0.5),
      },
    ]);
    const big = `name: big
trigger: { table: public.payments, on: [insert, update], when: { new.amount: gt.100 } }
contact: { email: new.user_email }
stages:
  - name: thanked
    do: [{ webhook: { url: "http://hooks.example/big", body: { amount: "{{ new.amount }}" } } }]
`;
    const json = await report({ 'big.yaml': big }, 'big', { from: daysAgo(3).toISOString() });
    // Payment 1 (500) enters, and again on its update (the journey was over);
    // payment 3 (50) is below; payment 2's amount is unknown.
    expect(json.events.read).toBe(4);
    expect(json.contacts).toEqual({ entered: 1, entries: 2 });
    expect(json.skips).toEqual({ 'condition false': 2 });
    expect(json.todaysValues).toEqual([
      {
        what: 'public.payments: columns kept events lacked, read from the rows as they are now',
        events: 3,
      },
    ]);
    expect(json.simplifications).toContain(
      'missing history — public.payments: amount unknown for 1 kept event (not kept with them, and their rows are deleted since): conditions and templates on them read nothing there',
    );
    expect(json.simplifications).toContain(
      "missing history — public.payments: old values of amount unknown for 1 kept event (not kept with them, and rows hold only today's values): old.* on them reads nothing there",
    );
    // Nothing was written to the table it read.
    expect(await db.sql`select id, amount from public.payments order by id`).toEqual([
      { id: '1', amount: 500 },
      { id: '3', amount: 50 },
    ]);
  });

  it('a scheduled feature with no kept run says so', async () => {
    await db.sql`create table public.trials (id bigint primary key, email text not null, ends_at timestamptz not null)`;
    await db.sql`insert into public.trials values (1, 'x@example.com', ${daysAgo(-1)})`;
    const ending = `name: ending
trigger: { table: public.trials, schedule: { every: 1d }, when: { new.ends_at: lt.now()+2d } }
contact: { email: new.email }
stages:
  - name: reminded
    do: [{ email: { template: trial-ending } }]
`;
    const json = await report({ 'ending.yaml': ending }, 'ending', { since: '30d' });
    expect(json.events.read).toBe(0);
    expect(json.sources).toEqual([]);
    expect(json.simplifications).toContain(
      "missing history — schedule:ending: no kept run of the schedule in the window (it was not deployed active then, or retention dropped its runs); a backtest replays the runs the engine made and kept, and does not run the schedule's query at simulated times",
    );
  });
});
