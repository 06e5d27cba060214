// Durations as users write them in nudge.yaml and feature files: 30s, 15m, 2h, 7d, 1w.
import { z } from 'zod';

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

/**
 * A span in the words the CLI prints it in: "4 days", "1 day 6 hours",
 * "5 hours", "1 hour 30 min", "45 min", "20 s". The sign is dropped: say
 * "ahead" or "behind" around it.
 */
export function durationInWords(ms: number): string {
  const seconds = Math.round(Math.abs(ms) / 1000);
  const days = Math.floor(seconds / 86_400);
  const hours = Math.floor(seconds / 3_600) % 24;
  const minutes = Math.floor(seconds / 60) % 60;
  const count = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (days > 0)
    return hours > 0 ? `${count(days, 'day')} ${count(hours, 'hour')}` : count(days, 'day');
  if (hours > 0)
    return minutes > 0 ? `${count(hours, 'hour')} ${minutes} min` : count(hours, 'hour');
  return minutes > 0 ? `${minutes} min` : `${seconds} s`;
}
