// A table wider than one json_build_object call takes (50 columns): each
// captured row still carries every column it should, through the row-level
// (UPDATE) body, the statement JSON body (enrichment) and the fallback that
// reads present columns by name.
import { describe, expect, it } from 'vitest';
import { deploy } from '../../src/capture/deploy.js';
import { buildCaptureObjects, capturedColumns } from '../../src/capture/triggers.js';
import { readCatalog } from '../../src/source/catalog.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();
const wide = { schema: 'public', table: 'wide' };
const COLUMNS = Array.from({ length: 120 }, (_, i) => `c${i}`);

describe('a table of 120 columns', () => {
  it('is captured whole on update, and by name after a column is dropped', async () => {
    await db.sql.unsafe(
      `CREATE TABLE public.wide (id int PRIMARY KEY, ${COLUMNS.map((c) => `${c} int`).join(', ')})`,
    );
    const table = (await readCatalog(db.sql)).get(wide)!;
    await deploy(
      db.sql,
      buildCaptureObjects([
        { table: wide, operation: 'update', by: 'test', ...capturedColumns(table) },
      ]),
    );
    await db.sql.unsafe(
      `INSERT INTO public.wide VALUES (1, ${COLUMNS.map((_, i) => i).join(', ')})`,
    );
    await db.sql`update public.wide set c119 = -1 where id = 1`;
    await db.sql`alter table public.wide drop column c7`;
    await db.sql`update public.wide set c0 = -2 where id = 1`;
    const rows = await db.sql<{ new_rows: Record<string, number>[] }[]>`
      select new_rows from nudge.event_log order by id`;
    expect(rows).toHaveLength(2);
    const [first, second] = rows.map((r) => r.new_rows[0]!);
    expect(Object.keys(first!)).toHaveLength(121);
    expect(first).toMatchObject({ id: 1, c0: 0, c50: 50, c118: 118, c119: -1 });
    // c7 is gone: the deployed body fails, the fallback reads the rest by name.
    expect(Object.keys(second!)).toHaveLength(120);
    expect(second).toMatchObject({ id: 1, c0: -2, c119: -1 });
    const [failed] = await db.sql<
      { n: number }[]
    >`select count(*)::int as n from nudge.failed_events`;
    expect(failed!.n).toBe(0);
  });
});
