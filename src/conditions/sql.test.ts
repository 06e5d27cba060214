// SQL compiler unit tests: the exact SQL and parameters for typical
// conditions, and that values (quotes, backslashes, %, unicode) reach the
// database intact through both numbered parameters and inline literals.
import { describe, expect, it } from 'vitest';
import { useDatabase } from '../../test/harness/db.js';
import { ConditionError, type FieldRef } from './ast.js';
import { inlineLiterals, numberedParams, quoteLiteral } from './params.js';
import { parseCondition } from './parse.js';
import { compileSql } from './sql.js';
import { sqlTypeOf, type ValueType, valueTypeOf } from './types.js';

const db = useDatabase();

const TYPES: Record<string, ValueType> = {
  status: 'text',
  total: 'numeric',
  count: 'integer',
  vip: 'boolean',
  created_at: 'timestamptz',
  seen_at: 'timestamp',
  birthday: 'date',
  id: 'uuid',
  meta: 'jsonb',
  mood: 'unknown',
};
const ALIASES: Record<string, string> = { new: 'n', old: 'o', contact: 'c' };
const column = (field: FieldRef) => ({
  sql: `${ALIASES[field.scope]}."${field.column}"`,
  type: TYPES[field.column] ?? 'unknown',
});
const CLOCK = new Date('2024-06-01T12:00:00.000Z');

function compile(condition: unknown, startAt = 1) {
  const params = numberedParams(startAt, CLOCK);
  const sql = compileSql(parseCondition(condition, { scopes: ['new', 'old', 'contact'] }), {
    column,
    ...params,
  });
  return { sql, values: params.values };
}

function inline(condition: unknown) {
  return compileSql(parseCondition(condition, { scopes: ['new', 'old', 'contact'] }), {
    column,
    ...inlineLiterals(),
  });
}

