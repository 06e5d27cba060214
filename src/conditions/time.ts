// Timestamps and dates as BigInt microseconds since 1970-01-01 UTC, the
// resolution PostgreSQL stores: a JS Date (milliseconds) would round away
// the difference between 10:00:00.000001 and 10:00:00.000002.
//
// Time zones: a timestamptz is an instant, and to_jsonb() writes it with the
// session's offset, which parsing removes. A `timestamp` (without time zone)
// and a `date` have no offset; conditions take them as UTC, and the SQL side
// turns the clock into UTC wall time (`now AT TIME ZONE 'UTC'`) to match, so
// the session's TimeZone setting never changes an answer.

const MICROS_PER_SECOND = 1_000_000n;
const MICROS_PER_DAY = 86_400n * MICROS_PER_SECOND;

/** Beyond every finite timestamp: PostgreSQL's 'infinity' and '-infinity'. */
export const INFINITY = 2n ** 64n;

const TIMESTAMP =
  /^(\d{4,})-(\d\d)-(\d\d)(?:[Tt ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?)?(?:([Zz])|([+-])(\d\d)(?::?(\d\d)(?::?(\d\d))?)?)?( BC)?$/;

export interface ParsedTime {
  micros: bigint;
  hasTime: boolean;
  hasOffset: boolean;
}

/**
 * Parses ISO 8601 (`2024-01-31`, `2024-01-31T12:00:00.123456+02:00`, `Z`).
 * Strict mode, for literals the user writes, wants a four-digit year and at
 * most six fractional digits. The lenient mode also reads what to_jsonb()
 * writes for rows: `infinity`, years past 9999, ` BC`, offsets with seconds.
 * Either way a date the calendar lacks, an hour past 23:59:59 or an offset
 * past ±23:59 is no time (readTime says which).
 */
export function parseTime(text: string, strict: boolean): ParsedTime | undefined {
  const time = readTime(text, strict);
  return time && 'micros' in time ? time : undefined;
}

/** The part of a time of parseTime's shape that is none, as written: `2025-02-30`, `24:00`, `+25:00`. */
export interface TimeFault {
  fault: 'date' | 'time of day' | 'offset';
  written: string;
}

/** parseTime, saying which part is none (TimeFault) when the text has its shape but is no time. */
export function readTime(text: string, strict: boolean): ParsedTime | TimeFault | undefined {
  if (!strict && (text === 'infinity' || text === '-infinity')) {
    return { micros: text === 'infinity' ? INFINITY : -INFINITY, hasTime: true, hasOffset: true };
  }
  const match = TIMESTAMP.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, fraction, zulu, offsetSign, oh, om, os, bc] = match;
  if (strict && (y!.length !== 4 || (fraction?.length ?? 0) > 6 || bc || os)) return undefined;
  // Astronomical years: 1 BC is year 0.
  const year = bc ? 1 - Number(y) : Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return { fault: 'date', written: `${y}-${mo}-${d}` };
  }
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  if (hour > 23 || minute > 59 || second > 59) {
    return { fault: 'time of day', written: `${h}:${mi}${s === undefined ? '' : `:${s}`}` };
  }
  if (offsetSign && (Number(oh) > 23 || Number(om ?? 0) > 59)) {
    return { fault: 'offset', written: `${offsetSign}${oh}:${om ?? '00'}` };
  }
  let micros =
    BigInt(daysFromCivil(year, month, day)) * MICROS_PER_DAY +
    BigInt(hour * 3600 + minute * 60 + second) * MICROS_PER_SECOND +
    BigInt((fraction ?? '').padEnd(6, '0').slice(0, 6));
  if (offsetSign) {
    const offset = Number(oh) * 3600 + Number(om ?? 0) * 60 + Number(os ?? 0);
    micros -= BigInt(offsetSign === '-' ? -offset : offset) * MICROS_PER_SECOND;
  }
  return { micros, hasTime: h !== undefined, hasOffset: Boolean(zulu || offsetSign) };
}

/**
 * PostgreSQL's range in days from 1970-01-01: from 4714-11-24 BC (Julian day
 * 0), to 5874898-01-01 for a date and to 294277-01-01 for a timestamp (both
 * excluded).
 */
const FIRST_DAY = -2_440_588n;
const DATE_END_DAY = 2_147_483_494n + FIRST_DAY;
const TIMESTAMP_END_DAY = 109_203_528n + FIRST_DAY;

