// The backtest agrees with the engine: the same feature and the same events,
// run once by the engine (capture, lanes, timers on a manual clock) and once
// by the backtest over the inbox rows the engine kept, dated at the engine's
// clock, give the same entries, stages, actions and skips — and, event by
// event, the same decisions under every rule of the matcher (match/rules.ts).
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readHistory } from '../../src/backtest/history.js';
import { runBacktest } from '../../src/backtest/index.js';
import { skipKind } from '../../src/backtest/report.js';
import { simulate } from '../../src/backtest/simulate.js';
import { loadConfig } from '../../src/config/load.js';
import { resolveContact } from '../../src/contacts/store.js';
import type { Decision } from '../../src/engine/journeys/machine.js';
import { decisionLines } from '../../src/engine/lanes/decision-log.js';
import { FeatureSet } from '../../src/engine/match/features.js';
import { loadFeatures } from '../../src/features/load.js';
import { readCatalog } from '../../src/source/catalog.js';
import { testEngine } from '../engine/harness.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const DRIP = `name: drip
trigger: { table: public.signups, on: insert, when: { new.plan: neq.banned } }
contact: { email: new.email }
cooldown: 5d
stages:
  - name: welcomed
    do: [{ email: { template: welcome } }]
  - name: nudged
    after: 2d
    if: { new.plan: eq.pro }
    do: [{ webhook: { url: "http://hooks.example/nudged" } }]
  - name: rewarded
    after: 1d
    do: [{ email: { template: reward } }]
