// Values that are a span or a time — the commands' logs --since, clock
// advance, sync --since, backtest --since/--from/--to, and the API's backtest
// since/from/to — checked and read one way, the error naming the flag or the
// field: a duration of at most 36500d, said in the API's words ("expected at
// most 36500d"), or an ISO time the calendar has (2020-02-30 is refused, as
// the API refuses it, not read as March 1). A bad one is a usage error (exit
// 2, as commander's own refusals of a value are; a 422 from the API). The
// API's other times (an event's occurred_at, the logs' from and to) are read
// by readIsoTime too.
import { readTime, type TimeFault } from '../conditions/time.js';
import { UsageError } from '../errors.js';
import { didYouMeanDuration, durationProblem, parseDuration } from './duration-text.js';

/** `--since 7d` → ms; a UsageError naming `flag` when it is no duration or past 36500d. */
export function durationOption(flag: string, text: string, hint?: string): number {
  const problem = durationProblem(text);
  if (problem) throw new UsageError(`${flag} ${text}: ${problem}`, hint);
  return parseDuration(text) ?? 0;
}

const TIME_HINT =
  'give an ISO time such as 2024-01-01 or 2024-01-01T12:00:00Z, or a duration back from now such as 7d or 12h';

/**
 * A time given as a duration back from `now` (bounded as durationOption) or
 * an ISO 8601 time (readIsoTime) of year 1 or later (PostgreSQL has no year
 * 0); a UsageError naming `flag` otherwise, with what is wrong with a time
 * of the right shape.
 */
export function timeOption(flag: string, text: string, now: Date): Date {
  const trimmed = text.trim();
  if (parseDuration(trimmed) !== undefined) {
    return new Date(now.getTime() - durationOption(flag, trimmed, TIME_HINT));
  }
  const time = readIsoTime(trimmed);
  if (time instanceof Date && time.getUTCFullYear() >= 1) return time;
  const why = typeof time === 'string' ? ` (${time})` : '';
  throw new UsageError(
    `${flag} ${JSON.stringify(text)} is not a time${why}${didYouMeanDuration(trimmed)}`,
    TIME_HINT,
  );
}

const FAULTS: Record<TimeFault['fault'], (written: string) => string> = {
  date: (date) => `the calendar has no ${date}`,
  'time of day': (time) => `a day has no ${time}`,
  offset: (offset) => `no time zone is ${offset} from UTC (offsets go from -23:59 to +23:59)`,
};

/**
 * An ISO 8601 time as the API and the commands take one: a date
 * (2024-01-31), or a date and a time of day with an offset or none (read as
 * UTC), a four-digit year — as a Date. A time of that shape that is none
 * gives what is wrong with it, in the words both refuse it with: `the
 * calendar has no 2025-02-30` (JavaScript would read March 2; PostgreSQL has
 * no year 0), `a day has no 24:00`, `no time zone is +25:00 from UTC …`.
 * Anything else gives undefined.
 */
export function readIsoTime(text: string): Date | string | undefined {
  // Digits past the microsecond (.NET writes seven) are dropped, as Date drops those past the millisecond.
  const time = readTime(text.replace(/(\.\d{6})\d+/, '$1'), true);
  if (time === undefined) return undefined;
  if ('fault' in time) return FAULTS[time.fault](time.written);
  if (text.startsWith('0000')) return FAULTS.date(text.slice(0, 10));
  // Milliseconds rounded down, as Date.parse rounds them, before 1970 too.
  const millis = time.micros / 1000n - (time.micros % 1000n < 0n ? 1n : 0n);
  return new Date(Number(millis));
}
