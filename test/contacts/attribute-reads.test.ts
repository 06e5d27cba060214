// Migration 029's faster attribute reads give 028's answers (which
// attribute-times.test.ts holds to the engine's): the fast path for the
// common ISO 8601 shapes against 028's reading of every value, on text of
// those shapes with one character changed; attribute_text(attributes, name)
// against 028's attribute_text(attributes -> name).
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { migrateEngine } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
});

interface Reading {
  value: unknown;
  fast: boolean;
  timestamptz: string | null;
  parts_timestamptz: string | null;
  date: string | null;
  parts_date: string | null;
}

/** Each value read by 029 and by 028's reading, in one statement; `fast`: the fast path answered. */
async function readings(values: unknown[]): Promise<Reading[]> {
  return db.sql<Reading[]>`
    select v.value,
           nudge_engine.attribute_iso_time(v.value #>> '{}', false) is not null as fast,
           nudge_engine.attribute_timestamptz(v.value)::text as timestamptz,
           nudge_engine.attribute_timestamptz_parts(v.value)::text as parts_timestamptz,
           nudge_engine.attribute_date(v.value)::text as date,
           nudge_engine.attribute_date_parts(v.value)::text as parts_date
      from jsonb_array_elements(${db.sql.json(values as never)}::jsonb) with ordinality as v(value, n)
     order by n`;
}

/** Each value's time and day as numbers, read under the session settings given. */
async function epochs(values: unknown[], settings: { datestyle: string; timezone: string }) {
  return db.sql.begin(async (tx) => {
    await tx`select set_config('datestyle', ${settings.datestyle}, true),
                    set_config('timezone', ${settings.timezone}, true)`;
    return tx<{ timestamptz: string | null; date: string | null }[]>`
      select (extract(epoch from nudge_engine.attribute_timestamptz(v.value)) * 1000000)::bigint::text as timestamptz,
             (nudge_engine.attribute_date(v.value) - date '1970-01-01')::text as date
        from jsonb_array_elements(${tx.json(values as never)}::jsonb) with ordinality as v(value, n)
       order by n`;
  });
}

function disagreements(rows: Reading[]) {
  return rows.filter(
    (row) => row.timestamptz !== row.parts_timestamptz || row.date !== row.parts_date,
  );
}

/** The shapes the fast path takes, as to_jsonb() and toISOString() write them. */
const SHAPES = [
  '2026-12-07',
  '2026-12-07T10:00:00',
  '2026-12-07 10:00:00',
  '2026-12-07T10:00:00Z',
  '2026-12-07T10:00:00.1Z',
  '2026-12-07T10:00:00.123Z',
  '2026-12-07T10:00:00.123456+05:30',
  '2026-12-07T10:00:00-03:00',
  '2026-12-07 10:00:00.5+00:00',
];

