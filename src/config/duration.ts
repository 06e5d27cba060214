// Durations as users write them in nudge.yaml and feature files: 30s, 15m, 2h, 7d, 1w.
import { z } from 'zod';

// In words, as the CLI prints them: its own zod-free file, which the dashboard imports too.
export { durationInWords } from './duration-words.js';

const DURATION = /^(\d+)\s*(s|m|h|d|w)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** `2d` → milliseconds, or undefined if it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

const MESSAGE = 'expected a duration such as 30s, 15m, 2h, 7d or 1w';

export const durationSchema = z
  .string({ error: MESSAGE })
  .refine((value) => parseDuration(value) !== undefined, { error: MESSAGE });
