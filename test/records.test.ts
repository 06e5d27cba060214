// records(): many rows as one parameter, and a row count the planner can use.
import type postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { records } from '../src/db/records.js';
import { useDatabase } from './harness/db.js';

const db = useDatabase();

/** The plan's node types and relations, flattened. */
function nodes(plan: Record<string, unknown>): string[] {
  const here = `${plan['Node Type']}${plan['Relation Name'] ? ` on ${plan['Relation Name']}` : ''}`;
  const children = (plan.Plans as Record<string, unknown>[] | undefined) ?? [];
  return [here, ...children.flatMap(nodes)];
}

describe('records', () => {
  it('updates two rows of a few thousand by their key, not by reading the table', async () => {
    await db.sql`create table runs (id bigint primary key, status text not null, result jsonb)`;
    await db.sql`insert into runs select n, 'pending', null from generate_series(1, 5000) n`;
    await db.sql`analyze runs`;
    const done = [
      { id: 17, result: { ok: true } },
      { id: 4242, result: null },
    ];
    const update = (from: postgres.PendingQuery<postgres.Row[]>) => db.sql`
      update runs r set status = 'succeeded', result = d.result from ${from} where r.id = d.id`;
    const explain = async (from: postgres.PendingQuery<postgres.Row[]>) => {
      const [row] = await db.sql`explain (format json) ${update(from)}`;
      return nodes((row!['QUERY PLAN'] as { Plan: Record<string, unknown> }[])[0]!.Plan);
    };

    // The function alone is reckoned at 100 rows: enough for the planner to
    // read the whole table instead of probing the key twice.
    const bare = await explain(
      db.sql`json_to_recordset(${JSON.stringify(done)}::text::json) as d(id bigint, result jsonb)`,
    );
    expect(bare).toContain('Seq Scan on runs');
    const counted = await explain(records(db.sql, done, 'id bigint, result jsonb', 'd'));
    expect(counted).not.toContain('Seq Scan on runs');
    expect(counted.some((n) => n.includes('Index') && n.endsWith('on runs'))).toBe(true);

    const result = await update(records(db.sql, done, 'id bigint, result jsonb', 'd'));
    expect(result.count).toBe(2);
    const changed = await db.sql`
      select id::int, status, result from runs where status = 'succeeded' order by id`;
    expect(changed).toEqual([
      { id: 17, status: 'succeeded', result: { ok: true } },
      { id: 4242, status: 'succeeded', result: null },
    ]);
  });

  it('keeps the rows in the order given', async () => {
    const rows = Array.from({ length: 300 }, (_, i) => ({ n: 300 - i, label: `row ${i}` }));
    const read = await db.sql<{ n: number; label: string }[]>`
      select * from ${records(db.sql, rows, 'n int, label text')}`;
    expect(read).toEqual(rows);
  });
});

describe('records: jsonb columns', () => {
  it('gives every kind of JSON value as json_to_recordset would fill a jsonb column', async () => {
    const values: unknown[] = [
      { a: 1, nested: { list: [1, 'two', null, true], deep: { x: 'é 😀 \u00e9' } } },
      [3, 2, 1],
      'a string with "quotes" and \\ backslash',
      42.5,
      1234567890123456,
      true,
      false,
      null,
      {},
      [],
    ];
    const rows = values.map((value, n) => ({ n, value, label: `row ${n}` }));
    const columns = 'n int, value jsonb, label text';
    const read = await db.sql<{ n: number; value: unknown; label: string }[]>`
      select * from ${records(db.sql, rows, columns)}`;
    const direct = await db.sql<{ n: number; value: unknown; label: string }[]>`
      select * from json_to_recordset(${JSON.stringify(rows)}::text::json) as r(${db.sql.unsafe(columns)})`;
    expect(read).toEqual(direct);
    expect(read.map((r) => r.value)).toEqual(values);
    const [types] = await db.sql<{ type: string }[]>`
      select pg_typeof(value)::text as type from ${records(db.sql, rows.slice(0, 1), columns)}`;
    expect(types!.type).toBe('jsonb');
  });

  it('refuses a column list it cannot read, naming the column', () => {
    expect(() => records(db.sql, [], 'n int, value numeric(10, 2)')).toThrow(
      /cannot read the column "value numeric\(10"/,
    );
  });
});