`;

let cwd: string;
beforeAll(async () => {
  await db.sql`create table public.signups (id bigint primary key, email text not null, plan text not null)`;
  await db.sql`create table public.visits (id bigint primary key, email text, kind text not null)`;
  await db.sql`create table public.referrals (id bigint primary key, email text not null, referrer text not null)`;
  cwd = await projectDir('', { 'drip.yaml': DRIP });
});

/** A project folder: nudge.yaml and these feature files. */
async function projectDir(config: string, features: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nudge-agreement-'));
  await mkdir(path.join(dir, 'nudge/features'), { recursive: true });
  await writeFile(path.join(dir, 'nudge.yaml'), config);
  for (const [file, text] of Object.entries(features)) {
    await writeFile(path.join(dir, 'nudge/features', file), text);
  }
  return dir;
}

describe('backtest and engine', () => {
  it('decide the same for the same events', async () => {
    const engine = await testEngine(db, { 'drip.yaml': DRIP });
    const start = engine.clock.now().getTime();
    const plans = ['pro', 'free', 'banned', 'pro', 'free'];
    let id = 0;
    /** Inserts rows for these users at the engine's clock now, processes them, and dates their events then. */
    const signUp = async (users: number[]) => {
      const at = engine.clock.now();
      const first = id + 1;
      for (const user of users) {
        id++;
        await db.sql`insert into public.signups values (${id}, ${`u${user}@example.com`}, ${plans[user % plans.length]!})`;
      }
      await engine.settle();
      await db.sql`update nudge_engine.inbox set occurred_at = ${at}, received_at = ${at}
                    where table_name = 'signups' and (new_row ->> 'id')::int between ${first} and ${id}`;
    };
    // An hour at a time: every wait here ends on the hour, so each timer
    // fires at its wake_at, as in a running engine (and in the backtest).
    const advance = async (ms: number) => {
      for (let left = ms; left > 0; left -= HOUR) {
        engine.clock.advance(HOUR);
        await engine.settle();
      }
    };
    // Day 0: twenty sign up. Day 1: ten of them again (still in the journey).
    // Day 3 + 1 h: five again (journeys over, within the 5-day cooldown).
    // Day 5 + 2 h: three again (cooldown over: they enter).
    await signUp([...Array(20).keys()]);
    await advance(DAY);
    await signUp([...Array(10).keys()]);
    await advance(2 * DAY + HOUR);
    await signUp([...Array(5).keys()]);
    await advance(2 * DAY + HOUR);
    await signUp([0, 1, 3]);
    await advance(4 * DAY);

    // What the engine decided.
    const decided = (
      await db.sql<{ feature: string | null; outcome: string; reason: string; detail: unknown }[]>`
      select feature, outcome, reason, detail from nudge_engine.decisions order by id`
    ).flatMap((d) => decisionLines(d, 'drip'));
    const count = (pick: (d: (typeof decided)[number]) => string | undefined) => {
      const counts: Record<string, number> = {};
      for (const d of decided) {
        const key = pick(d);
        if (key !== undefined) counts[key] = (counts[key] ?? 0) + 1;
      }
      return counts;
    };
    const actions: Record<string, Record<string, number>> = {};
    for (const run of engine.queued) {
      const target =
        run.action.kind === 'email'
          ? run.action.params.template
          : run.action.kind === 'webhook'
            ? run.action.params.url
            : run.action.kind;
      actions[run.action.kind] ??= {};
      actions[run.action.kind]![target] = (actions[run.action.kind]![target] ?? 0) + 1;
    }

    // The backtest over what the engine kept.
    const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
    const features = await loadFeatures(project.featuresDir, project.env, project.cwd);
    const report = await runBacktest({
      project,
      features,
      feature: features[0]!,
      engine: db.sql,
      source: db.sql,
      catalog: await readCatalog(db.sql),
      from: new Date(start),
      to: engine.clock.now(),
    });

    const entered = count((d) => (d.outcome === 'entered' ? 'entered' : undefined)).entered;
    expect(entered).toBe(19);
    expect(report.contacts.entries).toBe(entered);
    // 38 rows, 7 of them banned: the trigger's condition filters them at capture.
    expect(report.events.read).toBe(31);
    expect(report.events.matched).toBe(count((d) => (d.outcome === 'matched' ? 'm' : undefined)).m);
    const stages = count((d) =>
      d.outcome === 'advanced' ? /^stage (\S+)/.exec(d.reason)?.[1] : undefined,
    );
    expect(Object.fromEntries(report.stages.map((s) => [s.stage, s.reached]))).toEqual(stages);
    expect(report.actions).toEqual(actions);
    expect(report.skips).toEqual(
      count((d) => (d.outcome === 'skipped' ? skipKind(d.reason) : undefined)),
    );
    // The counts above, seen: each kind of skip happened.
    expect(report.skips).toEqual({
      'already in the journey': 8,
      cooldown: 4,
      'stage nudged: if/unless false': 9,
    });
    const [final] = await db.sql<{ completed: number; exited: number; active: number }[]>`
      select count(*) filter (where status = 'completed')::int as completed,
             count(*) filter (where status = 'exited')::int as exited,
             count(*) filter (where status = 'active')::int as active
        from nudge_engine.journeys where feature = 'drip'`;
    expect(report.journeys).toEqual({ completed: final!.completed, exited: 0, waiting: {} });
    expect(final).toEqual({ completed: 16, exited: 0, active: 0 });
  });
});

// Features on one table, between them every rule of the matcher: `gate` has a
// condition that reads no contact, `vip` one that reads it, `beat` no contact
// mapping, `held` is gate paused (the backtest runs it as if active).
const VISITS_CONFIG = 'contacts:\n  attributes:\n    plan: text\n';
const GATE = `name: gate
trigger: { table: public.visits, on: insert, when: { new.kind: neq.bot } }
contact: { email: new.email }
stages:
  - name: greeted
    do: [{ email: { template: hello } }]
`;
const VISITS = {
  'gate.yaml': GATE,
  'held.yaml': GATE.replace('name: gate', 'name: held\nstatus: paused'),
  'vip.yaml': GATE.replace('name: gate', 'name: vip').replace(
    '{ new.kind: neq.bot }',
    '{ contact.plan: eq.pro }',
  ),
  'beat.yaml': `name: beat
trigger: { table: public.visits, on: insert, when: { new.kind: neq.bot } }
stages:
  - name: counted
    do: [{ webhook: { url: "http://hooks.example/beat" } }]
