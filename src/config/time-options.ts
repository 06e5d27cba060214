// Values that are a span or a time — the commands' logs --since, clock
// advance, sync --since, backtest --since/--from/--to, and the API's backtest
// since/from/to — checked and read one way, the error naming the flag or the
// field: a duration of at most 36500d, said in the API's words ("expected at
// most 36500d"), or an ISO time the calendar has (2020-02-30 is refused, as
// the API refuses it, not read as March 1). A bad one is a usage error (exit
// 2, as commander's own refusals of a value are; a 422 from the API).
import { parseTime, yearOf } from '../conditions/time.js';
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
 * an ISO 8601 time whose date the calendar has, year 1 or later (PostgreSQL
 * has no year 0), read as UTC when it has no offset; a UsageError naming
 * `flag` otherwise.
 */
export function timeOption(flag: string, text: string, now: Date): Date {
  const trimmed = text.trim();
  if (parseDuration(trimmed) !== undefined) {
    return new Date(now.getTime() - durationOption(flag, trimmed, TIME_HINT));
  }
  const time = isoTime(trimmed);
  if (time !== undefined) return new Date(Number(time / 1000n));
  // With what is wrong with a date the calendar lacks.
  const date = /^\d{4}-\d{2}-\d{2}/.exec(trimmed)?.[0];
  const why = date && isoTime(date) === undefined ? ` (the calendar has no ${date})` : '';
  throw new UsageError(
    `${flag} ${JSON.stringify(text)} is not a time${why}${didYouMeanDuration(trimmed)}`,
    TIME_HINT,
  );
}

/** Microseconds since 1970 of an ISO time of year 1 or later. */
function isoTime(text: string): bigint | undefined {
  const time = parseTime(text, true);
  return time !== undefined && yearOf(time.micros) >= 1 ? time.micros : undefined;
}
