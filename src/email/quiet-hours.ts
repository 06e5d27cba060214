// When an email may be sent in its recipient's time zone: never inside
// email.quiet_hours (e.g. 21:00–08:00, wrapping midnight), and only inside
// the stage's send_window when it has one. A send due at another time waits
// for the next moment both allow, computed in the contact's IANA zone with
// the zone's own offsets on each day, so a wait across a daylight-saving
// change still ends at 08:00 on the wall clock (not 07:00 or 09:00). Pure:
// the clock and the zone come in, a time and a reason go out.

export interface DailyWindow {
  /** "HH:MM", local time. */
  from: string;
  to: string;
}

export interface SendRules {
  quietHours?: DailyWindow | undefined;
  sendWindow?: DailyWindow | undefined;
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

export function minutesOf(hhmm: string): number {
  const match = HHMM.exec(hhmm);
  if (!match) throw new Error(`expected a time of day as HH:MM, got "${hhmm}"`);
  return Number(match[1]) * 60 + Number(match[2]);
}

/** Whether `zone` is an IANA time zone this runtime knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** The wall clock in `zone` at `at`: date parts and minutes since midnight. */
function wallClock(at: Date, zone: string) {
  let format = formats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formats.set(zone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(at).map((p) => [p.type, Number(p.value)]));
  return {
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    minutes: parts.hour! * 60 + parts.minute!,
    seconds: parts.second!,
  };
}

/** The zone's offset from UTC at `at`, in milliseconds. */
function offsetMs(at: Date, zone: string): number {
  const w = wallClock(at, zone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, 0, w.minutes, w.seconds);
  return asUtc - Math.floor(at.getTime() / 1000) * 1000;
}

/**
 * The instant the wall clock in `zone` shows `minutes` past midnight on the
 * given local date. The offset is taken at the answer itself (two passes), so
 * a date after a DST change gets that day's offset; a time that does not
 * exist that day (inside a spring-forward gap) comes out one hour later.
 */
function instantOf(year: number, month: number, day: number, minutes: number, zone: string): Date {
  const naive = Date.UTC(year, month - 1, day, 0, minutes);
  let at = new Date(naive - offsetMs(new Date(naive), zone));
  at = new Date(naive - offsetMs(at, zone));
  return at;
}

/** Whether `minutes` (since local midnight) lies in [from, to), wrapping midnight when to ≤ from. */
function inside(minutes: number, window: DailyWindow): boolean {
  const from = minutesOf(window.from);
  const to = minutesOf(window.to);
  return from <= to ? minutes >= from && minutes < to : minutes >= from || minutes < to;
}

function allowed(minutes: number, rules: SendRules): boolean {
  if (rules.quietHours && inside(minutes, rules.quietHours)) return false;
  if (rules.sendWindow && !inside(minutes, rules.sendWindow)) return false;
  return true;
}

/**
 * Undefined when a send may go at `now` in `zone`; else when it may, and the
 * decision's reason: `deferred: quiet hours until 08:00 Europe/Paris`.
 */
export function deferral(
  now: Date,
  zone: string,
  rules: SendRules,
): { until: Date; reason: string } | undefined {
  if (!rules.quietHours && !rules.sendWindow) return undefined;
  const local = wallClock(now, zone);
  if (allowed(local.minutes, rules)) return undefined;
  const why =
    rules.quietHours && inside(local.minutes, rules.quietHours) ? 'quiet hours' : 'send window';
  // The moments a window opens, from today on: the end of quiet hours and the
  // start of the send window; the first of them after now that is allowed.
  const opens = [rules.quietHours?.to, rules.sendWindow?.from]
    .filter((t): t is string => t !== undefined)
    .map(minutesOf)
    .sort((a, b) => a - b);
  for (let days = 0; days < 3; days++) {
    const date = new Date(Date.UTC(local.year, local.month - 1, local.day + days));
    for (const minutes of opens) {
      const at = instantOf(
        date.getUTCFullYear(),
        date.getUTCMonth() + 1,
        date.getUTCDate(),
        minutes,
        zone,
      );
      if (at > now && allowed(wallClock(at, zone).minutes, rules)) {
        const shown = `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
        return { until: at, reason: `deferred: ${why} until ${shown} ${zone}` };
      }
    }
  }
  throw new Error('email.quiet_hours and send_window leave no time to send on any day');
}
