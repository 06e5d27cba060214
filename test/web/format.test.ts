// How the dashboard writes times, ages, counts and the engine clock's offset.
import { describe, expect, it } from 'vitest';
import { clockOffsetInWords } from '../../src/config/duration-words.js';
import { plural } from '../../src/words.js';
import {
  age,
  count,
  fromLocalInput,
  isIsoTime,
  localInput,
  localTime,
  relativeTime,
} from '../../web/src/format.js';

describe('dashboard formats', () => {
  const now = new Date('2026-03-01T12:00:00Z');
  const ago = (ms: number) => new Date(now.getTime() - ms);

  it('says how long ago, or how long until', () => {
    expect(relativeTime(ago(2000), now)).toBe('just now');
    expect(relativeTime(ago(42_000), now)).toBe('42 s ago');
    expect(relativeTime(ago(5 * 60_000 + 10_000), now)).toBe('5 min ago');
    expect(relativeTime(ago(3 * 3_600_000), now)).toBe('3 h ago');
    expect(relativeTime(ago(2 * 86_400_000), now)).toBe('2 d ago');
    expect(relativeTime(ago(-5 * 60_000), now)).toBe('in 5 min');
  });

  it('knows an ISO time with its offset (a synced created_at) from other text', () => {
    expect(isIsoTime('2026-03-01T09:05:07.123456+00:00')).toBe(true);
    expect(isIsoTime('2026-03-01T09:05:07Z')).toBe(true);
    expect(isIsoTime('2026-03-01T09:05+0100')).toBe(true);
    // No offset: which clock's local time it is cannot be said; shown as written.
    expect(isIsoTime('2026-03-01T09:05:07')).toBe(false);
    expect(isIsoTime('2026-03-01')).toBe(false);
    expect(isIsoTime('2026-13-45T99:99:99Z')).toBe(false);
    expect(isIsoTime('pro')).toBe(false);
    expect(isIsoTime(1_772_355_907)).toBe(false);
    expect(isIsoTime(null)).toBe(false);
  });

  it('writes lag as an age and counts with separators', () => {
    expect(age(0)).toBe('0 s');
    expect(age(-5)).toBe('0 s');
    expect(age(125_000)).toBe('2 min 5 s');
    expect(age(3_840_000)).toBe('1 h 4 min');
    expect(age(3 * 86_400_000 + 2 * 3_600_000)).toBe('3 d 2 h');
    expect(count(0)).toBe('0');
    expect(count(1234567)).toBe('1,234,567');
  });

  it('writes a time to the second, dated only when it is another day than now', () => {
    const at = new Date(2026, 11, 8, 12, 38, 27);
    expect(localTime(at, new Date(2026, 11, 8, 18, 0), 'en-US')).toBe('12:38:27 PM');
    expect(localTime(at, new Date(2026, 11, 6, 12, 40), 'en-US')).toBe('Dec 8, 12:38:27 PM');
    // To the minute, as the Overview's charts label their first and last.
    const minutes = { seconds: false };
    expect(localTime(at, new Date(2026, 11, 8, 18, 0), 'en-US', minutes)).toBe('12:38 PM');
    expect(localTime(at, new Date(2026, 11, 6, 12, 40), 'en-US', minutes)).toBe('Dec 8, 12:38 PM');
  });

  it('counts in words, as every part of Nudge does (src/words.ts)', () => {
    expect(plural(1, 'attempt')).toBe('1 attempt');
    expect(plural(2, 'attempt')).toBe('2 attempts');
    expect(plural(0, 'attempt')).toBe('0 attempts');
  });

  it('shows an ISO time in a datetime-local input and reads it back', () => {
    const iso = '2026-03-01T09:05:00.000Z';
    const shown = localInput(iso);
    expect(shown).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/);
    expect(fromLocalInput(shown)).toBe(iso);
    expect(localInput(undefined)).toBe('');
    expect(localInput('nonsense')).toBe('');
    expect(fromLocalInput('')).toBeUndefined();
    expect(fromLocalInput('not a time')).toBeUndefined();
  });

  it('says the engine clock’s offset in the words of nudge clock', () => {
    expect(clockOffsetInWords(0)).toBe('real time');
    expect(clockOffsetInWords(2 * 86_400_000)).toBe('2 days ahead of real time');
    expect(clockOffsetInWords(86_400_000 + 3_600_000)).toBe('1 day 1 hour ahead of real time');
    expect(clockOffsetInWords(-90 * 60_000)).toBe('1 hour 30 min behind real time');
  });
});
