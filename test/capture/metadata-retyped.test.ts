// A rows table's metadata columns retyped by hand ("nudge:id", "nudge:at"):
// the pump reads every rows table by them, in one statement, through a cast
// to their types, so one retyped to text still empties in order (text ids
// would sort '10' before '9') until the repair deploy. Plan names it, for an old rows table waiting to empty as for
// the one a capture writes to; deploy gives the columns their types back,
// keeping each row's id and capture time, so the rows arrive in order and
// dated as captured.
import type postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { listRowsTables } from '../../src/capture/state.js';
import { oldestCapture } from '../../src/capture/transports/outbox/sql/oldest-capture.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { ident } from '../../src/db/quote.js';
import { useDatabase } from '../harness/db.js';
import { capturesOf, pumpAll, rowsTableOf } from './drift.js';

const db = useDatabase();
const parcels = { schema: 'public', table: 'parcels' };
const shipping = capturesOf(parcels, ['insert'], 'shipping');
const plan = shipping.plan;
const deployNow = shipping.deploy;
const insertRowsTable = (sql: postgres.Sql) => rowsTableOf(sql, 'insert');

/**
 * Rows 'nine' and 'ten' captured with ids `last` - 1 and `last` (9 and 10, or
 * 99 and 100: as text the second sorts first), and their capture times.
 */
async function captureNineAndTen(sql: postgres.Sql, last: number): Promise<Date[]> {
  await sql`select setval('nudge.event_log_id_seq', ${last - 2})`;
  await sql`insert into parcels (label) values ('nine')`;
  await sql`insert into parcels (label) values ('ten')`;
  const rows = await sql<{ at: Date }[]>`
    select captured_at as at from nudge.pending() where id in (${last - 1}, ${last}) order by id`;
  return rows.map((r) => r.at);
}

/** What the pump has moved into the inbox since `after`: label, outbox id, time. */
async function delivered(sql: postgres.Sql, after: number) {
  return sql<{ label: string; key: string; occurred_at: Date }[]>`
    select new_row ->> 'label' as label, source_key as key, occurred_at
      from nudge_engine.inbox where id > ${after} order by id`;
}

async function lastInbox(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<{ id: number }[]>`
    select coalesce(max(id), 0)::int as id from nudge_engine.inbox`;
  return row!.id;
}

beforeAll(async () => {
  await db.sql`create table public.parcels (id bigserial primary key, label text)`;
  await migrateEngine(db.sql, db.url);
  await deployNow(db.sql);
});

describe('an old rows table with its metadata retyped', () => {
  it('is shown, given its types back by deploy, and emptied in order', async () => {
    const old = await insertRowsTable(db.sql);
    const times = await captureNineAndTen(db.sql, 10);
    // A new column: the capture writes a new rows table; the old one waits to empty.
    await db.sql`alter table parcels add column note text`;
    await deployNow(db.sql);
    const table = `nudge.${ident(old)}`;
    await db.sql.unsafe(`alter table ${table} alter column "nudge:id" type text`);
    await db.sql.unsafe(`alter table ${table} alter column "nudge:at" type text`);

    const p = await plan(db.sql);
    const item = p.items.find((i) => i.subject === `table nudge.${old}`)!;
    expect([item.action, item.drift]).toEqual([
      'replace',
      [
        'column "nudge:id" is text, not bigint',
        'column "nudge:at" is text, not timestamp with time zone',
      ],
    ]);
    expect(item.detail).toBe(
      'old outbox: rows table no capture uses, still holding rows: deploy makes "nudge:id" bigint and "nudge:at" timestamp with time zone again so the engine can empty it',
    );
    await deployNow(db.sql);
    expect((await plan(db.sql)).hasChanges).toBe(false);

    const before = await lastInbox(db.sql);
    expect(await pumpAll(db.sql)).toBe(2);
    expect(await delivered(db.sql, before)).toEqual([
      { label: 'nine', key: expect.stringMatching(/^9:/), occurred_at: times[0] },
      { label: 'ten', key: expect.stringMatching(/^10:/), occurred_at: times[1] },
    ]);
    await deployNow(db.sql); // drops the emptied table
    await db.sql`alter table parcels drop column note`;
    await deployNow(db.sql);
    expect((await plan(db.sql)).hasChanges).toBe(false);
  });
});

describe('the rows table a capture writes to, with its metadata retyped and rows in it', () => {
  it('is set aside with its types back, so the pump empties it in order', async () => {
    const name = await insertRowsTable(db.sql);
    const times = await captureNineAndTen(db.sql, 100);
    await db.sql.unsafe(
      `alter table nudge.${ident(name)} alter column "nudge:id" type text, alter column "nudge:at" type timestamp(0)`,
    );
    const p = await plan(db.sql);
    expect(p.items.find((i) => i.subject === 'public.parcels insert')!.drift).toEqual([
      `rows table nudge.${name} was changed by hand: column "nudge:id" is text, not bigint; column "nudge:at" is timestamp(0) without time zone, not timestamp with time zone; deploy makes it again (the rows it holds are set aside for the engine, then dropped)`,
    ]);
    await deployNow(db.sql);
    expect((await plan(db.sql)).hasChanges).toBe(false);

    const before = await lastInbox(db.sql);
    expect(await pumpAll(db.sql)).toBe(2);
    const rows = await delivered(db.sql, before);
    expect(rows.map((r) => [r.label, r.key.split(':')[0]])).toEqual([
      ['nine', '99'],
      ['ten', '100'],
    ]);
    // timestamp(0) kept the capture time to the second (read in the session's zone, UTC here).
    for (const [i, r] of rows.entries()) {
      expect(r.occurred_at.getUTCMilliseconds()).toBe(0);
      expect(Math.abs(r.occurred_at.getTime() - times[i]!.getTime())).toBeLessThanOrEqual(500);
    }
  });
});

describe('a rows table with its metadata retyped, before the repair deploy', () => {
  it('keeps the pump running: it reads the columns as their types, so rows arrive in order and dated as captured', async () => {
    const name = await insertRowsTable(db.sql);
    // 999 and 1000: as text '1000' sorts before '999'.
    const times = await captureNineAndTen(db.sql, 1000);
    await db.sql.unsafe(
      `alter table nudge.${ident(name)} alter column "nudge:id" type text, alter column "nudge:at" type text`,
    );
    // The overview's lag reads the oldest capture time through the same cast.
    expect(await oldestCapture(db.sql, await listRowsTables(db.sql))).toEqual(times[0]);
    const before = await lastInbox(db.sql);
    expect(await pumpAll(db.sql)).toBe(2);
    expect(await delivered(db.sql, before)).toEqual([
      { label: 'nine', key: expect.stringMatching(/^999:/), occurred_at: times[0] },
      { label: 'ten', key: expect.stringMatching(/^1000:/), occurred_at: times[1] },
    ]);
    await deployNow(db.sql);
    expect((await plan(db.sql)).hasChanges).toBe(false);
  });
});
