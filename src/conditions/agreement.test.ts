// The property the whole module exists for: on random rows and random
// conditions, the JavaScript predicate and the SQL expression (run by a real
// PostgreSQL) keep exactly the same rows, for the condition and its negation
// (which together pin down unknown vs false), with numbered and inline params.
import fc from 'fast-check';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../../test/harness/db.js';
import { ident } from '../db/quote.js';
import { COLUMNS, NOW, row, tree, yamlValue } from './agreement.arbitraries.js';
import type { Condition, FieldRef } from './ast.js';
import { compileJs } from './js.js';
import { inlineLiterals, numberedParams } from './params.js';
import { parseCondition } from './parse.js';
import { compileSql } from './sql.js';
import { type ValueType, valueTypeOf } from './types.js';

const db = useDatabase();

const typeOf = (field: FieldRef): ValueType => valueTypeOf(COLUMNS[field.column]!);
const column = (field: FieldRef) => ({
  sql: `${field.scope === 'new' ? 't' : 'o'}.${ident(field.column)}`,
  type: typeOf(field),
});

describe('the JS and SQL compilers agree on PostgreSQL', () => {
  let conn: postgres.ReservedSql;

  beforeAll(async () => {
    conn = await db.sql.reserve();
    // An offset with half hours and daylight saving, so rows do not arrive in UTC.
    await conn`set timezone = 'America/St_Johns'`;
    await conn`create type mood as enum ('sad', 'ok', 'happy')`;
    const columns = Object.entries(COLUMNS).map(([name, type]) => `${ident(name)} ${type}`);
    await conn.unsafe(`create table t (id int primary key, ${columns.join(', ')})`);
  });

  afterAll(() => conn?.release());

  it('on random rows and conditions, for the condition, its negation and inline literals', async () => {
    let batches = 0;
    let kept = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(row, { minLength: 1, maxLength: 40 }),
        fc.array(tree, { minLength: 1, maxLength: 5 }),
        async (rows, trees) => {
          await conn`truncate t`;
          const records = rows.map((record, index) => ({ id: index + 1, ...record }));
          await conn.unsafe(
            'insert into t select * from jsonb_populate_recordset(null::t, $1::text::jsonb)',
            [JSON.stringify(records)],
          );
          const conditions = trees.map((node) =>
            parseCondition(yamlValue(node), { scopes: ['new', 'old'] }),
          );
          const params = numberedParams(1, NOW);
          const inline = inlineLiterals(NOW);
          const columns = conditions.flatMap((condition, index) => {
            const negation: Condition = { kind: 'not', item: condition, path: [] };
            return [
              `(${compileSql(condition, { column, ...params })}) is true as c${index}`,
              `(${compileSql(negation, { column, ...params })}) is true as n${index}`,
              `(${compileSql(condition, { column, ...inline })}) is true as i${index}`,
            ];
          });
          const result = await conn.unsafe(
            `select t.id, to_jsonb(t) as "row", ${columns.join(', ')}
               from t left join t as o on false order by t.id`,
            params.values as postgres.ParameterOrJSON<never>[],
          );
          const mismatches: unknown[] = [];
          conditions.forEach((condition, index) => {
            const matches = compileJs(condition, { typeOf });
            const negation = compileJs({ kind: 'not', item: condition, path: [] }, { typeOf });
            for (const record of result) {
              const ctx = { now: NOW, new: record.row as Record<string, unknown>, old: null };
              const js = { c: matches(ctx).result, n: negation(ctx).result };
              const sql = {
                c: record[`c${index}`],
                n: record[`n${index}`],
                i: record[`i${index}`],
              };
              if (js.c !== sql.c || js.n !== sql.n || sql.i !== sql.c) {
                mismatches.push({ condition: yamlValue(trees[index]!), row: record.row, js, sql });
              }
              batches++;
              if (js.c) kept++;
            }
          });
          expect(mismatches).toEqual([]);
        },
      ),
      { numRuns: 400 },
    );
    // Not vacuous: many (condition, row) pairs, and the conditions keep rows.
    expect(batches).toBeGreaterThan(1000);
    expect(kept).toBeGreaterThan(batches / 20);
  });
});