`,
};

interface Line {
  inbox: number | null;
  feature: string | null;
  contact: string | null;
  outcome: string;
  reason: string;
}
/** Decisions in the order of their events (events of different contacts may be stepped in any order). */
const byEvent = (lines: Line[]) =>
  lines
    .map((line, i) => ({ line, i }))
    .sort((a, b) => (a.line.inbox ?? 0) - (b.line.inbox ?? 0) || a.i - b.i)
    .map((x) => x.line);

describe('backtest and engine, rule by rule', () => {
  it('give the same decision for each event: paused, condition false before and with the contact, no contact, matched', async () => {
    const engine = await testEngine(db, VISITS, { config: VISITS_CONFIG });
    const start = engine.clock.now();
    // Ann is pro and Cy free in the contact book; Bob is new (his plan unknown).
    for (const [email, plan] of [
      ['ann@example.com', 'pro'],
      ['cy@example.com', 'free'],
    ]) {
      const { id } = await resolveContact(db.sql, { email });
      await db.sql`update nudge_engine.contacts set attributes = ${db.sql.json({ plan })} where id = ${id}`;
    }
    const visits: [string | null, string][] = [
      ['ann@example.com', 'human'],
      ['bob@example.com', 'human'],
      ['cy@example.com', 'human'],
      ['ann@example.com', 'bot'],
      [null, 'human'],
      [null, 'bot'],
      ['Ann@Example.com', 'human'],
      ['cy@example.com', 'bot'],
    ];
    for (const [i, [email, kind]] of visits.entries()) {
      await db.sql`insert into public.visits values (${i + 1}, ${email}, ${kind})`;
    }
    await engine.settle();
    await db.sql`update nudge_engine.inbox set occurred_at = ${start}, received_at = ${start}
                  where table_name = 'visits'`;

    const decided = await engineDecisions();

    // The engine met every rule: the matcher's decision for each visit, and
    // whether it names a contact (a condition on the contact is asked after
    // the contact is found, one on the row before).
    const matcher = (feature: string) =>
      decided(feature)
        .filter((d) => d.outcome === 'skipped' || d.outcome === 'matched')
        .map((d) => [d.contact !== null, d.reason]);
    const named = (reason: string) => [true, reason];
    const unnamed = (reason: string) => [false, reason];
    const matched = named('trigger matched');
    const bot = unnamed('trigger condition false: new.kind neq.bot was false (value "bot")');
    const noContact = unnamed('no contact: the row has no value for the contact mapping');
    const free = named('trigger condition false: contact.plan eq.pro was false (value "free")');
    const unknown = named('trigger condition false: contact.plan eq.pro was unknown (value null)');
    const beat = unnamed('trigger matched (no contact)');
    expect(matcher('gate')).toEqual([matched, matched, matched, bot, noContact, bot, matched, bot]);
    expect(matcher('vip')).toEqual([
      matched,
      unknown,
      free,
      matched,
      noContact,
      noContact,
      matched,
      free,
    ]);
    expect(matcher('beat')).toEqual([beat, beat, beat, bot, beat, bot, beat, bot]);
    // A paused feature's skip carries the contact when the book has one (engine/lanes/event.ts).
    expect(matcher('held')).toEqual(visits.map(([email]) => [email !== null, 'paused']));

    // The backtest's decisions for one feature, over what the engine kept.
    const backtested = (name: string) =>
      backtestDecisions(VISITS_CONFIG, VISITS, name, start, new Date(start.getTime() + HOUR));

    for (const name of ['gate', 'vip', 'beat']) {
      expect(await backtested(name), name).toEqual(decided(name));
    }
    // Paused: the engine skips every event; the backtest runs it as gate runs.
    expect(new Set(decided('held').map((d) => d.reason))).toEqual(new Set(['paused']));
    expect((await backtested('held')).map((d) => ({ ...d, feature: 'gate' }))).toEqual(
      decided('gate'),
    );
  });
});

// A feature that waits on events is a candidate of an event too: its waiting
// journeys are stepped by events it is not a candidate of (lanes/event.ts),
// never by one it is, even for contacts another feature of the event names.
const REFERRALS = {
  'waiter.yaml': `name: waiter
trigger: { table: public.referrals, on: insert }
contact: { email: new.email }
stages:
  - name: joined
    next: [{ to: thanked, when: { new.id: gt.1 } }]
  - name: thanked
    do: [{ webhook: { url: "http://hooks.example/thanked" } }]
