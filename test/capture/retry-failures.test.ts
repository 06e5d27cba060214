// Rows a capture trigger could not capture are seen and retried: an
// enrichment that raises for some rows (a join value its domain refuses)
// sends them to nudge.failed_events while the writes commit; `nudge doctor`
// and GET /v1/overview report them; `nudge capture retry` delivers those it
// can, once, to a running engine that processes them, and keeps the one that
// still fails with its error; a second run delivers nothing again; a run cut
// short after its inbox write stores nothing twice; after a teardown and a
// new deploy, whose failed_events ids start again from 1, a new failure is
// not taken for one delivered before; a run goes through every batch and
// tries each row once; doctor lists failures of several captures one a line,
// leaving out the webhook's dispatch failures. Asked on a terminal, a run
// first says what each row would do and asks about that; rows are named by
// their table's key as recorded; a row another run holds, which this one
// cannot try, is said and makes it exit 1.
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retryFailures } from '../../src/capture/failures/retry.js';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import type { Overview } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/load.js';
import { launch, type Running } from '../../src/engine/wiring/launch.js';
import { silentLog } from '../../src/log.js';
import { dashboardServer } from '../api/dashboard-server.js';
import { useDatabase } from '../harness/db.js';
import { failingEnrichment } from '../harness/failing-enrichment.js';
import { waitFor } from '../harness/wait.js';

const db = useDatabase();
let cwd: string;
let running: Running | undefined;

/** Runs nudge in `cwd`; `answer`: a terminal that answers its questions so (they are kept in `asked`). */
async function nudge(args: string[], yaml = '', answer?: boolean) {
  await writeFile(path.join(cwd, 'nudge.yaml'), yaml);
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  const asked: string[] = [];
  if (answer !== undefined) {
    m.io.confirm = async (question) => {
      asked.push(question);
      return answer;
    };
  }
  const code = await run(args, m.io);
  return { code, out: m.stdout(), err: m.stderr(), asked };
}

/** The events the engine tracked, "email name" each, in order. */
async function tracked(): Promise<string[]> {
  const rows = await db.sql<{ what: string }[]>`
    select c.email || ' ' || e.name as what from nudge_engine.events e
      join nudge_engine.contacts c on c.id = e.contact_id
     order by c.email, e.id`;
  return rows.map((r) => r.what);
}

