// The engine's clock. Journeys, waits, cooldowns and scheduled features read
// time only through a Clock, so tests and `nudge dev` can move time forward:
// the store keeps an offset that every process adds to real time.
import type postgres from 'postgres';

export interface Clock {
  now(): Date;
}

/** A clock that a test moves by hand. */
export function manualClock(start = new Date('2026-01-01T00:00:00Z')) {
  let current = start.getTime();
  return {
    now: () => new Date(current),
    advance(ms: number) {
      current += ms;
    },
    set(date: Date) {
      current = date.getTime();
    },
  };
}

/** Real time plus the offset in nudge_engine.clock, re-read every `refreshMs`. */
export async function storeClock(
  sql: postgres.Sql,
  refreshMs = 1000,
): Promise<Clock & { refresh(): Promise<void> }> {
  let offset = 0;
  let readAt = 0;
  const refresh = async () => {
    const [row] = await sql<{ offset_ms: string }[]>`select offset_ms from nudge_engine.clock`;
    offset = Number(row?.offset_ms ?? 0);
    readAt = Date.now();
  };
  await refresh();
  return {
    now() {
      if (Date.now() - readAt > refreshMs) void refresh().catch(() => {});
      return new Date(Date.now() + offset);
    },
    refresh,
  };
}

/** Moves the store's clock forward (nudge dev, tests of a running engine). */
export async function advanceStoreClock(sql: postgres.Sql, ms: number): Promise<void> {
  await sql`update nudge_engine.clock set offset_ms = offset_ms + ${ms}`;
}