`,
  'referrer.yaml': `name: referrer
trigger: { table: public.referrals, on: insert }
contact: { email: new.referrer }
stages:
  - name: credited
    do: [{ webhook: { url: "http://hooks.example/credited" } }]
`,
};

describe('backtest and engine, a feature that waits on events', () => {
  it('leave its waiting journeys alone on an event it is a candidate of, whoever else the event names', async () => {
    const engine = await testEngine(db, REFERRALS);
    const start = engine.clock.now();
    // Ann joins, referred by Bob; then Bob joins, referred by Ann: the second
    // event names Ann (for referrer), whose waiter journey waits in joined.
    await db.sql`insert into public.referrals values (1, 'ann@example.com', 'bob@example.com')`;
    await engine.settle();
    await db.sql`insert into public.referrals values (2, 'bob@example.com', 'ann@example.com')`;
    await engine.settle();
    await db.sql`update nudge_engine.inbox set occurred_at = ${start}, received_at = ${start}
                  where table_name = 'referrals'`;
    const decided = (await engineDecisions())('waiter');
    const [ann] = await db.sql<{ id: string }[]>`
      select id::text from nudge_engine.contacts where email = 'ann@example.com'`;
    // The engine: both joined, and Ann's journey stays there: the second
    // event is waiter's own, so it steps no waiting journey of waiter.
    expect(decided.filter((d) => d.reason === 'stage joined').map((d) => d.contact)).toHaveLength(
      2,
    );
    expect(decided.some((d) => d.contact === ann!.id && d.reason === 'stage joined')).toBe(true);
    expect(decided.filter((d) => /thanked/.test(d.reason))).toEqual([]);
    const backtested = await backtestDecisions(
      '',
      REFERRALS,
      'waiter',
      start,
      new Date(start.getTime() + HOUR),
    );
    expect(backtested).toEqual(decided);
  });
});

/** The engine's decisions so far, one feature's at a time, in the order of their events. */
async function engineDecisions(): Promise<(feature: string) => Line[]> {
  const stored = await db.sql<
    {
      inbox_id: number | null;
      feature: string | null;
      contact_id: string | null;
      outcome: string;
      reason: string;
      detail: unknown;
    }[]
  >`select inbox_id::int, feature, contact_id::text, outcome, reason, detail
      from nudge_engine.decisions order by id`;
  return (feature) =>
    byEvent(
      stored
        .flatMap((d) => decisionLines(d, feature))
        .filter((d) => d.feature === feature)
        .map((d) => ({
          inbox: d.inbox_id,
          feature: d.feature,
          contact: d.contact_id,
          outcome: d.outcome,
          reason: d.reason,
        })),
    );
}

/** The backtest's decisions for one feature of these, over what the engine kept, as runBacktest sets it up. */
async function backtestDecisions(
  config: string,
  files: Record<string, string>,
  name: string,
  from: Date,
  to: Date,
): Promise<Line[]> {
  const dir = await projectDir(config, files);
  const project = await loadConfig({ cwd: dir, env: { DATABASE_URL: db.url } });
  const loaded = await loadFeatures(project.featuresDir, project.env, project.cwd);
  const catalog = await readCatalog(db.sql);
  // The feature as if active, among the others.
  const own = loaded.find((f) => f.name === name)!;
  const others = loaded.filter((f) => f !== own);
  const attributes = project.config.contacts.attributes;
  const set = new FeatureSet([...others, { ...own, status: 'active' }], catalog, attributes);
  const history = await readHistory({
    engine: db.sql,
    source: db.sql,
    catalog,
    feature: own,
    from,
    to,
    allEvents: false,
  });
  const decisions: Decision[] = [];
  await simulate({
    engine: db.sql,
    features: set,
    feature: set.get(name)!,
    events: history.events,
    to,
    observer: { event() {}, decisions: (d) => decisions.push(...d), actions() {} },
  });
  return byEvent(
    decisions.map((d) => ({
      inbox: d.inboxId,
      feature: d.feature,
      contact: d.contactId,
      outcome: d.outcome,
      reason: d.reason,
    })),
  );
}
