// The engine's clock. Journeys, waits, cooldowns and scheduled features read
// time only through a Clock, so tests and `nudge dev` can move time forward:
// the store keeps an offset that every process adds to real time.
import type postgres from 'postgres';
import { LONGEST_DURATION, LONGEST_DURATION_MS } from '../../config/duration-text.js';
import { clockOffsetInWords, durationInWords } from '../../config/duration-words.js';
import { NudgeError } from '../../errors.js';

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

/**
 * The engine clock's now inside a statement: the database's now() plus the
 * offset in nudge_engine.clock (what storeClock reads), for queries over
 * times the engine stamped.
 */
export const engineNowSql = (sql: postgres.Sql) =>
  sql`(now() + coalesce((select offset_ms from nudge_engine.clock), 0) * interval '1 millisecond')`;

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

/**
 * Moves the store's clock forward (nudge clock, nudge dev, POST
 * /v1/clock/advance), never past 36500d ahead of real time in all: each
 * move is bounded by its caller, and so is their sum, in one statement
 * (`advance 1000000d` once moved the engine to the year 4764).
 */
export async function advanceStoreClock(sql: postgres.Sql, ms: number): Promise<void> {
  const moved = await sql`
    update nudge_engine.clock set offset_ms = offset_ms + ${ms}
     where offset_ms + ${ms} <= ${LONGEST_DURATION_MS} returning 1`;
  if (moved.length) return;
  const [row] = await sql<{ offset_ms: string }[]>`select offset_ms from nudge_engine.clock`;
  if (row) throw new ClockTooFarError(Number(row.offset_ms), ms);
}

/**
 * Puts the store's clock back on real time (nudge clock reset, POST
 * /v1/clock/reset). What was done while it was ahead stays done.
 */
export async function resetStoreClock(sql: postgres.Sql): Promise<void> {
  await sql`update nudge_engine.clock set offset_ms = 0`;
}

/** A move that would put the engine clock past 36500d ahead: the CLI's ✗, the API's 422. */
export class ClockTooFarError extends NudgeError {
  override name = 'ClockTooFarError';
  constructor(offset: number, ms: number) {
    super(
      `the engine clock is ${clockOffsetInWords(offset)}; moving it ${durationInWords(ms)} more would put it past ${LONGEST_DURATION} ahead`,
      'nudge clock reset goes back to real time',
    );
  }
}