describe('compileSql', () => {
  it('compiles an implicit AND with typed placeholders', () => {
    expect(compile({ 'new.status': 'eq.paid', 'new.total': 'gt.100' })).toEqual({
      sql: '(n."status" = $1::text AND n."total" > $2::numeric)',
      values: ['paid', '100'],
    });
  });

  it('compiles or/not/in/is with SQL three-valued operators', () => {
    expect(
      compile({
        or: [{ 'new.status': 'in.(paid,"a,b")' }, { not: { 'old.vip': 'is.true' } }],
        'contact.count': 'not.lte.5',
        'new.id': 'is.not_null',
      }),
    ).toEqual({
      sql: '((n."status" IN ($1::text, $2::text) OR NOT (o."vip" IS TRUE)) AND NOT (c."count" <= $3::bigint) AND n."id" IS NOT NULL)',
      values: ['paid', 'a,b', '5'],
    });
  });

  it('orders and matches text under COLLATE "C"', () => {
    expect(compile({ 'new.status': 'gte.b', and: [{ 'new.status': 'ilike.*Ann*' }] }, 3)).toEqual({
      sql: '(n."status" COLLATE "C" >= $3::text AND n."status" COLLATE "C" ILIKE $4::text)',
      values: ['b', '%Ann%'],
    });
  });

  it('passes JSON keys and indexes as parameters', () => {
    expect(
      compile({ 'new.meta->a->0->>b': 'like.x%', 'new.meta->tags': 'in.(1,"[1, 2]")' }),
    ).toEqual({
      sql: '((n."meta" -> $1::text -> $2::bigint::int ->> $3::text) COLLATE "C" LIKE $4::text AND (n."meta" -> $5::text)::jsonb IN ($6::text::jsonb, $7::text::jsonb))',
      values: ['a', '0', 'b', 'x%', 'tags', '1', '[1, 2]'],
    });
  });

  it('puts the shared clock in one parameter and offsets in whole seconds', () => {
    expect(
      compile({
        'new.created_at': 'lt.now()-7d',
        'new.seen_at': 'gte.now()',
        'new.birthday': 'lt.now()+1h',
        'old.created_at': 'gt.2024-01-01T12:00:00.5+02:00',
      }),
    ).toEqual({
      sql:
        '(n."created_at" < ($1::timestamptz - $2::bigint * interval \'1 second\')' +
        ' AND n."seen_at" >= ($1::timestamptz AT TIME ZONE \'UTC\')' +
        " AND n.\"birthday\" < (($1::timestamptz + $3::bigint * interval '1 second') AT TIME ZONE 'UTC')" +
        ' AND o."created_at" > $4::text::timestamptz)',
      values: [CLOCK, '604800', '3600', '2024-01-01T10:00:00.500000+00:00'],
    });
  });

  it('normalises literals for their column type', () => {
    expect(
      compile({
        'new.count': 'in.(1e2,1.5,99999999999999999999)',
        'new.vip': 'eq.false',
        'new.id': 'eq.{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}',
        'new.birthday': 'gte.2024-02-29',
      }),
    ).toEqual({
      sql: '(n."count" IN ($1::bigint, $2::numeric, $3::numeric) AND n."vip" = $4::boolean AND n."id" = $5::uuid AND n."birthday" >= $6::text::date)',
      values: [
        '100',
        '1.5',
        '99999999999999999999',
        false,
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
        '2024-02-29',
      ],
    });
  });

  it('compares other types through the text of their JSON form', () => {
    expect(compile({ 'new.mood': 'eq.happy' })).toEqual({
      sql: '(to_jsonb(n."mood") #>> \'{}\') = $1::text',
      values: ['happy'],
    });
  });

  it('parenthesises column expressions that are not plain references', () => {
    const sql = compileSql(parseCondition({ 'new.x': 'eq.a' }, { scopes: ['new'] }), {
      column: () => ({ sql: "n.a || 'x'", type: 'text' }),
      ...inlineLiterals(),
    });
    expect(sql).toBe("(n.a || 'x') = 'a'::text");
  });

  it('renders inline literals for trigger DDL', () => {
    expect(
      inline({ 'new.status': "eq.it's", 'new.total': 'gt.1.5', 'new.created_at': 'lt.now()-1h' }),
    ).toBe(
      "(n.\"status\" = 'it''s'::text AND n.\"total\" > '1.5'::numeric AND n.\"created_at\" < (now() - '3600'::bigint * interval '1 second'))",
    );
    expect(inline({ 'new.status': 'eq.back\\slash', 'new.vip': 'eq.true' })).toBe(
      '(n."status" = E\'back\\\\slash\'::text AND n."vip" = \'true\'::boolean)',
    );
  });

  it('compiles an empty condition to TRUE', () => {
    expect(compile({})).toEqual({ sql: 'TRUE', values: [] });
  });

  it('reports type errors with the path, like the JS compiler', () => {
    expect(() => compile({ or: [{ 'new.status': 'eq.a' }, { 'new.total': 'gt.lots' }] })).toThrow(
      ConditionError,
    );
    try {
      compile({ or: [{ 'new.status': 'eq.a' }, { 'new.total': 'gt.lots' }] });
    } catch (error) {
      expect(error).toMatchObject({
        path: ['or', 1, 'new.total'],
        message: 'expected a number for new.total, got "lots"',
      });
    }
  });
});

