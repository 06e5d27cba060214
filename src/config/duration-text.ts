// Durations as users write them — 30s, 15m, 2h, 7d, 1w — read into
// milliseconds, and the longest one the CLI and the /v1 API take. Kept apart
// from duration.ts (zod, for YAML): the CLI checks option values with this
// before any command loads, and `nudge --help` stays fast.
import { closest } from '../suggest.js';

const DURATION = /^(\d+)\s*(s|m|h|d|w)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** `2d` → milliseconds, or undefined if it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/**
 * The longest duration a command (--since, clock advance) or a query
 * parameter (?since=, ?window=) takes: 100 years, past any record's age.
 * Much further back is before the earliest date PostgreSQL has (4713 BC:
 * `logs --since 99999999d` was "timestamp out of range"), and a clock moved
 * further on has left every date a user means.
 */
export const LONGEST_DURATION = '36500d';
export const LONGEST_DURATION_MS = 36_500 * UNIT_MS.d;

/**
 * What is wrong with `text` as a duration the CLI or the API takes, in the
 * words both say it in ("since: expected at most 36500d"), with the
 * duration meant when the unit is spelled out ("2days": did you mean "2d"?);
 * undefined when nothing is.
 */
export function durationProblem(text: string): string | undefined {
  const ms = parseDuration(text);
  if (ms === undefined && isNegative(text)) return NOT_POSITIVE;
  if (ms === undefined) return `expected a duration such as 2h or 7d${didYouMeanDuration(text)}`;
  if (ms > LONGEST_DURATION_MS) return `expected at most ${LONGEST_DURATION}`;
  return undefined;
}

/** The problem durationProblem and advanceProblem name for `-1d` (and advanceProblem for `0d`). */
export const NOT_POSITIVE = 'durations are positive';

/**
 * What is wrong with `text` as how far `nudge clock advance` and POST
 * /v1/clock/advance move the engine clock: durationProblem, and more than
 * nothing (the clock only moves forward); undefined when nothing is.
 */
export function advanceProblem(text: string): string | undefined {
  return durationProblem(text) ?? (parseDuration(text) === 0 ? NOT_POSITIVE : undefined);
}

/** `-1d`: a duration with a minus sign, which no command or parameter takes. */
export function isNegative(text: string): boolean {
  const trimmed = text.trim();
  return trimmed.startsWith('-') && parseDuration(trimmed.slice(1)) !== undefined;
}

/** Units as people spell them out, to the letter a duration takes. */
const SPELLED =
  /^(\d+)\s*(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?)$/i;

/**
 * The duration `text` means when it spells its unit out (`2days`, `30 Minutes`):
 * "2d", "30m"; undefined when it is a duration already or means none.
 */
export function durationSuggestion(text: string): string | undefined {
  if (parseDuration(text) !== undefined) return undefined;
  const sum = oneUnit(text);
  if (sum !== undefined) return sum;
  const match = SPELLED.exec(text.trim());
  if (match) {
    const unit = match[2]!.toLowerCase();
    return `${Number(match[1])}${unit.startsWith('mi') || unit === 'm' ? 'm' : unit[0]}`;
  }
  // A unit mistyped (`2dd`, `3dys`, `10 mintues`): the unit's word it is a
  // typo of, or its letter written twice. Not `2 months`: no unit is near.
  const typed = /^(\d+)\s*([a-z]+)$/i.exec(text.trim());
  if (!typed) return undefined;
  const word = typed[2]!.toLowerCase();
  const doubled = /^([smhdw])\1$/.exec(word)?.[1];
  const near = doubled ?? closest(word, UNIT_WORDS)?.[0];
  return near === undefined ? undefined : `${Number(typed[1])}${near}`;
}

/**
 * `1d12h`, `1.5d`, `1h 30m`: the duration of one unit they add up to
 * ("36h", "90m"), in the largest unit that holds it whole; undefined for
 * anything else, or a sum of no whole seconds.
 */
function oneUnit(text: string): string | undefined {
  const trimmed = text.trim();
  if (!/^(\d+(\.\d+)?\s*[smhdw]\s*)+$/.test(trimmed)) return undefined;
  let sum = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)\s*([smhdw])/g)) {
    sum += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  const ms = Math.round(sum);
  if (ms === 0 || Math.abs(sum - ms) > 1e-6 || ms % 1000 !== 0) return undefined;
  const unit = (['w', 'd', 'h', 'm', 's'] as const).find((u) => ms % UNIT_MS[u] === 0)!;
  return `${ms / UNIT_MS[unit]}${unit}`;
}

/** The units' words, for closest; each one's first letter is its unit. */
const UNIT_WORDS = ['seconds', 'minutes', 'hours', 'days', 'weeks'];

/** ` (did you mean "2d"?)` for `2days`, as every duration problem ends; '' when there is none. */
export function didYouMeanDuration(text: string): string {
  const near = durationSuggestion(text);
  return near === undefined ? '' : ` (did you mean "${near}"?)`;
}
