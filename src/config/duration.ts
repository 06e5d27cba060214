// Durations as users write them in nudge.yaml and feature files: 30s, 15m, 2h, 7d, 1w.
import { z } from 'zod';
import { didYouMeanDuration, parseDuration } from './duration-text.js';

// Read from text, with the CLI's and the API's bound (durationProblem): a zod-free file.
export { parseDuration } from './duration-text.js';
// In words, as the CLI prints them: its own zod-free file, which the dashboard imports too.
export { durationInWords } from './duration-words.js';

const MESSAGE = 'expected a duration such as 30s, 15m, 2h, 7d or 1w';

export const durationSchema = z.string({ error: MESSAGE }).superRefine((value, ctx) => {
  if (parseDuration(value) !== undefined) return;
  ctx.addIssue({ code: 'custom', message: `${MESSAGE}${didYouMeanDuration(value)}` });
});
