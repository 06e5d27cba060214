// nudge backtest against real Postgres: a three-stage feature with waits, a
// trigger condition, an unless on a contact attribute and a cooldown, over a
// window whose older part exists only as rows (inserts rebuilt from
// created_at) and whose newer part as kept inbox events. Waits and the
// cooldown elapse in simulated time; every count says its source; nothing is
// written to the source, the journeys, the decision log or the action runs;
// and POST /v1/features/backtest answers the same report.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BacktestReport } from '../../src/backtest/index.js';
import { backtest } from '../../src/cli/backtest.js';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/load.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { insertInbox } from '../../src/engine/intake/inbox.js';
import { advanceStoreClock } from '../../src/engine/wiring/clock.js';
import { createApiKey } from '../../src/server/api/keys.js';
import { useDatabase } from '../harness/db.js';
import { startTestServer, type TestServer } from '../server/helpers.js';

const db = useDatabase();
const DAY = 86_400_000;
const now = Date.now();
const daysAgo = (n: number) => new Date(now - n * DAY);

const DRIP = `name: drip
status: draft
trigger: { table: public.accounts, on: insert, when: { new.plan: neq.banned } }
contact: { email: new.email }
cooldown: 30d
stages:
  - name: welcomed
    do: [{ email: { template: welcome } }]
  - name: nudged
    after: 2d
    unless: { contact.onboarded: is.true }
    do: [{ email: { template: day-two } }]
  - name: done
    after: 5d
    do: [{ webhook: { url: "http://hooks.example/done" } }]
`;

let cwd: string;
let server: TestServer | undefined;

/** Row id, email, plan, days ago; `kept`: also an inbox event (the newer part of the window). */
const ACCOUNTS = [
  { id: 1, email: 'a@example.com', plan: 'pro', ago: 29, kept: false },
  { id: 2, email: 'b@example.com', plan: 'banned', ago: 25, kept: false },
  { id: 3, email: 'c@example.com', plan: 'pro', ago: 20, kept: false },
  { id: 4, email: 'a@example.com', plan: 'pro', ago: 15, kept: false },
  { id: 5, email: 'd@example.com', plan: 'pro', ago: 10, kept: true },
  { id: 6, email: 'e@example.com', plan: 'pro', ago: 1, kept: true },
];

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  await db.sql`create table public.accounts (
    id bigint primary key, email text not null, plan text not null, created_at timestamptz not null)`;
  for (const a of ACCOUNTS) {
    await db.sql`insert into public.accounts values (${a.id}, ${a.email}, ${a.plan}, ${daysAgo(a.ago)})`;
  }
  // Kept: processed events of the newer accounts, one older than the window.
  const kept = [
    ...ACCOUNTS.filter((a) => a.kept),
    { id: 0, email: 'old@example.com', plan: 'pro', ago: 40 },
  ];
  await insertInbox(
    db.sql,
    kept.map((a) => ({
      source: 'outbox' as const,
      sourceKey: `k${a.id}`,
      schema: 'public',
      table: 'accounts',
      operation: 'insert' as const,
      newRow: { id: a.id, email: a.email, plan: a.plan, created_at: daysAgo(a.ago).toISOString() },
      occurredAt: daysAgo(a.ago),
    })),
  );
  await db.sql`update nudge_engine.inbox set processed_at = occurred_at, received_at = occurred_at`;
  // c is onboarded: its nudge is skipped by `unless`.
  await db.sql`insert into nudge_engine.contacts (email, attributes)
               values ('c@example.com', '{"onboarded": true}')`;
  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-backtest-'));
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  await writeFile(
    path.join(cwd, 'nudge.yaml'),
    'contacts: { attributes: { onboarded: boolean } }\nengine: { retention: { ingest_log: 30d } }\n',
  );
  await writeFile(path.join(cwd, 'nudge/features/drip.yaml'), DRIP);
});

afterAll(async () => {
  await server?.close();
});

async function snapshot() {
  const [counts] = await db.sql`
    select (select count(*)::int from nudge_engine.journeys) as journeys,
           (select count(*)::int from nudge_engine.decisions) as decisions,
           (select count(*)::int from nudge_engine.action_runs) as actions,
           (select count(*)::int from nudge_engine.contacts) as contacts,
           (select count(*)::int from nudge_engine.inbox) as inbox,
           (select md5(string_agg(a::text, ',' order by id)) from public.accounts a) as accounts`;
  return counts;
}

