// engine.retention: processed inbox rows older than ingest_log and decisions
// older than decisions are deleted; unprocessed events never are, whatever
// their age; and consumed outbox rows are archived while retention.outbox is
// set, and deleted from the archive once older than it.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { pumpOnce } from '../../src/capture/transports/outbox/pump.js';
import { loadConfig } from '../../src/config/load.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { insertInbox } from '../../src/engine/intake/inbox.js';
import { applyRetention } from '../../src/engine/wiring/runtime.js';
import { useDatabase } from '../harness/db.js';
import { testEngine } from './harness.js';

const db = useDatabase();

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
});

async function project(yaml: string) {
  const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-retention-'));
  await writeFile(path.join(cwd, 'nudge.yaml'), yaml);
  return loadConfig({ cwd, env: { DATABASE_URL: db.url } });
}

describe('engine.retention', () => {
  it('deletes processed inbox rows and decisions past their retention, and nothing else', async () => {
    const config = await project('engine: { retention: { ingest_log: 2d, decisions: 1d } }\n');
    const event = (key: string) => ({
      source: 'api' as const,
      sourceKey: key,
      eventName: 'x',
      occurredAt: new Date(),
    });
    await insertInbox(db.sql, ['old-done', 'old-pending', 'new-done'].map(event));
    await db.sql`update nudge_engine.inbox set received_at = now() - interval '3 days'
                  where source_key in ('old-done', 'old-pending')`;
    await db.sql`update nudge_engine.inbox set processed_at = now()
                  where source_key in ('old-done', 'new-done')`;
    await db.sql`insert into nudge_engine.decisions (at, outcome, reason)
                 values (now() - interval '25 hours', 'skipped', 'old'), (now(), 'skipped', 'new')`;

    await applyRetention(db.sql, config);

    const inbox = await db.sql<{ source_key: string }[]>`
      select source_key from nudge_engine.inbox order by source_key`;
    expect(inbox.map((r) => r.source_key)).toEqual(['new-done', 'old-pending']);
    const decisions = await db.sql<{ reason: string }[]>`select reason from nudge_engine.decisions`;
    expect(decisions.map((r) => r.reason)).toEqual(['new']);
  });

  it("keeps replicated rows until the consumer's mark covers them, or an hour with no mark, whatever ingest_log says", async () => {
    await db.sql`delete from nudge_engine.inbox`;
    const event = (source: 'replication' | 'api', key: string) => ({
      source,
      sourceKey: key,
      eventName: 'x',
      occurredAt: new Date(),
    });
    await insertInbox(db.sql, [
      event('replication', '0/10:0'),
      event('replication', '0/20:0'),
      event('replication', '0/30:0'),
      event('api', 'api-1'),
    ]);
    await db.sql`update nudge_engine.inbox set processed_at = now(),
                  received_at = now() - case source_key when '0/10:0' then interval '61 minutes'
                                                        when '0/20:0' then interval '59 minutes'
                                                        else interval '5 seconds' end`;
    const keys = async () =>
      (
        await db.sql<{ source_key: string }[]>`
          select source_key from nudge_engine.inbox order by source_key`
      ).map((r) => r.source_key);
    const now = await project('engine: { retention: { ingest_log: 0s } }\n');
    // No mark (a source server that will not say who it is): an hour.
    await applyRetention(db.sql, now);
    expect(await keys()).toEqual(['0/20:0', '0/30:0']);
    // A mark moved 10 s ago covers what was received before it, not after.
    await db.sql`insert into nudge_engine.replication_marks (slot, source, lsn, n, updated_at)
                 values ('nudge', 'server/1', '0/20', 0, now() - interval '10 seconds')`;
    await applyRetention(db.sql, now);
    expect(await keys()).toEqual(['0/30:0']);
    await db.sql`update nudge_engine.replication_marks set updated_at = now()`;
    await applyRetention(db.sql, now);
    expect(await keys()).toEqual([]);
    await db.sql`delete from nudge_engine.replication_marks`;
  });

  it('keeps consumed outbox rows in the archive for retention.outbox, then deletes them', async () => {
    await db.sql`create table public.orders (id bigint primary key, email text)`;
    await testEngine(db, {
      'seen.yaml': `name: seen
trigger: { table: public.orders, on: insert }
contact: { email: new.email }
stages:
  - name: tracked
    do: [{ track: { event: order_seen } }]
`,
    });
    await db.sql`insert into public.orders values (1, 'a@example.com'), (2, 'b@example.com')`;
    await db.sql`insert into public.orders values (3, 'c@example.com')`;
    const moved = await pumpOnce({ source: db.sql, engine: db.sql, route: () => 0, archive: true });
    expect(moved).toBe(3);
    const archived = async () =>
      (await db.sql<{ n: number }[]>`select count(*)::int as n from nudge.event_archive`)[0]!.n;
    const [outbox] = await db.sql<{ n: number }[]>`select count(*)::int as n from nudge.event_log`;
    expect(outbox!.n).toBe(0);
    expect(await archived()).toBe(3); // one archive row per typed row

    const config = await project('engine: { retention: { outbox: 1h } }\n');
    await applyRetention(db.sql, config, db.sql);
    expect(await archived()).toBe(3);
    expect(await db.sql`select new_rows, txid from nudge.event_archive order by id`).toEqual([
      { new_rows: [{ id: 1, email: 'a@example.com' }], txid: null },
      { new_rows: [{ id: 2, email: 'b@example.com' }], txid: null },
      { new_rows: [{ id: 3, email: 'c@example.com' }], txid: null },
    ]);
    await db.sql`update nudge.event_archive set consumed_at = now() - interval '2 hours'
                  where id = (select min(id) from nudge.event_archive)`;
    await applyRetention(db.sql, config, db.sql);
    expect(await archived()).toBe(2);
  });

  it('reads no table whole when there is nothing to delete', async () => {
    // It runs every 5 s: with 30,000 recent rows in each table (event_archive
    // is there since the test above), every statement must walk an index from
    // the oldest row, not scan the table. Not analyzed, as a table whose
    // writes outpace autovacuum: the planner then guesses that a third of the
    // rows are past the cutoff, and a filter with a limit reads the table.
    // And run first while the tables were small, on the same connection, as
    // an engine does from its start: a prepared statement run five times gets
    // one plan for any values (a generic plan), kept as the table grows.
    const config = await project('engine: { retention: { ingest_log: 1d, outbox: 1h } }\n');
    const scans = await db.sql.begin(async (tx) => {
      for (let i = 0; i < 6; i++) await applyRetention(tx, config, tx);
      await tx`
        insert into nudge_engine.inbox (source, source_key, event_name, occurred_at, processed_at)
        select 'api', 'recent-' || g, 'x', now(), now() from generate_series(1, 30000) g`;
      await tx`
        insert into nudge_engine.decisions (outcome, reason)
        select 'skipped', 'recent' from generate_series(1, 30000) g`;
      await tx`
        insert into nudge.event_archive (id, schema_name, table_name, operation, row_count, captured_at)
        select 1000 + g, 'public', 'orders', 'insert', 1, now() from generate_series(1, 30000) g`;
      // The backend's counts not yet flushed to pg_stat_* (earlier
      // transactions' included): what the purge adds is the difference.
      const counts = () => tx<{ table: string; seq_scan: number; idx_scan: number }[]>`
        select schemaname || '.' || relname as table, seq_scan::int, idx_scan::int
          from pg_stat_xact_user_tables
         where relid in ('nudge_engine.inbox'::regclass, 'nudge_engine.decisions'::regclass,
                         'nudge.event_archive'::regclass)
         order by 1`;
      const before = await counts();
      await applyRetention(tx, config, tx);
      return (await counts()).map((after, i) => ({
        table: after.table,
        seq_scan: after.seq_scan - before[i]!.seq_scan,
        idx_scan: after.idx_scan - before[i]!.idx_scan,
      }));
    });
    // Each statement used an index and read no table from end to end.
    expect(scans.map((s) => [s.table, s.seq_scan, s.idx_scan > 0])).toEqual([
      ['nudge.event_archive', 0, true],
      ['nudge_engine.decisions', 0, true],
      ['nudge_engine.inbox', 0, true],
    ]);
    const [left] = await db.sql<{ n: number }[]>`
      select (select count(*) from nudge_engine.decisions where reason = 'recent')::int as n`;
    expect(left!.n).toBe(30000);
  });

  it('deletes decisions from the oldest on, and none while the oldest is still kept', async () => {
    const reasons = async () =>
      (
        await db.sql<{ reason: string }[]>`select reason from nudge_engine.decisions order by id`
      ).map((r) => r.reason);
    const config = await project('engine: { retention: { decisions: 1d } }\n');
    await db.sql`delete from nudge_engine.decisions`;
    await db.sql`insert into nudge_engine.decisions (at, outcome, reason)
                 values (now(), 'skipped', 'kept'),
                        (now() - interval '3 days', 'skipped', 'dated earlier (the clock moved back)')`;
    await applyRetention(db.sql, config);
    expect(await reasons()).toEqual(['kept', 'dated earlier (the clock moved back)']);

    await db.sql`update nudge_engine.decisions set at = now() - interval '2 days' where reason = 'kept'`;
    await applyRetention(db.sql, config);
    expect(await reasons()).toEqual([]);
  });
});
