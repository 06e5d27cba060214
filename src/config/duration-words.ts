// A span of time in words, as the CLI and the dashboard both say it. Kept
// apart from duration.ts (which holds the zod schema for durations in YAML):
// the dashboard imports this file, and nothing of zod or the server with it.

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

/**
 * The engine clock against real time, as `nudge clock` says it: "real time",
 * "2 days ahead of real time", "5 hours behind real time".
 */
export function clockOffsetInWords(offsetMs: number): string {
  if (offsetMs === 0) return 'real time';
  return `${durationInWords(offsetMs)} ${offsetMs > 0 ? 'ahead of' : 'behind'} real time`;
}
