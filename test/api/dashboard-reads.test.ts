// What the dashboard reads at volume, checked against the tables themselves:
// journey counts kept by the triggers of migration 010 (through inserts,
// moves, endings, re-entries, deletes and folds) equal a count of the
// journeys; a feature's decisions read through its (feature, outcome, id)
// index, with its share of rows of skips, equal the plain filter, page by page.
import { beforeAll, describe, expect, it } from 'vitest';
import { migrateEngine } from '../../src/db/migrate.js';
import { readDecisions } from '../../src/engine/lanes/decision-log.js';
import { advanceStoreClock } from '../../src/engine/wiring/clock.js';
import { foldJourneyCounts, journeyCounts } from '../../src/server/api/journey-counts.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();
const HOUR = 3_600_000;

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  await db.sql`
    insert into nudge_engine.contacts (email)
    select 'c' || g || '@example.com' from generate_series(1, 60) g`;
});

/** The same counts, straight from nudge_engine.journeys. */
async function counted(windowMs?: number) {
  const since = windowMs === undefined ? null : new Date(Date.now() - windowMs);
  const rows = await db.sql<
    {
      feature: string;
      entered: number;
      completed: number;
      exited: number;
      stages: Record<string, number> | null;
    }[]
  >`
    select feature,
           count(*) filter (where ${since}::timestamptz is null or entered_at >= ${since}::timestamptz)::int as entered,
           count(*) filter (where status = 'completed' and (${since}::timestamptz is null or ended_at >= ${since}::timestamptz))::int as completed,
           count(*) filter (where status = 'exited' and (${since}::timestamptz is null or ended_at >= ${since}::timestamptz))::int as exited,
           (select jsonb_object_agg(stage, n) from (
              select stage, count(*)::int as n from nudge_engine.journeys a
               where a.feature = j.feature and a.status = 'active' group by stage) s) as stages
      from nudge_engine.journeys j group by feature order by feature`;
  return Object.fromEntries(
    rows.map((r) => [
      r.feature,
      { entered: r.entered, completed: r.completed, exited: r.exited, stages: r.stages ?? {} },
    ]),
  );
}

const kept = async (windowMs?: number) =>
  Object.fromEntries(
    [...(await journeyCounts(db.sql, windowMs))].sort(([a], [b]) => a.localeCompare(b)),
  );

describe('journey counts kept by migration 010', () => {
  it('follow inserts, moves, endings, re-entries and deletes', async () => {
    // 60 contacts enter two features over the last 10 days (hours apart).
    await db.sql`
      insert into nudge_engine.journeys (feature, contact_id, status, stage, entries, entered_at, stage_entered_at)
      select f, c.id, 'active', 'welcomed', 1, now() - make_interval(hours => (row_number() over ())::int * 4),
             now() - interval '1 hour'
        from nudge_engine.contacts c cross join unnest(array['drip', 'paid']) f`;
    expect(await kept()).toEqual(await counted());
    expect((await kept()).drip?.stages).toEqual({ welcomed: 60 });

    // Some move on, some complete, some exit; a wake-up change counts nothing.
    await db.sql`update nudge_engine.journeys set stage = 'nudged' where feature = 'drip' and entered_at > now() - interval '3 days'`;
    await db.sql`update nudge_engine.journeys set status = 'completed', stage = null, ended_at = now() - interval '30 minutes'
                  where feature = 'paid' and entered_at < now() - interval '6 days'`;
    await db.sql`update nudge_engine.journeys set status = 'exited', ended_at = now() - interval '5 days'
                  where feature = 'drip' and entered_at < now() - interval '8 days'`;
    const before = await db.sql`select count(*)::int as n from nudge_engine.journey_counts`;
    await db.sql`update nudge_engine.journeys set wake_at = now() + interval '1 day' where status = 'active'`;
    expect(await db.sql`select count(*)::int as n from nudge_engine.journey_counts`).toEqual(
      before,
    );
    // A re-entry: the journey's latest entry moves to now.
    await db.sql`update nudge_engine.journeys set status = 'active', stage = 'welcomed', entries = 2,
                  entered_at = now(), ended_at = null
                  where feature = 'paid' and status = 'completed' and entered_at < now() - interval '9 days'`;
    // A deleted contact takes its journeys along (ON DELETE CASCADE).
    await db.sql`delete from nudge_engine.contacts where email = 'c7@example.com'`;
    // An upsert, as the engine writes journeys.
    await db.sql`
      insert into nudge_engine.journeys (feature, contact_id, status, stage, entries, entered_at)
      select 'drip', id, 'active', 'welcomed', 1, now() from nudge_engine.contacts where email in ('c1@example.com', 'c2@example.com')
      on conflict (feature, contact_id) do update set stage = 'done-early', status = 'completed', ended_at = now()`;

    for (const window of [undefined, 2 * HOUR, 24 * HOUR, 4 * 24 * HOUR, 7 * 24 * HOUR]) {
      const mine = await kept(window);
      const theirs = await counted(window);
      // Stages are now-counts; entered/completed/exited are exact to the bucket (an hour here).
      for (const feature of Object.keys(theirs)) {
        expect(mine[feature]?.stages, `${feature} stages`).toEqual(theirs[feature]!.stages);
        if (window === undefined) expect(mine[feature], feature).toEqual(theirs[feature]);
        else {
          for (const kind of ['entered', 'completed', 'exited'] as const) {
            const exact = await counted(window + HOUR);
            expect(mine[feature]![kind]).toBeGreaterThanOrEqual(theirs[feature]![kind]);
            expect(mine[feature]![kind]).toBeLessThanOrEqual(exact[feature]![kind]);
          }
        }
      }
    }
  });

  // Journeys end at the engine clock's time, which nudge clock moves ahead:
  // a window counts back from it, not from real time (nudge dev's demo runs
  // days ahead, and "last 24 h" showed every journey since the start).
  it('count a window back from the engine clock when nudge clock has moved it', async () => {
    const real = await kept(24 * HOUR);
    expect(Object.values(real).some((c) => c.entered + c.completed + c.exited > 0)).toBe(true);
    await advanceStoreClock(db.sql, 30 * 24 * HOUR);
    try {
      for (const counts of Object.values(await kept(24 * HOUR)))
        expect([counts.entered, counts.completed, counts.exited]).toEqual([0, 0, 0]);
      // The ones kept over all time, and the stages now, are the same.
      const all = await kept();
      for (const [feature, counts] of Object.entries(await kept(24 * HOUR)))
        expect(counts.stages).toEqual(all[feature]!.stages);
    } finally {
      await db.sql`update nudge_engine.clock set offset_ms = 0`;
    }
  });

  it('keep their sums when folded, also beside new writes', async () => {
    const all = await kept();
    await foldJourneyCounts(db.sql);
    expect(await kept()).toEqual(all);
    const [rows] = await db.sql<{ n: number; keys: number }[]>`
      select count(*)::int as n, count(distinct (feature, kind, stage, ends))::int as keys from nudge_engine.journey_counts`;
    expect(rows!.n).toBe(rows!.keys);
    await db.sql`update nudge_engine.journeys set stage = 'nudged' where feature = 'paid' and status = 'active'`;
    await foldJourneyCounts(db.sql);
    expect(await kept()).toEqual(await counted());
  });
});

