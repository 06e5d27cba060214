// How the dashboard writes times, ages and counts. Pure (no DOM), tested in
// test/web/format.test.ts.

/** "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago"; "in 5 min" for the future. */
export function relativeTime(at: Date, now: Date): string {
  const seconds = Math.round((now.getTime() - at.getTime()) / 1000);
  const future = seconds < 0;
  const span = Math.abs(seconds);
  let text: string;
  if (span < 5) return 'just now';
  if (span < 60) text = `${span} s`;
  else if (span < 3600) text = `${Math.floor(span / 60)} min`;
  else if (span < 86_400) text = `${Math.floor(span / 3600)} h`;
  else text = `${Math.floor(span / 86_400)} d`;
  return future ? `in ${text}` : `${text} ago`;
}

/** An age in words for lag: "none", "3 s", "2 min 5 s", "1 h 4 min". */
export function age(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** 1234567 → "1,234,567" whatever the locale, so tests and screenshots agree. */
export function count(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * The local time shown for a time, to the second: "14:03:07" on the day of
 * `now`, "5 Dec, 14:03:07" another day (the locale's order). `now` is on the
 * same clock as `at` (ui.tsx's Time gives none for an engine time while the
 * engine clock is moved: those are always dated). Without `now`, dated.
 * `seconds: false`: to the minute ("14:03"), as the Overview's charts label theirs.
 */
export function localTime(
  at: Date,
  now: Date | undefined,
  locale?: string,
  { seconds = true }: { seconds?: boolean } = {},
): string {
  const sameDay = at.toDateString() === now?.toDateString();
  const clock = seconds
    ? ({ hour: '2-digit', minute: '2-digit', second: '2-digit' } as const)
    : ({ hour: '2-digit', minute: '2-digit' } as const);
  return sameDay
    ? at.toLocaleTimeString(locale, clock)
    : at.toLocaleString(locale, { day: 'numeric', month: 'short', ...clock });
}

/**
 * Whether a value is an ISO 8601 time with its offset, as a synced
 * `created_at` or `last_sign_in_at` attribute holds one: the pages show such
 * a value as a time (ui.tsx Time), not as the raw text.
 */
export function isIsoTime(value: unknown): value is string {
  return (
    typeof value === 'string' && ISO_TIME.test(value) && !Number.isNaN(new Date(value).getTime())
  );
}
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)$/;

/** An ISO time as a datetime-local input shows it, in local time ("2026-03-01T09:05"). */
export function localInput(iso: string | undefined): string {
  if (!iso) return '';
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
}

/** A datetime-local input's value (local time) as an ISO time, or undefined when empty or invalid. */
export function fromLocalInput(value: string): string | undefined {
  if (!value) return undefined;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? undefined : at.toISOString();
}