/** Waits until the engine has tracked exactly `expected` (nothing more arrives later unseen: the inbox is drained). */
async function trackedEventually(expected: string[]): Promise<void> {
  await waitFor(
    async () => {
      const [left] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from nudge_engine.inbox where processed_at is null`;
      const now = await tracked();
      return left!.n === 0 && now.length >= expected.length ? now : undefined;
    },
    `the engine to track ${expected.join(', ')}`,
  );
  expect(await tracked()).toEqual(expected);
}

const failedRows = () =>
  db.sql<{ email: string; sqlstate: string; attempts: number; context: string }[]>`
    select new_row ->> 'email' as email, sqlstate, attempts, context from nudge.failed_events order by id`;

beforeAll(async () => {
  cwd = await failingEnrichment(db.sql, 'nudge-retry-');
  const deployed = await nudge(['deploy', '--yes']);
  expect(deployed.code, deployed.err).toBe(0);
  const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
  running = await launch(project, { http: false, log: silentLog, idleMs: 20 });
});

afterAll(async () => {
  await running?.stop();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

describe('rows a trigger could not capture', () => {
  it('commit, and are reported by nudge doctor and GET /v1/overview', async () => {
    const app = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      await app`insert into public.orders (email, account, total) values ('a@x.io', 'acc_1', 1)`;
      await app`insert into public.orders (email, account, total) values ('b@x.io', 'x-2', 2)`;
      await app.begin(async (tx) => {
        await tx`insert into public.orders (email, account, total) values ('c@x.io', 'x-3', 3)`;
        await tx`update public.orders set total = 30 where email = 'c@x.io'`;
      });
      // One statement, two rows: one row's enrichment raises, so the
      // statement's capture fails and both rows are recorded.
      await app`insert into public.orders (email, account, total)
                values ('d@x.io', 'acc_1', 4), ('z@x.io', 'zz-5', 5)`;
    } finally {
      await app.end();
    }
    const [orders] = await db.sql<{ n: number }[]>`select count(*)::int as n from public.orders`;
    expect(orders!.n).toBe(5);
    expect((await failedRows()).map((r) => [r.email, r.sqlstate])).toEqual([
      ['b@x.io', '23514'],
      ['c@x.io', '23514'],
      ['d@x.io', '23514'],
      ['z@x.io', '23514'],
    ]);
    await trackedEventually(['a@x.io order_pro']);

    const doctor = await nudge(['doctor']);
    const lines = doctor.out.split('\n');
    const at = lines.findIndex((line) => line.startsWith('✗ Capture failures'));
    expect(at, doctor.out).toBeGreaterThan(0);
    expect(lines[at]).toMatch(
      /^✗ Capture failures {3}4 rows not captured on public\.orders insert since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: no feature has seen them; latest error: 23514 value for domain (public\.)?account_ref violates check constraint "acc_prefix" \(in the enrichment reading public\.accounts by ref\)$/,
    );
    expect(lines[at + 1]).toBe(
      "  fix: repair what the error names (an enrichment's table or column, a privilege, a type), then run nudge capture retry to deliver them (nudge capture retry --dry-run lists them first)",
    );
    expect(doctor.code).toBe(1);

    const { get } = await dashboardServer(db);
    const overview = await get<Overview>('/v1/overview');
    if ('error' in overview.capture) throw new Error(overview.capture.error);
    expect(overview.capture.not_captured).toEqual({
      rows: 4,
      since: expect.any(String),
      latest: {
        at: expect.any(String),
        table: 'public.orders',
        operation: 'insert',
        sqlstate: '23514',
        message: expect.stringContaining('acc_prefix'),
      },
    });
  });

  it('are listed by a dry run, which writes nothing, also where access is read-only', async () => {
    const before = await failedRows();
    const dry = await nudge(['capture', 'retry', '--dry-run'], 'access: read-only\n');
    expect(dry.err).toBe('');
    expect(dry.code).toBe(0);
    // d@x.io's own join works: only the other row of its statement failed.
    expect(dry.out).toContain(
      '4 rows a capture trigger could not capture are in nudge.failed_events:',
    );
    // Each row by its number and its order's key, as recorded.
    expect(dry.out).toMatch(
      /Would deliver 1 row to the engine:\n {2}#\d+ public\.orders insert id=4, failed [^:]+:\d\d:\d\d UTC\n/,
    );
    expect(dry.out).toMatch(
      /Would keep 3 rows: they still fail, with these errors\n {2}#\d+ public\.orders insert id=2, failed .*: 23514 value for domain .*\n {2}#\d+ public\.orders insert id=3, failed .*\n {2}#\d+ public\.orders insert id=5, failed .*\n/,
    );
    expect(dry.out).toContain(
      'Dry run: nothing was delivered. Run nudge capture retry to deliver the 1 row that would go through.',
    );
    expect(await failedRows()).toEqual(before);
    // The real run refuses to write under read-only access.
    const refused = await nudge(['capture', 'retry', '--yes'], 'access: read-only\n');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(
      '✗ access is read-only: nudge capture retry removes the rows it delivers from nudge.failed_events, which is a write',
    );
    expect(await failedRows()).toEqual(before);
    // Without --yes and no terminal to ask, it asks for the dry run and --yes.
    const unasked = await nudge(['capture', 'retry']);
    expect(unasked.code).toBe(1);
    expect(unasked.err).toContain('hint: review `nudge capture retry --dry-run`');
    expect(await failedRows()).toEqual(before);
  });

  it('are tried first when a terminal asks: the question says what would go through and what would stay', async () => {
    const before = await failedRows();
    const declined = await nudge(['capture', 'retry'], '', false);
    expect(declined.asked).toEqual([
      'Try 4 rows? 1 can be delivered now; 3 would still fail and stay.',
    ]);
    // What each would do, listed before the question, as the dry run lists it.
    expect(declined.out).toMatch(
      /Would deliver 1 row to the engine:\n {2}#\d+ public\.orders insert id=4, failed .*\nWould keep 3 rows: they still fail, with these errors\n/,
    );
    expect(declined.out).toContain('Nothing delivered: the 4 rows stay in nudge.failed_events.');
    expect(declined.code).toBe(1);
    expect(await failedRows()).toEqual(before);
  });

  it('are delivered once by nudge capture retry after the cause is repaired; what still fails stays, with its error', async () => {
    // The repair: the domain now refuses only zz- values; x-2 has an account now.
    await db.sql.unsafe(`
      alter domain public.account_ref drop constraint acc_prefix;
      alter domain public.account_ref add constraint no_zz check (value not like 'zz%');
      insert into public.accounts values ('x-2', 'team')`);
    // The dry run tries the four rows' enrichment at once, which now fails
    // only at the last (z@x.io), and then each alone.
    const dry = await nudge(['capture', 'retry', '--dry-run']);
    expect(dry.err).toBe('');
    expect(dry.out).toMatch(
      /Would deliver 3 rows to the engine:\n( {2}#\d+ public\.orders insert id=[234], failed .*UTC\n){3}Would keep 1 row: it still fails, with this error\n {2}#\d+ public\.orders insert id=5, failed .*"no_zz"\n/,
    );
    expect(dry.code).toBe(0);
    const first = await nudge(['capture', 'retry'], '', true);
    expect(first.asked).toEqual([
      'Try 4 rows? 3 can be delivered now; 1 would still fail and stay.',
    ]);
    expect(first.err).toBe('');
    expect(first.out).toContain(
      '✓ 3 rows delivered to the engine and removed from nudge.failed_events',
    );
    expect(first.out).toContain(
      '! 1 row kept in nudge.failed_events: it still fails, with this error',
    );
    expect(first.out).toMatch(
      /! 1 row kept in nudge\.failed_events: it still fails, with this error\n {2}#\d+ public\.orders insert id=5, failed .*: 23514 value for domain .*"no_zz"/,
    );
    expect(first.out).toContain(
      'fix: repair what the error names, then run nudge capture retry again',
    );
    expect(first.code).toBe(1);
    // Enriched as the trigger would have, against the accounts as they are now.
    await trackedEventually([
      'a@x.io order_pro',
      'b@x.io order_team',
      'c@x.io order_none',
      'd@x.io order_pro',
    ]);
    const inbox = await db.sql<{ source: string; key: string; enrichment: unknown }[]>`
      select source, source_key as key, enrichment from nudge_engine.inbox
       where source_key like 'failed:%' order by id`;
    expect(inbox.map((r) => [r.source, r.enrichment])).toEqual([
      ['outbox', { account: { plan: 'team' } }],
      ['outbox', { account: null }],
      ['outbox', { account: { plan: 'pro' } }],
    ]);
    for (const row of inbox) {
      expect(row.key).toMatch(/^failed:\d+:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    }
    // The row kept: the retry's error in place of the trigger's, one attempt counted.
    expect(await failedRows()).toEqual([
      {
        email: 'z@x.io',
        sqlstate: '23514',
        attempts: 1,
        context: expect.stringContaining('nudge capture retry'),
      },
    ]);

    const second = await nudge(['capture', 'retry', '--yes']);
    expect(second.out).not.toContain('✓');
    expect(second.out).toContain('! 1 row kept in nudge.failed_events');
    expect(second.code).toBe(1);
    expect((await failedRows())[0]!.attempts).toBe(2);
    const [copies] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from nudge_engine.inbox where source_key like 'failed:%'`;
    expect(copies!.n).toBe(3);
    await trackedEventually([
      'a@x.io order_pro',
      'b@x.io order_team',
      'c@x.io order_none',
      'd@x.io order_pro',
    ]);
  });

  it('stores nothing twice when a run stops after its inbox write, and then leaves failed_events empty', async () => {
    await db.sql.unsafe('alter domain public.account_ref drop constraint no_zz');
    // The crash: the inbox write commits (a separate engine store), then
    // removing the rows from failed_events fails and the source rolls back.
    await db.sql.unsafe(`
      create function public.refuse_delete() returns trigger language plpgsql as $$
      begin raise exception 'test: the process died here'; end $$;
      create trigger refuse_delete before delete on nudge.failed_events
        for each statement execute function public.refuse_delete()`);
    const source = postgres(db.url, { max: 2, onnotice: () => {} });
    try {
      await expect(retryFailures({ source, engine: db.sql, route: () => 0 })).rejects.toThrow(
        'test: the process died here',
      );
    } finally {
      await source.end();
      await db.sql.unsafe(
        'drop trigger refuse_delete on nudge.failed_events; drop function public.refuse_delete()',
      );
    }
    expect(await failedRows()).toHaveLength(1);
    const again = await nudge(['capture', 'retry', '--yes']);
    expect(again.out).toContain(
      '✓ 1 row delivered to the engine and removed from nudge.failed_events',
    );
    expect(again.out).toContain(
      "1 of them was in the engine's inbox already (an earlier run stopped before removing it): not stored twice",
    );
    expect(again.code).toBe(0);
    await trackedEventually([
      'a@x.io order_pro',
      'b@x.io order_team',
      'c@x.io order_none',
      'd@x.io order_pro',
      'z@x.io order_none',
    ]);
    expect(await failedRows()).toEqual([]);
    const doctor = await nudge(['doctor']);
    expect(doctor.out).toContain('✓ Capture failures   none: every row was captured');
    const { get } = await dashboardServer(db);
    const overview = await get<Overview>('/v1/overview');
    if ('error' in overview.capture) throw new Error(overview.capture.error);
    expect(overview.capture.not_captured).toEqual({ rows: 0, since: null, latest: null });
    expect(await nudge(['capture', 'retry', '--yes'])).toMatchObject({
      code: 0,
      out: 'Nothing to retry: every row was captured (nudge.failed_events holds none).',
    });
  });

  it('does not take a failure after teardown and a new deploy, whose ids start again, for one delivered before', async () => {
    await running?.stop();
    running = undefined;
    const down = await nudge(['teardown', '--yes']);
    expect(down.code, down.err).toBe(0);
    expect((await nudge(['deploy', '--yes'])).code).toBe(0);
    await db.sql.unsafe(
      `alter domain public.account_ref add constraint no_yy check (value not like 'yy%')`,
    );
    await db.sql`insert into public.orders (email, account, total) values ('y@x.io', 'yy-6', 6)`;
    const [failed] = await db.sql<{ id: number }[]>`select id::int as id from nudge.failed_events`;
    // The same id as a row delivered before the teardown, whose inbox row the engine keeps.
    const [earlier] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from nudge_engine.inbox where source_key like ${`failed:${failed!.id}:%`}`;
    expect(earlier!.n).toBe(1);
    await db.sql.unsafe('alter domain public.account_ref drop constraint no_yy');
    const retried = await nudge(['capture', 'retry', '--yes']);
    expect(retried.out).toContain('✓ 1 row delivered');
    expect(retried.out).not.toContain('already');
    const [stored] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from nudge_engine.inbox
       where source_key like ${`failed:${failed!.id}:%`} and new_row ->> 'email' = 'y@x.io'`;
    expect(stored!.n).toBe(1);
  });

  it('goes through every batch, trying each row once a run; doctor lists each capture that failed', async () => {
    await db.sql`delete from nudge.failed_events`;
    await db.sql.unsafe(
      `alter domain public.account_ref add constraint no_w check (value not like 'w-%')`,
    );
    for (const n of [1, 2, 3, 4, 5]) {
      await db.sql`insert into public.orders (email, account, total) values (${`w${n}@x.io`}, ${`w-${n}`}, ${n})`;
    }
    await db.sql.unsafe(`
      alter domain public.account_ref drop constraint no_w;
      alter domain public.account_ref add constraint not_w3 check (value <> 'w-3')`);
    const batches: [number, number][] = [];
    const result = await retryFailures({
      source: db.sql,
      engine: db.sql,
      route: () => 0,
      batch: 2,
      onBatch: (soFar) => batches.push([soFar.delivered, soFar.kept.length]),
    });
    expect(batches).toEqual([
      [2, 0],
      [3, 1],
      [4, 1],
    ]);
    expect(result).toMatchObject({ delivered: 4, stored: 4 });
    expect(result.kept.map((item) => [item.table, item.problem?.sqlstate])).toEqual([
      ['orders', '23514'],
    ]);
    expect(await failedRows()).toEqual([
      expect.objectContaining({ email: 'w3@x.io', attempts: 1 }),
    ]);
    const delivered = await db.sql<{ email: string }[]>`
      select new_row ->> 'email' as email from nudge_engine.inbox
       where new_row ->> 'email' like 'w%' order by id`;
    expect(delivered.map((r) => r.email)).toEqual(['w1@x.io', 'w2@x.io', 'w4@x.io', 'w5@x.io']);

    // Failures on two captures: doctor counts them together and lists each; a
    // webhook dispatch failure (the engine re-delivers those itself) is not counted.
    await db.sql`
      insert into nudge.failed_events (stage, schema_name, table_name, operation, old_row, sqlstate, message)
      values ('capture', 'public', 'accounts', 'delete', '{"ref": "acc_9"}', '42501', 'permission denied for table audit'),
             ('dispatch', 'public', 'orders', 'insert', null, null, 'webhook delivery failed: HTTP 500')`;
    const doctor = await nudge(['doctor']);
    const lines = doctor.out.split('\n');
    const at = lines.findIndex((line) => line.startsWith('✗ Capture failures'));
    expect(lines[at]).toMatch(
      /^✗ Capture failures {3}2 rows not captured since [^,]+ UTC, on the captures below: no feature has seen them; latest error, on public\.accounts delete: 42501 permission denied for table audit$/,
    );
    expect(lines.slice(at + 1, at + 3)).toEqual([
      expect.stringMatching(
        /^ {4}public\.orders insert: 1 row since .+ UTC, latest error 23514 value for domain .*"not_w3" \(in the enrichment reading public\.accounts by ref\)$/,
      ),
      expect.stringMatching(
        /^ {4}public\.accounts delete: 1 row since .+ UTC, latest error 42501 permission denied for table audit$/,
      ),
    ]);
    expect(lines[at + 3]).toMatch(/^ {2}fix: repair what the error names/);
  });

  it('enriches a row only where its trigger enriches: a delete of the same table goes as captured', async () => {
    await db.sql`delete from nudge.failed_events`;
    // orders' inserts are enriched (and w-3's enrichment still fails); no
    // deployed capture of orders' deletes calls nudge.enrich.
    await db.sql`
      insert into nudge.failed_events (schema_name, table_name, operation, old_row, sqlstate, message)
      values ('public', 'orders', 'delete', '{"id": 77, "email": "gone@x.io", "account": "w-3"}',
              '42501', 'permission denied for table audit')`;
    const result = await retryFailures({ source: db.sql, engine: db.sql, route: () => 0 });
    expect(result).toMatchObject({ delivered: 1, kept: [] });
    const [row] = await db.sql<{ enrichment: unknown }[]>`
      select enrichment from nudge_engine.inbox where old_row ->> 'email' = 'gone@x.io'`;
    expect(row).toEqual({ enrichment: null });
  });
  it('exits 1 when a row stays that the run could not try (another run holds it), saying how many and why', async () => {
    await db.sql`delete from nudge.failed_events`;
    await db.sql`
      insert into nudge.failed_events (schema_name, table_name, operation, old_row, sqlstate, message)
      values ('public', 'orders', 'delete', '{"id": 81, "email": "held@x.io"}', '42501', 'permission denied for table audit'),
             ('public', 'orders', 'delete', '{"id": 82, "email": "free@x.io"}', '42501', 'permission denied for table audit')`;
    // Another run has taken the first row (retry claims rows FOR UPDATE SKIP LOCKED).
    const other = postgres(db.url, { max: 1, onnotice: () => {} });
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let taken = () => {};
    const held = new Promise<void>((resolve) => {
      taken = resolve;
    });
    const holding = other.begin(async (tx) => {
      await tx`select id from nudge.failed_events where old_row ->> 'email' = 'held@x.io' for update`;
      taken();
      await released;
    });
    try {
      await held;
      const run = await nudge(['capture', 'retry', '--yes']);
      expect(run.err).toBe('');
      expect(run.out).toContain(
        '✓ 1 row delivered to the engine and removed from nudge.failed_events',
      );
      expect(run.out).toContain(
        '! 1 more row is in nudge.failed_events that this run did not try: another nudge capture retry held it, or it failed while it ran',
      );
      expect(run.code).toBe(1);
    } finally {
      release();
      await holding;
      await other.end();
    }
    expect((await failedRows()).map((row) => row.attempts)).toEqual([0]);
    const again = await nudge(['capture', 'retry', '--yes']);
    expect(again.out).toContain('✓ 1 row delivered');
    expect(again.code).toBe(0);
    expect(await failedRows()).toEqual([]);
  });
});
