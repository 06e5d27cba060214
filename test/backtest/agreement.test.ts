// The backtest agrees with the engine: the same feature and the same events,
// run once by the engine (capture, lanes, timers on a manual clock) and once
// by the backtest over the inbox rows the engine kept, dated at the engine's
// clock, give the same entries, stages, actions and skips.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runBacktest } from '../../src/backtest/index.js';
import { skipKind } from '../../src/backtest/report.js';
import { loadConfig } from '../../src/config/load.js';
import { decisionLines } from '../../src/engine/lanes/decision-log.js';
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
  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-agreement-'));
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  await writeFile(path.join(cwd, 'nudge.yaml'), '');
  await writeFile(path.join(cwd, 'nudge/features/drip.yaml'), DRIP);
});

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
