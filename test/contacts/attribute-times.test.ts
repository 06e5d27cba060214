// A time attribute (nudge.yaml declares it timestamptz or date) is read the
// same way by segment SQL (nudge_engine.attribute_timestamptz / _date, used
// by contacts/query.ts fieldSql) and by a feature's conditions (the engine's
// attributeValue): ISO 8601, as to_jsonb() writes a time, and nothing else.
// PostgreSQL's own input forms ('Dec 7 2026', 'yesterday', 'now', 'epoch',
// '12/07/2026' under DateStyle) are NULL on both sides, so a segment and a
// feature never disagree about a contact, and a segment's answer does not
// move with the clock or the session's settings.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Condition,
  compileJs,
  compileSql,
  numberedParams,
  parseCondition,
} from '../../src/conditions/index.js';
import { INFINITY } from '../../src/conditions/time.js';
import { attributeValue, planTest } from '../../src/conditions/values.js';
import { fieldSql } from '../../src/contacts/query.js';
import { contactRow } from '../../src/contacts/store.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { type AttributeTypes, typeResolver } from '../../src/features/types.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
});

type Reading = string | null;

/** What the engine reads: microseconds since 1970 as text, 'infinity', '-infinity' or null. */
function engineReads(value: unknown, type: 'timestamptz' | 'date'): Reading {
  const [test] = testsOf(parseCondition({ 'contact.seen': 'is.null' }, { scopes: ['contact'] }));
  const micros = attributeValue(planTest(test!, type), value) as bigint | undefined;
  if (micros === undefined) return null;
  if (micros === INFINITY) return 'infinity';
  if (micros === -INFINITY) return '-infinity';
  return String(micros);
}

function testsOf(condition: Condition) {
  return condition.kind === 'test' ? [condition] : [];
}

/** What segment SQL reads for each value, as engineReads says it, in one statement. */
async function sqlReads(
  values: unknown[],
  settings: { datestyle?: string; timezone?: string } = {},
): Promise<{ timestamptz: Reading; date: Reading }[]> {
  return db.sql.begin(async (tx) => {
    if (settings.datestyle) await tx`select set_config('datestyle', ${settings.datestyle}, true)`;
    if (settings.timezone) await tx`select set_config('timezone', ${settings.timezone}, true)`;
    const rows = await tx<{ timestamptz: Reading; date: Reading }[]>`
      select case when isfinite(t)
               -- extract(epoch) rounds far from 1970: the day and the time of day exactly.
               then (((t at time zone 'UTC')::date - date '1970-01-01')::numeric * 86400000000
                     + extract(epoch from (t at time zone 'UTC')::time) * 1000000)::numeric(30, 0)::text
               else t::text end as timestamptz,
             case when isfinite(d) then ((d - date '1970-01-01')::numeric * 86400000000)::text
                  else d::text end as date
        from jsonb_array_elements(${tx.json(values as never)}::jsonb) with ordinality as v(value, n),
             lateral (select nudge_engine.attribute_timestamptz(v.value) as t,
                             nudge_engine.attribute_date(v.value) as d) as r
       order by n`;
    return rows.map((row) => ({ timestamptz: row.timestamptz, date: row.date }));
  });
}

async function expectAgreement(
  values: unknown[],
  settings?: { datestyle?: string; timezone?: string },
) {
  const sql = await sqlReads(values, settings);
  const disagreements = values.flatMap((value, index) => {
    const js = { timestamptz: engineReads(value, 'timestamptz'), date: engineReads(value, 'date') };
    return js.timestamptz === sql[index]!.timestamptz && js.date === sql[index]!.date
      ? []
      : [{ value, sql: sql[index], js }];
  });
  expect(disagreements).toEqual([]);
}

/** Values PostgreSQL's timestamptz and date input take, which are no ISO 8601. */
const NOT_ISO = [
  'Dec 7 2026',
  'December 7, 2026',
  '7 Dec 2026 10:00',
  'yesterday',
  'today',
  'tomorrow',
  'now',
  'epoch',
  'allballs',
  'Infinity',
  '+infinity',
  '12/07/2026',
  '07.12.2026',
  '2026.12.07',
  '20261207',
  '2026-12-07 10:00 America/New_York',
  '2026-12-07 10:00 PST',
  '2026-12-07 10:00 +5',
  '2026-12-7',
  ' 2026-12-07',
  '2026-12-07 ',
  'J2451187',
  '1999-008',
  '2026-12-07T10:00:00Z BC AD',
  'Mon Dec 07 10:00:00 2026 UTC',
];

/** ISO 8601 as to_jsonb() writes it and people write it, valid and not. */
const ISO = [
  '2026-12-07',
  '2026-12-07T10:00:00Z',
  '2026-12-07t10:00:00z',
  '2026-12-07 10:00',
  '2026-12-07T10:00',
  '2026-12-07T10:00:00.123456+02:00',
  '2026-12-07T10:00:00.1234565Z',
  '2026-12-07T10:00:00.9999999-05:30',
  '2026-12-07T10:00:00+0530',
  '2026-12-07T10:00:00+05',
  '2026-12-07T10:00:00-05:30:15',
  '2026-12-07T23:30:00-23:59',
  '2026-12-07T00:30:00+23:59',
  '2026-12-07-05',
  '2024-02-29',
  '2025-02-29',
  '2026-13-01',
  '2026-12-32',
  '2026-12-00',
  '2026-12-07T24:00:00Z',
  '2026-12-07T23:60:00Z',
  '2026-12-07T23:59:60Z',
  '2026-12-07T10:00:00+24:00',
  '2026-12-07T10:00:00+15:00',
  '2026-12-07T10:00:00+16:00',
  '0001-01-01T00:00:00Z',
  '0000-01-01',
  '0000-01-01 BC',
  '0044-03-15 BC',
  '0044-03-15T12:00:00+00:00 BC',
  '4714-11-24T00:00:00+00:00 BC',
  '4714-11-23T23:59:59+00:00 BC',
  '4714-11-24T00:30:00+01:00 BC',
  '12026-12-07T10:00:00+00:00',
  '294276-12-31T23:59:59.999999+00:00',
  '294276-12-31T23:00:00-05:00',
  '294277-01-01T00:00:00+00:00',
  '294277-01-01T03:00:00+05:00',
  '5874897-12-31',
  '5874898-01-01',
  '99999999999-01-01',
  '00002024-01-01',
  '0002024-01-01T10:00+05:30',
  '2024-01-01+05',
  '2024-01-01T10:00:00.1234567-0530',
  'infinity',
  '-infinity',
];

