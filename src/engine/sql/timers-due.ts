// Whether any journey's wait is over at `now`: a cheap look, outside any
// transaction, before the timers loop opens one to claim.
import type postgres from 'postgres';

export async function timersDue(engine: postgres.Sql, now: Date): Promise<boolean> {
  const [row] = await engine<{ due: boolean }[]>`
    select exists (select 1 from nudge_engine.journeys
                    where status = 'active' and wake_at <= ${now}) as due`;
  return row?.due === true;
}
