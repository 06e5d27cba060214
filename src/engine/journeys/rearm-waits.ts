// Wake-ups made to fit the features as they run now (after a deploy): a
// journey waiting in a stage whose wait changed wakes at its stage's entry
// plus the new wait, not when the old file said; one waiting in a stage the
// feature no longer has wakes now, so the timers end it (journeys/machine.ts).
// Only rows whose wake_at differs are touched; rows a step holds at that
// moment are skipped, and the pass says so: a step that moves nothing writes
// no wake-up, so a later pass fits them (timers.ts). Not a hot statement
// (once per process for each compiled feature set, timers.ts), so it lives
// with the journeys rather than in ../sql/: it reads every journeys partition
// of those features, as claim-timers does.
import type postgres from 'postgres';

/** A stage of a feature as it is now, and its first wait (null: it waits on nothing). */
export interface StageWait {
  feature: string;
  stage: string;
  waitMs: number | null;
}

/**
 * Moves the wake-ups of these features' waiting journeys to fit them; resolves
 * whether every row that needed it was moved (false: a step held some and they
 * were skipped — a step that moves nothing writes no wake-up, so a later pass
 * must fit them).
 */
export async function rearmWaits(
  tx: postgres.TransactionSql,
  stages: StageWait[],
  now: Date,
): Promise<boolean> {
  const features = [...new Set(stages.map((s) => s.feature))];
  // The rows to move, as of the statement's snapshot; locked (and checked
  // again on the row's latest version) in `due`, counted unlocked in `wanted`.
  const unfit = () => tx`
      select j.feature, j.contact_id, w.wake_at
        from nudge_engine.journeys j
        left join stages s on s.feature = j.feature and s.stage = j.stage
        cross join lateral (
          select case when s.stage is null then least(coalesce(j.wake_at, ${now}), ${now})
                      else j.stage_entered_at + s.wait_ms * interval '1 millisecond' end as wake_at) w
       where j.status = 'active' and j.feature = any(${features}::text[])
         and j.stage is not null and j.stage_entered_at is not null
         and (s.stage is null or s.wait_ms is not null)
         and j.wake_at is distinct from w.wake_at`;
  const [counts] = await tx<{ wanted: number; moved: number }[]>`
    with stages as (
      select * from unnest(${stages.map((s) => s.feature)}::text[], ${stages.map((s) => s.stage)}::text[],
                           ${stages.map((s) => s.waitMs)}::float8[]) as s(feature, stage, wait_ms)
    ), wanted as (${unfit()}
    ), due as (${unfit()}
         for update of j skip locked
    ), moved as (
      update nudge_engine.journeys j set wake_at = due.wake_at
        from due
       where j.feature = due.feature and j.contact_id = due.contact_id
      returning 1
    )
    select (select count(*) from wanted)::int as wanted, (select count(*) from moved)::int as moved`;
  return counts!.moved >= counts!.wanted;
}