describe('a time attribute read by the fast path', () => {
  it('reads the common shapes itself, as 028 reads them', async () => {
    const rows = await readings(SHAPES);
    expect(disagreements(rows)).toEqual([]);
    expect(rows.filter((row) => !row.fast).map((row) => row.value)).toEqual([]);
  });

  it('leaves text of those shapes with any one character changed to 028, or reads it alike', async () => {
    // Each position of each shape replaced by characters PostgreSQL's input
    // would make something of: a point, a space, signs, letters, a digit of
    // another script, and digits that break a range.
    const replacements = [
      '.',
      ' ',
      '+',
      '-',
      ':',
      'T',
      'Z',
      'z',
      'a',
      '٣',
      '_',
      '0',
      '9',
      '6',
      '3',
    ];
    const values = SHAPES.flatMap((shape) =>
      [...shape].flatMap((_, i) =>
        replacements.map((r) => shape.slice(0, i) + r + shape.slice(i + 1)),
      ),
    );
    const rows = await readings(values);
    expect(disagreements(rows)).toEqual([]);
    // The fast path answered many of them (digits changed), not only 028.
    expect(rows.filter((row) => row.fast).length).toBeGreaterThan(200);
  });

  it('agrees at the edges PostgreSQL reads differently from the engine', async () => {
    const rows = await readings([
      '2026-12-07T24:00:00Z',
      '2026-12-07T23:59:60Z',
      '2026-12-07T23:60:00Z',
      '2025-02-29',
      '2024-02-29T12:00:00Z',
      '2100-02-29',
      '2000-02-29',
      '0000-01-01',
      '0001-01-01T00:00:00+23:59',
      '9999-12-31T23:59:59.999999-23:59',
      '2026-12-07T10:00:00+15:59',
      '2026-12-07T10:00:00+16:00',
      '2026-12-07T10:00:00+05:60',
      '2026-12-07T10:00:00.1234567Z',
      '2026-12-07T10:00:00.Z',
      '2026-12-07T10:00:0.',
      ' 026-12-07',
      '2026-12-07+05:30',
      '2026-12-07T10:00',
      'infinity',
      '2026-12-07T10:00:00.123456+05:30 BC',
    ]);
    expect(disagreements(rows)).toEqual([]);
    expect(rows.find((row) => row.value === '2026-12-07T24:00:00Z')?.timestamptz).toBeNull();
    expect(rows.find((row) => row.value === '2024-02-29T12:00:00Z')?.fast).toBe(true);
  });

  it('agrees on generated values of the fast shapes, whatever the session', async () => {
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
    const shaped = fc
      .tuple(
        fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
        two(13),
        two(32),
        fc.option(
          fc.tuple(
            fc.constantFrom('T', ' '),
            two(24),
            two(60),
            two(60),
            fc.option(fc.stringMatching(/^[0-9]{1,7}$/)),
          ),
        ),
        fc.option(
          fc.oneof(
            fc.constant('Z'),
            fc
              .tuple(fc.constantFrom('+', '-'), two(24), two(60))
              .map((o) => `${o[0]}${o[1]}:${o[2]}`),
          ),
        ),
      )
      .map(([year, month, day, time, offset]) => {
        const clock = time
          ? `${time[0]}${time[1]}:${time[2]}:${time[3]}${time[4] === null ? '' : `.${time[4]}`}`
          : '';
        return `${year}-${month}-${day}${clock}${offset ?? ''}`;
      });
    const values = fc.sample(shaped, { numRuns: 2000, seed: 20261207 });
    const rows = await readings(values);
    expect(disagreements(rows)).toEqual([]);
    expect(rows.filter((row) => row.fast).length).toBeGreaterThan(500);
    const other = await epochs(values, { datestyle: 'SQL, DMY', timezone: 'Pacific/Chatham' });
    const utc = await epochs(values, { datestyle: 'ISO, MDY', timezone: 'UTC' });
    expect(other).toEqual(utc);
  });
});

describe('a text attribute read by attribute_text(attributes, name)', () => {
  it("answers 028's attribute_text for every kind of value", async () => {
    // As JSON text, so 90.0 keeps its spelling.
    const attributes = [
      '{"a": 90.0}',
      '{"a": 90}',
      '{"a": 1.50}',
      '{"a": -0.0}',
      '{"a": 1e2}',
      '{"a": 1.0e-3}',
      '{"a": 10}',
      '{"a": 0.10}',
      '{"a": 100.000}',
      '{"a": "90.0"}',
      '{"a": "v2.10"}',
      '{"a": "pro"}',
      '{"a": ""}',
      '{"a": true}',
      '{"a": null}',
      '{"a": {"b": 1.50}}',
      '{"a": [1.0, "x"]}',
      '{"b": 1}',
      '{}',
    ];
    const rows = await db.sql<{ attributes: string; old: string | null; now: string | null }[]>`
      select a.attributes::text as attributes,
             nudge_engine.attribute_text(a.attributes -> 'a') as old,
             nudge_engine.attribute_text(a.attributes, 'a') as now
        from jsonb_array_elements(${`[${attributes.join(',')}]`}::text::jsonb) as a(attributes)`;
    expect(rows.filter((row) => row.old !== row.now)).toEqual([]);
    expect(rows.map((row) => row.now).slice(0, 5)).toEqual(['90', '90', '1.5', '0', '100']);
  });
});
