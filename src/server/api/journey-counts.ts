// Journey counts per feature for the Features pages, read from
// nudge_engine.journey_counts, which statement triggers on journeys keep
// (migration 010): journeys now in each stage, and journeys whose latest
// entry, completion or exit lies in the window — to the hour for the last two
// days, to the (UTC) day before that. Reading sums a few rows per feature
// and bucket; once FOLD_AT rows repeat a bucket, the reader folds them back
// into one row per fact and bucket.
import type postgres from 'postgres';
import type { FeatureSummary } from '../../client/dashboard.js';
import { storeClock } from '../../engine/wiring/clock.js';

export type Counts = Map<string, FeatureSummary['counts']>;

/** Rows that repeat a (feature, fact, bucket) before a read folds them. */
const FOLD_AT = 2000;

export async function journeyCounts(
  sql: postgres.Sql,
  windowMs: number | undefined,
  feature?: string,
): Promise<Counts> {
  // Journeys end at the engine clock's time (nudge clock moves it): the window counts back from it.
  const since =
    windowMs === undefined ? null : new Date((await storeClock(sql)).now().getTime() - windowMs);
  const rows = await sql<
    { feature: string; kind: string; stage: string | null; n: string; appended: number }[]
  >`
    select feature, kind, stage,
           coalesce(sum(n) filter (where kind = 'stage' or ${since}::timestamptz is null
                                      or ends > ${since}::timestamptz), 0)::text as n,
           (count(*) - count(distinct coalesce(ends, '-infinity')))::int as appended
      from nudge_engine.journey_counts
     where ${feature === undefined ? sql`true` : sql`feature = ${feature}`}
     group by 1, 2, 3`;
  const counts: Counts = new Map();
  let appended = 0;
  for (const row of rows) {
    appended += row.appended;
    let entry = counts.get(row.feature);
    if (!entry) {
      entry = { entered: 0, completed: 0, exited: 0, stages: {} };
      counts.set(row.feature, entry);
    }
    const n = Number(row.n);
    if (row.kind === 'stage') {
      if (row.stage && n !== 0) entry.stages[row.stage] = n;
    } else if (row.kind === 'entered' || row.kind === 'completed' || row.kind === 'exited') {
      entry[row.kind] += n;
    }
  }
  if (appended > FOLD_AT) await foldJourneyCounts(sql);
  return counts;
}

/**
 * One row per fact: the appended +1/-1 rows summed, hour buckets older than
 * two days merged into their day. Safe beside writers (they only append, and
 * rows they add meanwhile are not in this statement's snapshot) and beside
 * another fold (a row both would move is moved by the first; the second
 * skips it).
 */
export async function foldJourneyCounts(sql: postgres.Sql): Promise<void> {
  await sql`
    with moved as (delete from nudge_engine.journey_counts returning *)
    insert into nudge_engine.journey_counts (feature, kind, stage, ends, n)
    select feature, kind, stage,
           case when ends < now() - interval '2 days'
                then to_timestamp(ceil(extract(epoch from ends) / 86400) * 86400) else ends end,
           sum(n)
      from moved
     group by 1, 2, 3, 4
    having sum(n) <> 0`;
}