describe('types', () => {
  it.each([
    ['text', 'text'],
    ['character varying(255)', 'text'],
    ['varchar', 'text'],
    ['citext', 'text'],
    ['int4', 'integer'],
    ['bigint', 'integer'],
    ['smallint', 'integer'],
    ['numeric(10,2)', 'numeric'],
    ['double precision', 'numeric'],
    ['real', 'numeric'],
    ['bool', 'boolean'],
    ['timestamp with time zone', 'timestamptz'],
    ['timestamp(3) with time zone', 'timestamptz'],
    ['timestamptz', 'timestamptz'],
    ['timestamp without time zone', 'timestamp'],
    ['timestamp', 'timestamp'],
    ['date', 'date'],
    ['uuid', 'uuid'],
    ['json', 'jsonb'],
    ['jsonb', 'jsonb'],
    ['pg_catalog.text', 'text'],
    ['"TEXT"', 'text'],
    ['text[]', 'unknown'],
    ['_text', 'unknown'],
    ['ARRAY', 'unknown'],
    ['character(3)', 'unknown'],
    ['interval', 'unknown'],
    ['order_status', 'unknown'],
  ] as const)('%s is %s', (name, type) => {
    expect(valueTypeOf(name)).toBe(type);
  });

  it('casts parameters to a SQL type', () => {
    expect(sqlTypeOf('integer')).toBe('bigint');
    expect(sqlTypeOf('unknown')).toBe('text');
    expect(sqlTypeOf('timestamptz')).toBe('timestamptz');
  });
});

const AWKWARD = [
  "it's",
  'back\\slash',
  "both ' and \\",
  "\\'; select 1; --",
  '%_*',
  'é 😀 ～ İ',
  '"quoted"',
  '$1 $$ $tag$',
  'line\nbreak\ttab',
  '',
];

describe('values reach PostgreSQL intact', () => {
  it.each(AWKWARD)('inline literal %j, under either standard_conforming_strings', async (value) => {
    const literal = inlineLiterals().param(value, 'text');
    const conn = await db.sql.reserve();
    try {
      for (const setting of ['on', 'off']) {
        await conn.unsafe(`set standard_conforming_strings = ${setting}`);
        await conn.unsafe('set escape_string_warning = off');
        const [row] = await conn.unsafe(`select ${literal} as value`);
        expect(row!.value).toBe(value);
      }
    } finally {
      await conn.unsafe('reset standard_conforming_strings');
      conn.release();
    }
  });

  it('refuses NUL characters in inline literals', () => {
    expect(() => quoteLiteral('a\0b')).toThrow('SQL literals cannot contain NUL characters');
    expect(() => inlineLiterals().param({}, 'text')).toThrow(
      'cannot write [object Object] as a SQL literal',
    );
  });

  it('matches awkward values with eq and like through both parameter styles', async () => {
    await db.sql`create table awkward (id int, status text)`;
    await db.sql`insert into awkward select i, v from unnest(${AWKWARD}::text[]) with ordinality as u(v, i)`;
    for (const [index, value] of AWKWARD.entries()) {
      const escaped = value.replace(/[\\%_*]/g, '\\$&');
      for (const condition of [
        { 'new.status': `eq.${value}` },
        { 'new.status': `like.${escaped}` },
      ]) {
        const parsed = parseCondition(condition, { scopes: ['new'] });
        const params = numberedParams();
        const numbered = compileSql(parsed, {
          column: () => ({ sql: 'status', type: 'text' }),
          ...params,
        });
        const literal = compileSql(parsed, {
          column: () => ({ sql: 'status', type: 'text' }),
          ...inlineLiterals(),
        });
        const byParams = await db.sql.unsafe(
          `select id from awkward where ${numbered}`,
          params.values as never[],
        );
        const byLiterals = await db.sql.unsafe(`select id from awkward where ${literal}`);
        expect(byParams.map((row) => row.id)).toEqual([index + 1]);
        expect(byLiterals.map((row) => row.id)).toEqual([index + 1]);
      }
    }
  });

  it('keeps microseconds and JSON strings through postgres.js', async () => {
    const params = numberedParams();
    const ts = params.param('2024-01-01T00:00:00.123456+00:00', 'timestamptz');
    const local = params.param('2024-01-01T00:00:00.000001', 'timestamp');
    const json = params.param('"pro"', 'jsonb');
    const [row] = await db.sql.unsafe(
      `select extract(microseconds from ${ts}) as micros, ${local}::text as local, ${json} = '"pro"'::jsonb as same`,
      params.values as never[],
    );
    expect(row).toEqual({ micros: '123456', local: '2024-01-01 00:00:00.000001', same: true });
  });
});
