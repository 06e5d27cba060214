// Two `nudge capture retry` runs at once (two terminals, or a run started
// again while the first is still going) take different rows: each row a
// trigger could not capture reaches the inbox once, and leaves
// nudge.failed_events once.
import { beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../src/capture/deploy.js';
import { retryFailures } from '../../src/capture/failures/retry.js';
import { buildCaptureObjects } from '../../src/capture/triggers.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();
const ROWS = 60;

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  await db.sql`create table public.orders (id bigint primary key, email text)`;
  // The nudge schema, with failed_events: what a deploy makes.
  await deploy(db.sql, buildCaptureObjects([]));
  await db.sql`
    insert into nudge.failed_events (schema_name, table_name, operation, new_row, sqlstate, message)
    select 'public', 'orders', 'insert', jsonb_build_object('id', i, 'email', 'o' || i || '@x.io'),
           '42501', 'permission denied for table audit'
      from generate_series(1, ${ROWS}) as i`;
});

describe('two capture retry runs at once', () => {
  it('deliver each row once between them, and leave nothing behind', async () => {
    const runs = await Promise.all(
      [0, 1].map(() => retryFailures({ source: db.sql, engine: db.sql, route: () => 0, batch: 4 })),
    );
    expect(runs.map((r) => r.kept)).toEqual([[], []]);
    expect(runs[0]!.delivered + runs[1]!.delivered).toBe(ROWS);
    expect(runs[0]!.stored + runs[1]!.stored).toBe(ROWS);
    const [inbox] = await db.sql<{ rows: number; keys: number; orders: number }[]>`
      select count(*)::int as rows, count(distinct source_key)::int as keys,
             count(distinct new_row ->> 'id')::int as orders
        from nudge_engine.inbox where source_key like 'failed:%'`;
    expect(inbox).toEqual({ rows: ROWS, keys: ROWS, orders: ROWS });
    const [left] = await db.sql<
      { n: number }[]
    >`select count(*)::int as n from nudge.failed_events`;
    expect(left!.n).toBe(0);
  });
});
