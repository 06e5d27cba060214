// The replication consumer's rows against what PostgreSQL itself makes of
// them (to_jsonb of the row: what a capture trigger copies), over many
// types, and a table altered while it streams: columns added, dropped and
// retyped between writes, every row still stored once, with its columns as
// they were when it was written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Consumer, startConsumer } from '../../src/capture/transports/replication/consumer.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';
import { deployReplication, dropSlotAfterAll, migrated, replicated, slotFor } from './helpers.js';

const db = useDatabase();
dropSlotAfterAll(db);
const kinds = { schema: 'public', table: 'Kinds Of "Things"' };
const altered = { schema: 'public', table: 'altered' };
let consumer: Consumer;

const rowsOf = async (table: string, count: number) =>
  waitFor(async () => {
    const rows = (await replicated(db.sql)).filter((r) => r.table_name === table);
    return rows.length >= count ? rows : undefined;
  }, `${count} rows of ${table}`);

beforeAll(async () => {
  await db.sql.unsafe(`create type mood as enum ('ok', 'great');
    create table public."Kinds Of ""Things""" (
      id int primary key, "Big" bigint, small smallint, price numeric(12,3), ratio float8, nan float8,
      flag boolean, doc jsonb, raw json, at timestamptz, local timestamp, day date, tags text[],
      counts int[], nested int[][], who uuid, bytes bytea, feeling mood, quoted text, nothing text)`);
  await db.sql`create table public.altered (id int primary key, a text, b int)`;
  await migrated(db);
  await deployReplication(db, [
    { table: kinds, operation: 'insert', by: 'kinds' },
    { table: altered, operation: 'insert', by: 'altered' },
    { table: altered, operation: 'update', by: 'altered' },
  ]);
  consumer = startConsumer({
    url: db.url,
    slot: slotFor(db),
    captures: [
      { table: kinds, operation: 'insert' },
      { table: altered, operation: 'insert' },
      { table: altered, operation: 'update' },
    ],
    engine: db.sql,
    route: () => 0,
    log: { info: () => {}, warn: () => {} },
  });
});

afterAll(async () => {
  await consumer?.stop();
});

describe('replicated rows', () => {
  it('are the JSON PostgreSQL makes of the row, type for type', async () => {
    await db.sql.unsafe(`insert into public."Kinds Of ""Things""" values
      (1, 9007199254740991, -3, 1234.500, 0.25, 'NaN', true, '{"a": [1, {"b": null}]}', '{"x": 1}',
       '2026-12-05 09:26:25.123456+02', '2026-12-05 09:26:25', '2026-12-05', '{"a b", "c\\"d", NULL}',
       '{1,2,3}', '{{1,2},{3,4}}', 'b7e1c0de-0000-4000-8000-000000000001', '\\x00ff', 'great',
       'it''s "quoted"', NULL),
      (2, null, null, null, '-Infinity', null, false, 'null', '[]', 'infinity', null, null, '{}',
       '{}', '{}', null, null, 'ok', '', NULL)`);
    const rows = await rowsOf('Kinds Of "Things"', 2);
    const expected = await db.sql<{ row: Record<string, unknown> }[]>`
      select to_jsonb(t) as row from public.${db.sql('Kinds Of "Things"')} t order by id`;
    expect(rows.map((r) => r.new_row)).toEqual(expected.map((e) => e.row));
  });

  it('keep streaming through a table altered between writes', async () => {
    await db.sql`insert into public.altered values (1, 'one', 1)`;
    await db.sql`alter table public.altered add column c text default 'new'`;
    await db.sql`insert into public.altered values (2, 'two', 2, 'see')`;
    await db.sql`alter table public.altered drop column b`;
    await db.sql`update public.altered set a = 'uno' where id = 1`;
    await db.sql`alter table public.altered alter column a type varchar(10)`;
    await db.sql.begin(async (tx) => {
      await tx`insert into public.altered values (3, 'three', 'x')`;
      await tx`alter table public.altered rename column c to "C d"`;
      await tx`insert into public.altered values (4, 'four', 'y')`;
    });
    const rows = await rowsOf('altered', 5);
    expect(rows.map((r) => [r.operation, r.new_row])).toEqual([
      ['insert', { id: 1, a: 'one', b: 1 }],
      ['insert', { id: 2, a: 'two', b: 2, c: 'see' }],
      ['update', { id: 1, a: 'uno', c: 'new' }],
      ['insert', { id: 3, a: 'three', c: 'x' }],
      ['insert', { id: 4, a: 'four', 'C d': 'y' }],
    ]);
    expect(rows[2]!.old_row).toEqual({ id: 1, a: 'one', c: 'new' });
    expect(consumer.stats.errors).toBe(0);
  });
});
