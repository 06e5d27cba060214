// The value helpers under the JS compiler, each checked against what
// PostgreSQL itself answers: numeric order, jsonb text output, ISO parsing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { useDatabase } from '../../test/harness/db.js';
import {
  compareDecimal,
  decimalFromRow,
  fitsBigint,
  parseDecimal,
  plainDecimal,
} from './decimal.js';
import { compareCodePoints, jsonbOutput } from './json.js';
import { likeMatcher } from './like.js';
import { formatTime, parseRelative, parseTime } from './time.js';

const db = useDatabase();

const decimal = (text: string) => {
  const parsed = parseDecimal(text);
  if (!parsed) throw new Error(`not a decimal: ${text}`);
  return parsed;
};

describe('decimals', () => {
  it('normalises and prints in plain notation', () => {
    expect(plainDecimal(decimal('1.50'))).toBe('1.5');
    expect(plainDecimal(decimal('-0.00'))).toBe('0');
    expect(plainDecimal(decimal('1e-7'))).toBe('0.0000001');
    expect(plainDecimal(decimal('1.5E3'))).toBe('1500');
    expect(plainDecimal(decimal('.5'))).toBe('0.5');
    expect(plainDecimal(decimal('+007.0100'))).toBe('7.01');
    expect(plainDecimal(decimalFromRow(1e21)!)).toBe('1000000000000000000000');
    for (const bad of ['', '.', '-', '1e', '0x10', '1_000', 'NaN', ' 1'])
      expect(parseDecimal(bad)).toBeUndefined();
  });

  it('knows which whole numbers fit a bigint', () => {
    expect(fitsBigint(decimal('9223372036854775807'))).toBe(true);
    expect(fitsBigint(decimal('-9223372036854775808'))).toBe(true);
    expect(fitsBigint(decimal('9223372036854775808'))).toBe(false);
    expect(fitsBigint(decimal('1e2'))).toBe(true);
    expect(fitsBigint(decimal('1.5'))).toBe(false);
  });

  it('orders like numeric in PostgreSQL', async () => {
    const number = fc.oneof(
      fc.constantFrom(
        'NaN',
        'Infinity',
        '-Infinity',
        '0',
        '-0',
        '0.1',
        '0.10',
        '1e-7',
        '100',
        '1e2',
        '-1.5',
      ),
      fc
        .tuple(fc.integer({ min: -99999, max: 99999 }), fc.integer({ min: -8, max: 8 }))
        .map(([digits, exponent]) => `${digits}e${exponent}`),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(number, number), { minLength: 1, maxLength: 50 }),
        async (pairs) => {
          const rows = await db.sql`
          select case when a < b then -1 when a > b then 1 else 0 end as order
            from unnest(${pairs.map(([a]) => a)}::numeric[], ${pairs.map(([, b]) => b)}::numeric[]) with ordinality as u(a, b, i) order by i`;
          const js = pairs.map(([a, b]) => compareDecimal(decimalFromRow(a)!, decimalFromRow(b)!));
          expect(js).toEqual(rows.map((row) => row.order));
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe('jsonb text', () => {
  it('prints like jsonb::text in PostgreSQL', async () => {
    const key = fc.constantFrom('a', 'b', 'aa', 'é', 'Z', '10', '2', '😀', 'a"b', '');
    const value = fc.letrec<{ json: unknown }>((tie) => ({
      json: fc.oneof(
        { depthSize: 'small' },
        fc.string({ unit: 'grapheme', maxLength: 4 }),
        fc.constantFrom('\n', '\t', '\u0001', '\\', '"', '</'),
        fc.constantFrom(0, -1, 1.5, 1e21, 1e-7, 123.456, -0.001),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('json'), { maxLength: 3 }),
        fc.dictionary(key, tie('json'), { maxKeys: 4 }),
      ),
    })).json;
    await fc.assert(
      fc.asyncProperty(fc.array(value, { minLength: 1, maxLength: 20 }), async (values) => {
        const texts = values.map((item) => JSON.stringify(item));
        const rows =
          await db.sql`select v::jsonb::text as text from unnest(${texts}::text[]) with ordinality as u(v, i) order by i`;
        expect(values.map(jsonbOutput)).toEqual(rows.map((row) => row.text));
      }),
      { numRuns: 30 },
    );
  });

  it('orders strings by code point, as COLLATE "C" does', async () => {
    const words = ['a', 'B', 'é', '～', '😀', '', 'ab', 'a\u0001', '\uffff', '𝒜'];
    const rows =
      await db.sql`select w from unnest(${words}::text[]) as u(w) order by w collate "C"`;
    expect([...words].sort(compareCodePoints)).toEqual(rows.map((row) => row.w));
  });
});

describe('times', () => {
  it('parses ISO 8601 to microseconds and back', () => {
    const parsed = parseTime('2024-02-29T23:59:59.999999-02:30', true)!;
    expect(formatTime(parsed.micros, 'timestamptz')).toBe('2024-03-01T02:29:59.999999+00:00');
    expect(formatTime(parseTime('1969-12-31T23:59:59.5Z', true)!.micros, 'timestamp')).toBe(
      '1969-12-31T23:59:59.500000',
    );
    expect(formatTime(parseTime('0001-01-01', true)!.micros, 'date')).toBe('0001-01-01');
    expect(parseTime('2024-06-01T00:00:00+05:30:15', false)!.micros).toBe(
      parseTime('2024-05-31T18:29:45Z', true)!.micros,
    );
    expect(parseTime('0044-03-15 BC', false)!.micros).toBeLessThan(
      parseTime('0001-01-01', true)!.micros,
    );
  });

  it.each([
    '2023-02-29',
    '2024-13-01',
    '2024-01-01T24:00:00',
    '2024-01-01T00:00:00+24:00',
    '2024-01-01T00:00:00+05:60',
    '24-01-01',
    '2024-01-01T00:00:00.1234567',
    '12024-01-01',
    'infinity',
  ])('refuses %s as a literal', (text) => {
    expect(parseTime(text, true)).toBeUndefined();
  });

  it('agrees with PostgreSQL on what to_jsonb writes, in any time zone', async () => {
    const conn = await db.sql.reserve();
    try {
      await conn`set timezone = 'Asia/Kathmandu'`;
      const instants = [
        '2024-01-01 00:00:00.000001+00',
        '1900-06-01 12:00:00+00',
        '0099-01-01 00:00:00+00',
        '2024-06-01 12:34:56.5+00',
      ];
      const rows =
        await conn`select to_jsonb(v) as json, (extract(epoch from v) * 1000000)::bigint::text as micros
                                from unnest(${instants}::timestamptz[]) as u(v)`;
      for (const row of rows) expect(String(parseTime(row.json, false)!.micros)).toBe(row.micros);
    } finally {
      conn.release();
    }
  });

  it('reads now() offsets in seconds', () => {
    expect(parseRelative('now()')).toEqual({ offsetSeconds: 0 });
    expect(parseRelative('now()-7d')).toEqual({ offsetSeconds: -604800 });
    expect(parseRelative('now() + 2w')).toEqual({ offsetSeconds: 1209600 });
    expect(parseRelative('now()-90m')).toEqual({ offsetSeconds: -5400 });
    expect(parseRelative('now()-36501d')).toBe('too far');
    expect(parseRelative('now()-7days')).toBeUndefined();
    expect(parseRelative('now()-1.5h')).toBeUndefined();
  });
});

describe('like', () => {
  it('follows PostgreSQL LIKE', () => {
    expect(likeMatcher('%', false)('')).toBe(true);
    expect(likeMatcher('_', false)('')).toBe(false);
    expect(likeMatcher('a%', false)('a\nb')).toBe(true);
    expect(likeMatcher('%b_', false)('abc')).toBe(true);
    expect(likeMatcher('%\\%', false)('50%')).toBe(true);
    expect(likeMatcher('%\\%', false)('50')).toBe(false);
    expect(likeMatcher('%a%a%a%a%a%a%a%a%b', false)('a'.repeat(5000))).toBe(false);
    expect(likeMatcher('ÉA%', true)('Éabc')).toBe(true);
    expect(likeMatcher('éa%', true)('Éabc')).toBe(false);
  });
});
