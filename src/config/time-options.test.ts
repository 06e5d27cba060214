// readIsoTime: the one reading of an ISO time the API (occurred_at, the logs'
// from and to) and the commands (--since, --from, --to) share.
import { describe, expect, it } from 'vitest';
import { readIsoTime } from './time-options.js';

describe('readIsoTime', () => {
  it('reads a time to the millisecond Date.parse gives it, before 1970 and past it too', () => {
    for (const text of [
      '2025-03-01T10:00:00Z',
      '2025-03-01t10:00z',
      '2025-03-01T10:00:00.123456+05:30',
      '2025-03-01T10:00:00+0530',
      // .NET writes seven digits: the ones past the millisecond are dropped.
      '2025-03-01T10:00:00.1234567Z',
      '1969-12-31T23:59:59.9985Z',
      '0001-01-01T00:00:00Z',
      '2024-02-29',
    ]) {
      expect((readIsoTime(text) as Date).getTime(), text).toBe(Date.parse(text));
    }
    // No offset is UTC, whatever the machine's time zone.
    expect(readIsoTime('2026-03-01T09:00')).toEqual(new Date('2026-03-01T09:00:00Z'));
  });

  it('says which part of a time of the right shape is none', () => {
    for (const [text, problem] of [
      ['2025-02-30T00:00:00Z', 'the calendar has no 2025-02-30'],
      ['2026-13-01', 'the calendar has no 2026-13-01'],
      ['0000-01-01', 'the calendar has no 0000-01-01'],
      ['2025-03-01T24:00Z', 'a day has no 24:00'],
      ['2025-03-01T10:00:60', 'a day has no 10:00:60'],
      [
        '2025-03-01T10:00:00+25:00',
        'no time zone is +25:00 from UTC (offsets go from -23:59 to +23:59)',
      ],
      [
        '2025-03-01T10:00:00-0060',
        'no time zone is -00:60 from UTC (offsets go from -23:59 to +23:59)',
      ],
    ]) {
      expect(readIsoTime(text!), text).toBe(problem);
    }
  });

  it('is undefined for what is no ISO time at all', () => {
    for (const text of ['yesterday', '7d', '2025-03-01T9', '12025-03-01', '']) {
      expect(readIsoTime(text), text).toBeUndefined();
    }
  });
});
