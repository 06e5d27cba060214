// Durations as users write them in nudge.yaml and feature files: 30s, 15m, 2h, 7d, 1w.
import { z } from 'zod';
import {
  didYouMeanDuration,
  isNegative,
  LONGEST_DURATION,
  LONGEST_DURATION_MS,
  NOT_POSITIVE,
  parseDuration,
} from './duration-text.js';

// Read from text, with the CLI's and the API's bound (durationProblem): a zod-free file.
export { parseDuration } from './duration-text.js';
// In words, as the CLI prints them: its own zod-free file, which the dashboard imports too.
export { durationInWords } from './duration-words.js';

const MESSAGE = 'expected a duration such as 30s, 15m, 2h, 7d or 1w';

/**
 * A duration in YAML: at most 100 years (LONGEST_DURATION), since a wait
 * much longer is past the last date a timer can hold (`after: 99999999d`
 * would be accepted, then fail every journey that reached it).
 */
export const durationSchema = z.string({ error: MESSAGE }).superRefine((value, ctx) => {
  const ms = parseDuration(value);
  if (ms !== undefined && ms <= LONGEST_DURATION_MS) return;
  const message =
    ms !== undefined
      ? `expected at most ${LONGEST_DURATION}`
      : isNegative(value)
        ? `${MESSAGE}; ${NOT_POSITIVE}`
        : `${MESSAGE}${didYouMeanDuration(value)}`;
  ctx.addIssue({ code: 'custom', message });
});