/**
 * A contact attribute's text as a time attribute reads it (nudge.yaml
 * declares it timestamptz or date), in microseconds: what parseTime reads
 * leniently (what to_jsonb() writes for a time) and `infinity`, within
 * PostgreSQL's range; a date is the day as written, whatever time and
 * offset follow it. Anything else is undefined, PostgreSQL's other input
 * forms (`Dec 7 2026`, `yesterday`, `now`, `12/07/2026`) too. Segment SQL
 * reads attributes the same way: nudge_engine.attribute_timestamptz and
 * attribute_date (migrations 028, 029), which check the same parts, so year 0
 * and a time outside the range, before or after its offset, are none there
 * either.
 */
export function attributeTime(text: string, type: 'timestamptz' | 'date'): bigint | undefined {
  if (text === 'infinity') return INFINITY;
  if (text === '-infinity') return -INFINITY;
  const match = TIMESTAMP.exec(text);
  const time = match && match[1]!.length <= 7 ? readTime(text, false) : undefined;
  if (!match || !time || !('micros' in time) || Number(match[1]) === 0) return undefined;
  const [, y, mo, d, h, mi, s, fraction, , , , , , bc] = match;
  const day = BigInt(daysFromCivil(bc ? 1 - Number(y) : Number(y), Number(mo), Number(d)));
  if (type === 'date') {
    return day >= FIRST_DAY && day < DATE_END_DAY ? day * MICROS_PER_DAY : undefined;
  }
  const local =
    day * MICROS_PER_DAY +
    BigInt(Number(h ?? 0) * 3600 + Number(mi ?? 0) * 60 + Number(s ?? 0)) * MICROS_PER_SECOND +
    BigInt((fraction ?? '').padEnd(6, '0').slice(0, 6));
  const inRange = (micros: bigint) =>
    micros >= FIRST_DAY * MICROS_PER_DAY && micros < TIMESTAMP_END_DAY * MICROS_PER_DAY;
  return inRange(local) && inRange(time.micros) ? time.micros : undefined;
}

/** `2024-01-31T12:00:00.000001` (with `+00:00` for timestamptz), or `2024-01-31`. */
export function formatTime(micros: bigint, shape: 'timestamptz' | 'timestamp' | 'date'): string {
  let days = micros / MICROS_PER_DAY;
  let rest = micros % MICROS_PER_DAY;
  if (rest < 0n) {
    days -= 1n;
    rest += MICROS_PER_DAY;
  }
  const [year, month, day] = civilFromDays(Number(days));
  const date = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
  if (shape === 'date') return date;
  const seconds = Number(rest / MICROS_PER_SECOND);
  const time = `${pad(Math.floor(seconds / 3600), 2)}:${pad(Math.floor(seconds / 60) % 60, 2)}:${pad(seconds % 60, 2)}`;
  const fraction = (rest % MICROS_PER_SECOND).toString().padStart(6, '0');
  return `${date}T${time}.${fraction}${shape === 'timestamptz' ? '+00:00' : ''}`;
}

/** The year of an instant, to keep literals inside 0001..9999 after offsets. */
export function yearOf(micros: bigint): number {
  const days = micros / MICROS_PER_DAY - (micros % MICROS_PER_DAY < 0n ? 1n : 0n);
  return civilFromDays(Number(days))[0];
}

/** The clock's milliseconds, checked: an invalid Date is an error, not a time. */
export function millisOf(date: Date): number {
  const millis = date.getTime();
  if (Number.isNaN(millis)) throw new Error('the clock (ctx.now) is an invalid Date');
  return millis;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const RELATIVE = /^now\(\)(?:\s*([+-])\s*(\d{1,9})\s*([smhdw]))?$/;
/** A hundred years: far enough for any schedule, exact in SQL's interval arithmetic. */
const MAX_OFFSET_SECONDS = 36_500 * 86_400;

/**
 * `now()`, `now()-7d`, `now()+1h` as a signed offset in seconds, or
 * undefined. Units have fixed lengths (a day is 24 hours, a week 7 days),
 * identical in JS and SQL whatever the time zone's daylight-saving rules.
 */
export function parseRelative(text: string): { offsetSeconds: number } | 'too far' | undefined {
  const match = RELATIVE.exec(text.trim());
  if (!match) return undefined;
  const [, sign, amount, unit] = match;
  if (!sign) return { offsetSeconds: 0 };
  const seconds = Number(amount) * UNIT_SECONDS[unit!]!;
  if (seconds > MAX_OFFSET_SECONDS) return 'too far';
  return { offsetSeconds: sign === '-' ? -seconds : seconds };
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra =
    yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

function civilFromDays(days: number): [number, number, number] {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / 146_096)) /
      365,
  );
  const dayOfYear =
    dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shifted = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * shifted + 2) / 5) + 1;
  const month = shifted < 10 ? shifted + 3 : shifted - 9;
  return [yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day];
}