function expectTheReport(report: BacktestReport) {
  expect(report.feature).toBe('drip');
  expect(report.status).toBe('draft');
  // The window before the oldest kept event of accounts (40 days ago is outside it,
  // so kept history starts at the window's start): everything is kept events...
  expect(report.sources.map((s) => [s.table, s.source])).toEqual([
    ['public.accounts', 'kept events'],
  ]);
}

describe('nudge backtest', () => {
  it('rebuilds the older part from rows, replays kept events, and elapses waits and cooldowns in simulated time', async () => {
    // Only the two newer accounts were kept; the window starts before them.
    await db.sql`delete from nudge_engine.inbox where source_key = 'k0'`;
    const before = await snapshot();
    const out = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
    expect(await backtest(['drip'], { since: '30d', json: true }, out.io)).toBe(0);
    const report = JSON.parse(out.stdout()) as BacktestReport;

    expect(report.status).toBe('draft');
    expect(report.sources.map((s) => [s.table, s.source, s.column ?? null])).toEqual([
      ['public.accounts', 'rows', 'created_at'],
      ['public.accounts', 'kept events', null],
    ]);
    // Rows: a, b (banned), c, a again; kept: d, e.
    expect(report.events).toEqual({
      read: 6,
      matched: 5,
      notTrigger: 0,
      bySource: {
        rows: { read: 4, matched: 3, entered: 2 },
        'kept events': { read: 2, matched: 2, entered: 2 },
      },
    });
    expect(report.contacts).toEqual({ entered: 4, entries: 4 });
    // a, c and d waited 2 days then 5: done; e entered a day ago and still waits.
    expect(report.stages).toEqual([
      { stage: 'welcomed', reached: 4 },
      { stage: 'nudged', reached: 3 },
      { stage: 'done', reached: 3 },
    ]);
    expect(report.journeys).toEqual({ completed: 3, exited: 0, waiting: { welcomed: 1 } });
    expect(report.actions).toEqual({
      email: { welcome: 4, 'day-two': 2 },
      webhook: { 'http://hooks.example/done': 3 },
    });
    expect(report.skips).toEqual({
      'condition false': 1,
      cooldown: 1,
      'stage nudged: if/unless false': 1,
    });
    const a = report.samples.find((s) => s.contact === 'a@example.com')!;
    const at = (outcome: string, reason: string) =>
      a.timeline.find((t) => t.outcome === outcome && t.reason.startsWith(reason))?.at;
    expect(at('entered', 'entered')).toBe(daysAgo(29).toISOString());
    expect(at('advanced', 'stage nudged (after)')).toBe(daysAgo(27).toISOString());
    expect(at('completed', 'completed')).toBe(daysAgo(22).toISOString());
    expect(at('skipped', 'cooldown until')).toBe(daysAgo(15).toISOString());
    expect(report.samples.map((s) => s.contact)).toEqual([
      'a@example.com',
      'c@example.com',
      'd@example.com',
      'e@example.com',
    ]);
    expect(report.simplifications.join('\n')).toMatch(
      /the feature is draft: the backtest runs it as if active/,
    );
    expect(report.simplifications.join('\n')).toMatch(/contact\.\* read today’s attributes/);

    expect(await snapshot()).toEqual(before);
  });

  it('takes kept events alone once they cover the window, and prints a readable report', async () => {
    await insertInbox(db.sql, [
      {
        source: 'outbox',
        sourceKey: 'k-old',
        schema: 'public',
        table: 'accounts',
        operation: 'insert',
        newRow: { id: 0, email: 'old@example.com', plan: 'pro' },
        occurredAt: daysAgo(40),
      },
    ]);
    await db.sql`update nudge_engine.inbox set processed_at = occurred_at, received_at = occurred_at`;
    const json = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
    await backtest(['drip'], { from: '30d', to: '0s', json: true }, json.io);
    const report = JSON.parse(json.stdout()) as BacktestReport;
    expectTheReport(report);
    expect(report.events.read).toBe(2);

    const text = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
    await backtest(['drip'], { since: '30d' }, text.io);
    expect(text.stdout()).toContain('public.accounts: kept events from');
    expect(text.stdout()).toContain('Events read: 2, matched: 2');
    expect(text.stdout()).toContain('  email welcome: 2');
    expect(text.stdout()).toContain('Simplifications:');
  });

  it('counts the window back from real time when the engine clock is moved ahead', async () => {
    // nudge dev moves it; events are dated in real time, as logs --since counts.
    await advanceStoreClock(db.sql, 14 * 86_400_000);
    try {
      const json = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
      await backtest(['drip'], { since: '30d', json: true }, json.io);
      const report = JSON.parse(json.stdout()) as BacktestReport;
      expect(report.events.read).toBe(2);
      // It ends at the engine's now: waits run as far as the engine's did.
      const end = new Date(report.window.to).getTime();
      expect(end).toBeGreaterThan(Date.now() + 13 * 86_400_000);
      expect(new Date(report.window.from).getTime()).toBeLessThan(Date.now() - 29 * 86_400_000);
    } finally {
      await db.sql`update nudge_engine.clock set offset_ms = 0`;
    }
  });

  it('names a bad window flag', async () => {
    await expect(
      backtest(
        ['drip'],
        { from: 'yesterday' },
        memoryIo({ cwd, env: { DATABASE_URL: db.url } }).io,
      ),
    ).rejects.toThrow(/--from "yesterday" is not a time/);
  });

  it('refuses a window that would be empty as a usage error, before reading anything', async () => {
    // The database cannot be reached: a command that read anything would fail otherwise.
    const unreachable = { DATABASE_URL: 'postgres://nobody:nothing@127.0.0.1:9/none' };
    const cases: [string[], RegExp][] = [
      [['--since', '2099-01-01'], /--since "2099-01-01" is not in the past/],
      [['--from', '2099-01-01'], /--from "2099-01-01" is not in the past/],
      [['--from', '1d', '--to', '2d'], /--from "1d" is not before --to "2d"/],
      [['--from', '3d', '--to', '3d'], /--from "3d" is not before --to "3d"/],
    ];
    for (const [flags, message] of cases) {
      const io = memoryIo({ cwd, env: unreachable });
      expect(
        await run(['-c', path.join(cwd, 'nudge.yaml'), 'backtest', 'drip', ...flags], io.io),
        flags.join(' '),
      ).toBe(2);
      expect(io.stderr()).toMatch(message);
    }
  });

  it('POST /v1/features/backtest answers the same report', async () => {
    const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
    server = await startTestServer(db.sql, project);
    const key = (await createApiKey(db.sql, 'backtester', 'write')).key;
    const post = (body: unknown) =>
      fetch(`${server!.url}/v1/features/backtest`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const response = await post({ feature: 'drip', from: '30d', to: '0s' });
    expect(response.status).toBe(200);
    const report = (await response.json()) as BacktestReport;
    expectTheReport(report);
    expect(report.events.read).toBe(2);
    expect(report.actions.email).toEqual({ welcome: 2, 'day-two': 1 });

    // A typo is named with the feature it likely is, as /v1/features/:name names it.
    const missing = await post({ feature: 'dirp' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      error: 'feature_not_found',
      detail: expect.stringMatching(
        /^feature: no feature named "dirp" in nudge\/features \(did you mean "drip"\?\) \(features: drip\b/,
      ),
    });
    const bad = await post({ feature: 'drip', since: 'soon' });
    expect(bad.status).toBe(422);
    expect(await bad.json()).toEqual({
      error: 'invalid_backtest',
      detail: 'since "soon" is not a time',
    });
    // A mistyped unit names the duration meant, as a duration flag does.
    expect(
      ((await (await post({ feature: 'drip', since: '2dd' })).json()) as { detail: string }).detail,
    ).toBe('since "2dd" is not a time (did you mean "2d"?)');
    // A window that would be empty, named by the field that makes it so.
    const future = await post({ feature: 'drip', since: '2099-01-01' });
    expect(future.status).toBe(422);
    expect(((await future.json()) as { detail: string }).detail).toBe(
      'since "2099-01-01" is not in the past: the window, which ends now, would be empty',
    );
    const reversed = await post({ feature: 'drip', from: '1d', to: '2d' });
    expect(reversed.status).toBe(422);
    expect(((await reversed.json()) as { detail: string }).detail).toBe(
      'from "1d" is not before to "2d": the window would be empty',
    );
    const both = await post({ feature: 'drip', since: '7d', to: '1d' });
    expect(both.status).toBe(422);
    expect(((await both.json()) as { detail: string }).detail).toBe(
      'since and from/to do not go together',
    );
  });
});
