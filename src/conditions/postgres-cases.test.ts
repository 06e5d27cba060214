// Hand-picked edge cases, each checked three ways against the answer
// PostgreSQL 17 gives: the SQL compiler run by the database (numbered and
// inline parameters) and the JS predicate on the same row's to_jsonb().
// The expected column documents the semantics; true/false/null is SQL's.
import { beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../../test/harness/db.js';
import type { Condition } from './ast.js';
import { compileJs } from './js.js';
import { inlineLiterals, numberedParams } from './params.js';
import { parseCondition } from './parse.js';
import { compileSql } from './sql.js';
import { valueTypeOf } from './types.js';

const db = useDatabase();
const NOW = new Date('2024-06-01T12:00:00.123Z');

type Case = [
  type: string,
  value: string | null,
  field: string,
  filter: string,
  expected: boolean | null,
];

const CASES: Case[] = [
  // ilike folds ASCII only (COLLATE "C"); * is PostgREST's %.
  ['text', 'É', 'new.v', 'ilike.é', false],
  ['text', 'A', 'new.v', 'ilike.a', true],
  ['text', 'ß', 'new.v', 'ilike.SS', false],
  ['text', 'İ', 'new.v', 'ilike.i', false],
  ['text', 'Straße', 'new.v', 'ilike.STRA*', true],
  ['text', 'a%b', 'new.v', 'like.a\\%b', true],
  ['text', 'axb', 'new.v', 'like.a\\%b', false],
  ['text', 'a*b', 'new.v', 'like.a\\*b', true],
  ['text', 'axxb', 'new.v', 'like.a*b', true],
  ['text', 'a\nb', 'new.v', 'like.a_b', true],
  ['text', 'a😀b', 'new.v', 'like.a_b', true],
  ['text', 'a\\b', 'new.v', 'like.a\\\\b', true],
  ['text', null, 'new.v', 'like.*', null],
  ['text', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab', 'new.v', 'like.%a%a%a%a%a%a%a%a%c', false],
  // Text order is code-point order whatever the locale.
  ['text', '～', 'new.v', 'lt.😀', true],
  ['text', 'B', 'new.v', 'lt.a', true],
  ['text', 'é', 'new.v', 'gt.z', true],
  ['text', null, 'new.v', 'neq.x', null],
  ['text', null, 'new.v', 'is.null', true],
  ['text', null, 'new.v', 'not.is.null', false],
  ['character varying(5)', 'b,c', 'new.v', 'in.(a,"b,c")', true],
  ['text', 'say "hi"', 'new.v', 'in.("say \\"hi\\"")', true],
  ['text', ' a', 'new.v', 'in.(" a")', true],
  ['text', ' a', 'new.v', 'in.( a)', false],
  ['text', null, 'new.v', 'not.in.(a,b)', null],
  // Numbers are exact decimals; NaN sorts above everything.
  ['numeric', '0.1', 'new.v', 'eq.0.10000000000000001', false],
  ['numeric', '1.50', 'new.v', 'eq.1.5', true],
  ['numeric', 'NaN', 'new.v', 'gt.1e300', true],
  ['numeric', '-Infinity', 'new.v', 'lt.-1e300', true],
  ['integer', '2', 'new.v', 'gt.1.5', true],
  ['integer', '2', 'new.v', 'eq.2.0', true],
  ['smallint', '2', 'new.v', 'lt.99999999999999999999', true],
  ['bigint', '9007199254740991', 'new.v', 'eq.9007199254740991', true],
  ['double precision', '0.1', 'new.v', 'eq.0.1', true],
  ['integer', null, 'new.v', 'gt.1', null],
  // Timestamps at microsecond precision; zone-less values are UTC.
  ['timestamptz', '2024-06-01 12:00:00.123001+00', 'new.v', 'gt.2024-06-01T12:00:00.123Z', true],
  ['timestamptz', '2024-06-01 12:00:00.123+00', 'new.v', 'eq.now()', true],
  ['timestamptz', '2024-05-25 12:00:00.123+00', 'new.v', 'eq.now()-7d', true],
  ['timestamptz', '2024-05-25 12:00:00.123+00', 'new.v', 'lt.now()-7d', false],
  ['timestamptz', '2024-05-25 12:00:00.122999+00', 'new.v', 'lt.now()-7d', true],
  ['timestamptz', 'infinity', 'new.v', 'gt.now()+1h', true],
  ['timestamptz', '2024-06-01 12:00:00+00', 'new.v', 'eq.2024-06-01T14:00:00+02:00', true],
  ['timestamp', '2024-06-01 12:00:00.123', 'new.v', 'eq.now()', true],
  ['timestamp', '2024-06-01 14:00:00', 'new.v', 'eq.2024-06-01T16:00:00+02:00', true],
  ['date', '2024-06-01', 'new.v', 'lt.now()', true],
  ['date', '2024-06-01', 'new.v', 'eq.2024-06-01', true],
  ['date', 'infinity', 'new.v', 'gt.2024-06-01', true],
  // Booleans and `is`, which never answers unknown.
  ['boolean', null, 'new.v', 'is.unknown', true],
  ['boolean', null, 'new.v', 'not.is.true', true],
  ['boolean', null, 'new.v', 'eq.true', null],
  ['boolean', 'false', 'new.v', 'lt.true', true],
  [
    'uuid',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    'new.v',
    'eq.A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
    true,
  ],
  [
    'uuid',
    'ffffffff-0000-0000-0000-000000000000',
    'new.v',
    'gt.0fffffff-ffff-ffff-ffff-ffffffffffff',
    true,
  ],
  // JSON: -> keeps JSON null as a value, ->> turns it into NULL.
  ['jsonb', '{"a": 1.0}', 'new.v->a', 'eq.1', true],
  ['jsonb', '{"a": null}', 'new.v->a', 'is.null', false],
  ['jsonb', '{"a": null}', 'new.v->>a', 'is.null', true],
  ['jsonb', '{}', 'new.v->a', 'is.null', true],
  ['jsonb', '"x"', 'new.v->0', 'eq."x"', true],
  ['jsonb', '"x"', 'new.v->1', 'is.null', true],
  ['jsonb', '[1, 2, 3]', 'new.v->-1', 'eq.3', true],
  ['jsonb', '{"0": 1}', 'new.v->0', 'is.null', true],
  ['jsonb', '{"a": {"bb": 1, "c": 2}}', 'new.v->>a', 'eq.{"c": 2, "bb": 1}', true],
  ['jsonb', '{"a": 1e-7}', 'new.v->>a', 'eq.0.0000001', true],
  ['jsonb', '{"a": [1, "x"]}', 'new.v->a', 'eq.[1, "x"]', true],
  ['jsonb', '{"a": 1}', 'new.v', 'eq.{"a": 1.00}', true],
  ['jsonb', '{"a": {"b": "pro"}}', 'new.v->a->>b', 'eq.pro', true],
  ['json', '{"a": "x"}', 'new.v->>a', 'eq.x', true],
  ['json', '{"a": "x", "b": [1]}', 'new.v', 'eq.{"b": [1], "a": "x"}', true],
  // Other types compare by the text of their JSON form.
  ['mood', 'happy', 'new.v', 'eq.happy', true],
  ['mood', 'happy', 'new.v', 'ilike.HAP*', true],
  ['text[]', '{a,"b c"}', 'new.v', 'eq.["a", "b c"]', true],
  ['interval', '1 day', 'new.v', 'eq.1 day', true],
  ['character(3)', 'x', 'new.v', 'eq.x  ', true],
];

function truth(kept: boolean, negationKept: boolean): boolean | null {
  return kept ? true : negationKept ? false : null;
}

describe('edge cases against PostgreSQL', () => {
  beforeAll(async () => {
    await db.sql`create type mood as enum ('sad', 'ok', 'happy')`;
  });

  it.each(CASES)('%s %j: %s %s is %s', async (type, value, field, filter, expected) => {
    const condition = parseCondition({ [field]: filter }, { scopes: ['new'] });
    const negation: Condition = { kind: 'not', item: condition, path: [] };
    const valueType = valueTypeOf(type);
    const column = () => ({ sql: 'x.v', type: valueType });
    const params = numberedParams(2, NOW);
    const inline = inlineLiterals(NOW);
    const [result] = await db.sql.unsafe(
      `select to_jsonb(x) as "row",
              (${compileSql(condition, { column, ...params })}) is true as kept,
              (${compileSql(negation, { column, ...params })}) is true as negation_kept,
              (${compileSql(condition, { column, ...inline })}) is true as inline_kept
         from (select $1::text::${type} as v) as x`,
      [value, ...params.values] as never[],
    );
    const ctx = { now: NOW, new: result!.row };
    const js = (c: Condition) => compileJs(c, { typeOf: () => valueType })(ctx).result;
    expect(truth(result!.kept, result!.negation_kept)).toBe(expected);
    expect(truth(js(condition), js(negation))).toBe(expected);
    expect(result!.inline_kept).toBe(result!.kept);
  });
});
