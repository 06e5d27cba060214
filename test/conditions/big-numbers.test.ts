// Conditions on numbers a double cannot hold, checked as the engine runs
// them against the answer PostgreSQL gives: the row read through a client
// made as the engine's are (db/tls.ts postgresFor, whose json parser keeps
// them exact: db/json.ts), the JS predicate on it, and the SQL compiler's
// expression run by the database, for the condition and its negation.
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Condition } from '../../src/conditions/ast.js';
import {
  compileJs,
  compileSql,
  numberedParams,
  parseCondition,
} from '../../src/conditions/index.js';
import { valueTypeOf } from '../../src/conditions/types.js';
import { postgresFor } from '../../src/db/tls.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();
const NOW = new Date('2024-06-01T12:00:00Z');
let sql: postgres.Sql;

type Case = [type: string, value: string, field: string, filter: string, expected: boolean];

const CASES: Case[] = [
  // 2^53 + 1, which a double reads as 2^53.
  ['bigint', '9007199254740993', 'new.v', 'eq.9007199254740993', true],
  ['bigint', '9007199254740993', 'new.v', 'eq.9007199254740992', false],
  ['bigint', '9007199254740993', 'new.v', 'neq.9007199254740992', true],
  ['bigint', '9007199254740993', 'new.v', 'gt.9007199254740992', true],
  ['bigint', '9007199254740993', 'new.v', 'lt.9007199254740993', false],
  ['bigint', '9007199254740993', 'new.v', 'gte.9007199254740993.5', false],
  ['bigint', '9007199254740993', 'new.v', 'in.(1,9007199254740993)', true],
  ['bigint', '9007199254740993', 'new.v', 'in.(1,9007199254740992)', false],
  ['bigint', '9223372036854775807', 'new.v', 'gt.9223372036854775806', true],
  ['bigint', '-9223372036854775808', 'new.v', 'lt.-9223372036854775807', true],
  // numeric beyond 15 significant digits, above and below the point.
  ['numeric', '12345678901234567.25', 'new.v', 'lt.12345678901234567.3', true],
  ['numeric', '12345678901234567.25', 'new.v', 'eq.12345678901234567.25', true],
  ['numeric', '12345678901234567.25', 'new.v', 'gt.12345678901234567.2', true],
  ['numeric', '12345678901234567.25', 'new.v', 'eq.12345678901234568', false],
  ['numeric', '0.1000000000000000055511151231257827', 'new.v', 'eq.0.1', false],
  ['numeric', '0.1000000000000000055511151231257827', 'new.v', 'gt.0.1', true],
  ['numeric(40,20)', '1.50000000000000000001', 'new.v', 'gt.1.5', true],
  // jsonb numbers compare by value (->), and ->> is the text PostgreSQL prints.
  ['jsonb', '{"n": 123456789012345678}', 'new.v->n', 'eq.123456789012345678', true],
  ['jsonb', '{"n": 123456789012345678}', 'new.v->n', 'eq.123456789012345680', false],
  ['jsonb', '{"n": 123456789012345678}', 'new.v->>n', 'eq.123456789012345678', true],
  ['jsonb', '{"n": 12345678901234567.50}', 'new.v->>n', 'eq.12345678901234567.50', true],
  ['jsonb', '{"n": 123456789012345678}', 'new.v', 'eq.{"n": 123456789012345678}', true],
  ['jsonb', '{"n": 123456789012345678}', 'new.v', 'eq.{"n": 123456789012345679}', false],
  ['jsonb', '[9007199254740993, "x"]', 'new.v->0', 'eq.9007199254740993', true],
  ['json', '{"n": 9007199254740993}', 'new.v->>n', 'eq.9007199254740993', true],
  // Such a number is a scalar: no keys, and `-> 0` is itself.
  ['jsonb', '{"n": 123456789012345678}', 'new.v->n->text', 'is.null', true],
  ['jsonb', '{"n": 123456789012345678}', 'new.v->n->0', 'eq.123456789012345678', true],
  // Other types compare by the text of their JSON form.
  ['bigint[]', '{1,9007199254740993}', 'new.v', 'eq.[1, 9007199254740993]', true],
  ['bigint[]', '{1,9007199254740993}', 'new.v', 'eq.[1, 9007199254740992]', false],
];

function truth(kept: boolean, negationKept: boolean): boolean | null {
  return kept ? true : negationKept ? false : null;
}

beforeAll(() => {
  sql = postgresFor(db.url, { onnotice: () => {}, max: 1 });
});

afterAll(async () => {
  await sql?.end();
});

describe('numbers a double cannot hold: the JS predicate agrees with PostgreSQL', () => {
  it.each(CASES)('%s %s: %s %s is %s', async (type, value, field, filter, expected) => {
    const condition = parseCondition({ [field]: filter }, { scopes: ['new'] });
    const negation: Condition = { kind: 'not', item: condition, path: [] };
    const valueType = valueTypeOf(type);
    const column = () => ({ sql: 'x.v', type: valueType });
    const params = numberedParams(2, NOW);
    const [result] = await sql.unsafe(
      `select to_jsonb(x) as "row",
              (${compileSql(condition, { column, ...params })}) is true as kept,
              (${compileSql(negation, { column, ...params })}) is true as negation_kept
         from (select $1::text::${type} as v) as x`,
      [value, ...params.values] as never[],
    );
    const js = (c: Condition) =>
      compileJs(c, { typeOf: () => valueType })({ now: NOW, new: result!.row }).result;
    expect(truth(result!.kept, result!.negation_kept)).toBe(expected);
    expect(truth(js(condition), js(negation))).toBe(expected);
  });
});