describe("a feature's decisions", () => {
  beforeAll(async () => {
    // 3000 decisions: three features, outcomes by turn, rows of skips that
    // name one or two features, an outcome that one feature never has.
    await db.sql`
      insert into nudge_engine.decisions (at, feature, outcome, reason, detail)
      select now() - make_interval(secs => 3000 - g),
             case when g % 5 = 0 then null else (array['drip', 'paid', 'rare'])[1 + g % 3] end,
             case when g % 5 = 0 then 'skipped'
                  when g % 3 = 2 then (array['matched', 'entered'])[1 + g % 2]
                  else (array['matched', 'skipped', 'action', 'entered'])[1 + g % 4] end,
             'r' || g,
             case when g % 5 = 0 then jsonb_build_object('skipped',
                    case when g % 2 = 0 then '{"drip": "paused", "rare": "condition false"}'::jsonb
                         else '{"paid": "condition false"}'::jsonb end) end
        from generate_series(1, 3000) g`;
  });

  const every = async (filter: { feature: string; outcome?: string }, limit: number) => {
    const ids: number[] = [];
    let before: number | undefined;
    for (;;) {
      const rows = await readDecisions(db.sql, filter, { limit, ...(before ? { before } : {}) });
      ids.push(...rows.map((r) => r.id));
      if (rows.length < limit) return ids;
      before = rows.at(-1)!.id;
    }
  };

  it.each<[{ feature: string; outcome?: string }]>([
    [{ feature: 'drip' }],
    [{ feature: 'rare' }],
    [{ feature: 'drip', outcome: 'skipped' }],
    [{ feature: 'paid', outcome: 'matched' }],
    [{ feature: 'rare', outcome: 'action' }],
    [{ feature: 'nobody' }],
  ])('%o: the same pages as the plain filter', async (filter) => {
    const outcome = filter.outcome ?? null;
    const [row] = await db.sql<{ ids: number[] | null }[]>`
      select array_agg(id::int order by id desc) as ids from nudge_engine.decisions d
       where (d.feature = ${filter.feature} or (d.feature is null and d.detail -> 'skipped' ? ${filter.feature}))
         and (${outcome}::text is null or d.outcome = ${outcome})`;
    const expected = row?.ids ?? [];
    expect(await every(filter, 50)).toEqual(expected);
    expect(await every(filter, 7)).toEqual(expected);
    if (filter.feature === 'drip') expect(expected.length).toBeGreaterThan(100);
  });

  it('keeps a time window', async () => {
    const from = new Date(Date.now() - 2000_000);
    const to = new Date(Date.now() - 1000_000);
    const rows = await readDecisions(db.sql, { feature: 'paid', from, to }, { limit: 200 });
    expect(rows.length).toBeGreaterThan(50);
    for (const row of rows) {
      expect(row.at.getTime()).toBeGreaterThanOrEqual(from.getTime());
      expect(row.at.getTime()).toBeLessThan(to.getTime());
    }
  });
});
