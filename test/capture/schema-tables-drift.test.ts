// Drift of the nudge schema's tables beyond their columns: event_log's key
// (the pump claims it in id order) and a migration's index dropped, an index
// added to the tables every captured write goes to, a trigger added to one
// (a BEFORE trigger returning NULL drops captured rows without a word).
// Plan names each; deploy restores or drops them, and capture works again.
import { beforeAll, describe, expect, it } from 'vitest';
import { ident } from '../../src/db/quote.js';
import { useDatabase } from '../harness/db.js';
import { capturesOf, rowsTableOf } from './drift.js';
import { captured } from './outbox.js';

const db = useDatabase();
const orders = { schema: 'public', table: 'orders' };

const { plan, deploy } = capturesOf(orders, ['insert', 'update'], 'orders');

beforeAll(async () => {
  await db.sql`create table public.orders (id bigserial primary key, status text)`;
  await deploy(db.sql);
});

describe('the nudge schema’s tables changed by hand', () => {
  it('are named by plan and put right by deploy', async () => {
    const rows = await rowsTableOf(db.sql, 'insert');
    await db.sql.unsafe(`
      ALTER TABLE nudge.event_log DROP CONSTRAINT event_log_pkey;
      DROP INDEX nudge.event_archive_consumed_idx;
      CREATE INDEX by_hand_status ON nudge.${ident(rows)} (status);
      CREATE INDEX by_hand_at ON nudge.event_log (captured_at);
      CREATE INDEX on_failed ON nudge.failed_events (failed_at);
      CREATE FUNCTION public.swallow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
      CREATE TRIGGER swallow BEFORE INSERT ON nudge.event_log FOR EACH ROW EXECUTE FUNCTION public.swallow();
      CREATE TRIGGER swallow_rows BEFORE INSERT ON nudge.${ident(rows)} FOR EACH ROW EXECUTE FUNCTION public.swallow()`);

    // Captured rows vanish: the triggers drop them, and no error says so.
    await db.sql`insert into public.orders (status) values ('new')`;
    await db.sql`update public.orders set status = 'paid'`;
    expect(await captured(db.sql)).toEqual([]);

    const item = (await plan(db.sql)).items.find((i) => i.subject === 'nudge tables')!;
    expect(item.action).toBe('replace');
    expect(item.drift).toEqual([
      'the primary key of nudge.event_log was dropped by hand (the engine reads the outbox in id order: every claim would sort the whole table)',
      'index nudge.event_archive_consumed_idx was dropped by hand',
      'index by_hand_at was added to nudge.event_log by hand (every captured write would update it)',
      `index by_hand_status was added to nudge.${rows} by hand (every captured write would update it)`,
      "trigger swallow was added to nudge.event_log by hand (it would run in the app's writes; one BEFORE INSERT that returns NULL drops captured rows)",
      `trigger swallow_rows was added to nudge.${rows} by hand (it would run in the app's writes; one BEFORE INSERT that returns NULL drops captured rows)`,
    ]);

    await deploy(db.sql);
    expect((await plan(db.sql)).hasChanges).toBe(false);
    const [keyed] = await db.sql<{ keyed: boolean }[]>`
      select exists (select from pg_constraint where conrelid = 'nudge.event_log'::regclass
                      and contype = 'p') as keyed`;
    expect(keyed!.keyed).toBe(true);
    // An index on failed_events, which no capture writes in the normal course, is left.
    expect(await db.sql`select from pg_class where relname = 'on_failed'`).toHaveLength(1);
    await db.sql`insert into public.orders (status) values ('kept')`;
    await db.sql`update public.orders set status = 'sent' where status = 'kept'`;
    expect((await captured(db.sql)).map((c) => c.operation)).toEqual(['insert', 'update']);
  });
});