describe('a time attribute reads the same in segment SQL and in the engine', () => {
  it('reads ISO 8601 alike, valid or not, and every other form as NULL on both sides', async () => {
    await expectAgreement([...ISO, ...NOT_ISO, 42, true, null, { at: '2026-12-07' }, ['x']]);
    // Not an agreement on NULL alone: most of the ISO forms are times.
    const read = await sqlReads(ISO);
    expect(read.filter((row) => row.timestamptz !== null).length).toBeGreaterThan(20);
    expect(read.filter((row) => row.date !== null).length).toBeGreaterThan(25);
  });

  it("reads nothing but ISO 8601: PostgreSQL's other input forms are NULL in SQL too", async () => {
    const sql = await sqlReads(NOT_ISO);
    expect(sql.filter((row) => row.timestamptz !== null || row.date !== null)).toEqual([]);
    const [iso] = await sqlReads(['2026-12-07T10:00:00+02:00']);
    expect(iso).toEqual({ timestamptz: '1796630400000000', date: '1796601600000000' });
  });

  it('does not depend on the session: DateStyle and TimeZone change no answer', async () => {
    const values = [...ISO, ...NOT_ISO];
    const plain = await sqlReads(values);
    expect(await sqlReads(values, { datestyle: 'SQL, DMY', timezone: 'Asia/Kolkata' })).toEqual(
      plain,
    );
    expect(
      await sqlReads(values, { datestyle: 'Postgres, MDY', timezone: 'America/New_York' }),
    ).toEqual(plain);
    await expectAgreement(values, { datestyle: 'German', timezone: 'Pacific/Chatham' });
  });

  it('agrees on generated ISO-shaped text', async () => {
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
    const shaped = fc
      .tuple(
        fc.oneof(
          fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
          fc.integer({ min: 10_000, max: 6_000_000 }).map(String),
        ),
        two(13),
        two(32),
        fc.option(
          fc.tuple(
            fc.constantFrom('T', 't', ' '),
            two(25),
            two(61),
            fc.option(two(61)),
            fc.option(fc.stringMatching(/^[0-9]{1,9}$/)),
          ),
        ),
        fc.option(
          fc.oneof(
            fc.constantFrom('Z', 'z'),
            fc.tuple(
              fc.constantFrom('+', '-'),
              two(25),
              fc.option(fc.tuple(fc.constantFrom(':', ''), two(61))),
            ),
          ),
        ),
        fc.boolean(),
      )
      .map(([year, month, day, time, offset, bc]) => {
        let text = `${year}-${month}-${day}`;
        if (time) {
          const [sep, hour, minute, second, fraction] = time;
          text += `${sep}${hour}:${minute}`;
          if (second !== null) text += `:${second}${fraction === null ? '' : `.${fraction}`}`;
        }
        if (typeof offset === 'string') text += offset;
        else if (offset) text += `${offset[0]}${offset[1]}${offset[2] ? offset[2].join('') : ''}`;
        return bc ? `${text} BC` : text;
      });
    const samples = fc.sample(shaped, { numRuns: 2000, seed: 20261207 });
    await expectAgreement(samples);
  });
});

describe('a segment filter and a feature condition on a time attribute', () => {
  const ATTRIBUTES: AttributeTypes = { seen: 'timestamptz', day: 'date' };
  const NOW = new Date('2026-12-08T12:00:00Z');

  it.each(['yesterday', 'now', 'Dec 7 2026', '12/07/2026', '2026-12-07T10:00:00Z'])(
    'answer alike for %j',
    async (written) => {
      const [row] = await db.sql<{ id: string }[]>`
        insert into nudge_engine.contacts (email, attributes)
        values (${`${Math.random().toString(36).slice(2)}@example.com`},
                ${db.sql.json({ seen: written, day: written })})
        returning id`;
      const contact = await contactRow(db.sql, row!.id);
      for (const [field, filter] of [
        ['contact.seen', 'is.null'],
        ['contact.seen', 'lt.now()'],
        ['contact.day', 'is.null'],
        ['contact.day', 'eq.2026-12-07'],
      ] as const) {
        const condition = parseCondition({ [field]: filter }, { scopes: ['contact'] });
        const typeOf = typeResolver(undefined, ATTRIBUTES, [condition]);
        const js = compileJs(condition, { typeOf })({ now: NOW, contact }).result;
        const params = numberedParams(1, NOW);
        const where = compileSql(condition, {
          column: (ref) => fieldSql(ref, { attributes: ATTRIBUTES, params }),
          ...params,
        });
        const id = params.param(row!.id, 'uuid');
        const [answer] = await db.sql.unsafe(
          `select (${where}) is true as kept from nudge_engine.contacts c where c.id = ${id}`,
          params.values as never[],
        );
        expect(answer!.kept, `${field} ${filter}`).toBe(js);
      }
    },
  );
});
