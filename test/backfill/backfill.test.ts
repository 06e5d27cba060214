// nudge backfill against real Postgres: the dry run counts and samples and
// writes nothing; the real run needs --yes without a terminal; rows enter
// through the engine (cooldown holds for a contact who entered live), their
// decisions point at inbox rows of source `backfill`; a second run adds no
// one; a run killed mid-way (SIGKILL of the CLI process) resumes from its
// checkpoint and enters every row exactly once; a finished backfill run again
// after retention deleted its events enters only the rows added since; and
// the feature is checked against the live schema first, as deploy does.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { backfill } from '../../src/cli/backfill.js';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/load.js';
import { readDecisions } from '../../src/engine/lanes/decision-log.js';
import { applyRetention } from '../../src/engine/wiring/runtime.js';
import { type TestEngine, testEngine } from '../engine/harness.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();
const REPO = path.resolve(import.meta.dirname, '../..');

const FEATURES = {
  'onboarding.yaml': `name: onboarding
trigger: { table: public.accounts, on: insert, when: { new.plan: neq.banned } }
contact: { email: new.email }
cooldown: 30d
stages:
  - name: welcomed
    do: [{ track: { event: onboarded } }]
`,
  'membership.yaml': `name: membership
trigger: { table: public.memberships, on: insert }
contact: { id: new.user_id }
stages:
  - name: joined
    do: [{ track: { event: joined } }]
`,
  'imported.yaml': `name: imported
trigger: { table: public.imports, on: insert }
contact: { email: new.email }
stages:
  - name: noted
    do: [{ track: { event: imported } }]
`,
};

let cwd: string;
let engine: TestEngine;

beforeAll(async () => {
  await db.sql`create table public.accounts (
    id bigint primary key, email text not null, plan text not null, created_at timestamptz not null default now())`;
  await db.sql`create table public.imports (id bigint primary key, email text not null)`;
  await db.sql`insert into public.accounts (id, email, plan)
               select g, 'user' || g || '@example.com',
                      case when g = 7 then 'banned' when g % 2 = 1 then 'pro' else 'free' end
                 from generate_series(1, 30) g`;
  await db.sql`insert into public.imports select g, 'import' || g || '@example.com' from generate_series(1, 200) g`;
  await db.sql`create table public.memberships (id bigint primary key, user_id uuid not null)`;
  await db.sql`insert into auth.users (id, email) values
    ('00000000-0000-4000-8000-000000000001', 'auth-one@example.com'),
    ('00000000-0000-4000-8000-000000000002', 'auth-two@example.com')`;
  await db.sql`insert into public.memberships values
    (1, '00000000-0000-4000-8000-000000000001'), (2, '00000000-0000-4000-8000-000000000002'),
    (3, '00000000-0000-4000-8000-000000000003')`;
  engine = await testEngine(db, FEATURES);
  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-backfill-'));
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  await writeFile(path.join(cwd, 'nudge.yaml'), '');
  for (const [name, text] of Object.entries(FEATURES)) {
    await writeFile(path.join(cwd, 'nudge/features', name), text);
  }
});

const count = (values: string[]) => {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
};
const cli = () => memoryIo({ cwd, env: { DATABASE_URL: db.url } });
const inboxCount = async (feature: string) =>
  (
    await db.sql<{ n: number }[]>`
      select count(*)::int as n from nudge_engine.inbox
       where source = 'backfill' and event_name = ${`backfill:${feature}`}`
  )[0]!.n;

describe('nudge backfill', () => {
  it('dry run: counts the rows the trigger condition and --where select, shows a sample, enters nobody', async () => {
    const out = cli();
    const code = await backfill(['onboarding'], { dryRun: true, where: 'plan=eq.pro' }, out.io);
    expect(code).toBe(0);
    // Odd ids are pro, but 7 is banned (the trigger condition, applied in SQL).
    expect(out.stdout()).toContain('14 rows of public.accounts would enter onboarding as inserts');
    expect(out.stdout()).toContain('id=1  contact user1@example.com');
    expect(out.stdout()).toContain('id=9  contact user9@example.com');
    expect(out.stdout()).not.toContain('id=7 ');
    expect(await inboxCount('onboarding')).toBe(0);
    const [checkpoints] = await db.sql`select count(*)::int as n from nudge_engine.backfills`;
    expect(checkpoints!.n).toBe(0);
  });

  it('dry run: names a contact mapped by auth user id by their email, from the book or auth.users', async () => {
    await db.sql`insert into nudge_engine.contacts (auth_user_id, email)
                 values ('00000000-0000-4000-8000-000000000001', 'book-one@example.com')`;
    const out = cli();
    expect(await backfill(['membership'], { dryRun: true }, out.io)).toBe(0);
    // The book's email first; auth.users for a user the book does not know; the id for nobody's.
    expect(out.stdout()).toContain('id=1  contact book-one@example.com');
    expect(out.stdout()).toContain('id=2  contact auth-two@example.com');
    expect(out.stdout()).toContain('id=3  contact 00000000-0000-4000-8000-000000000003');
    expect(await inboxCount('membership')).toBe(0);
  });

  it('a bad --where names --where and the problem', async () => {
    await expect(
      backfill(['onboarding'], { where: 'nosuch=eq.1', dryRun: true }, cli().io),
    ).rejects.toThrow(/--where: public.accounts has no column "nosuch"/);
    await expect(backfill(['onboarding'], { where: 'plan=equals.pro' }, cli().io)).rejects.toThrow(
      /--where: .*equals/,
    );
  });

  it('a --where value its column cannot take is a usage error naming --where, not "unexpected"', async () => {
    for (const [where, problem] of [
      ['id=gt.abc', 'expected a number for new.id, got "abc"'],
      ['created_at=lt.yesterday', 'new.created_at'],
    ] as const) {
      const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
      const code = await run(
        [
          '-c',
          path.join(cwd, 'nudge.yaml'),
          'backfill',
          'onboarding',
          '--dry-run',
          '--where',
          where,
        ],
        m.io,
      );
      const first = m.stderr().split('\n')[0]!;
      expect(first.startsWith('✗ --where: '), first).toBe(true);
      expect(first).toContain(problem);
      expect(m.stderr()).not.toContain('unexpected');
      expect(code).toBe(2);
    }
    expect(await inboxCount('onboarding')).toBe(0);
  });

  it('refuses to enter anyone without --yes when there is no terminal to ask', async () => {
    await expect(backfill(['onboarding'], {}, cli().io)).rejects.toThrow(
      /needs confirmation and there is no terminal/,
    );
    expect(await inboxCount('onboarding')).toBe(0);
  });

  it('enters each row through the engine, marked backfill; cooldown holds; a second run adds no one', async () => {
    // user3 signs up again live (a new row for the same email): enters now.
    await db.sql`insert into public.accounts (id, email, plan) values (103, 'user3@example.com', 'free')`;
    await engine.settle();
    expect(
      (await engine.decisions('onboarding')).filter((d) => d.outcome === 'entered'),
    ).toHaveLength(1);

    const out = cli();
    const code = await backfill(
      ['onboarding'],
      { yes: true, rate: 'unlimited', pageSize: 7 },
      out.io,
    );
    expect(code).toBe(0);
    // 31 rows, 30 of them not banned; the live row 103 is backfilled too (once per row).
    expect(out.stdout()).toContain('30 rows of public.accounts to enter onboarding');
    expect(out.stdout()).toMatch(/backfill done in .* 30 rows read, 30 new to the engine/);
    expect(await inboxCount('onboarding')).toBe(30);
    await engine.settle();

    const decided = await db.sql<{ outcome: string; reason: string; n: number }[]>`
      select d.outcome, regexp_replace(d.reason, 'until .*', 'until …') as reason, count(*)::int as n
        from nudge_engine.decisions d join nudge_engine.inbox i on i.id = d.inbox_id
       where i.source = 'backfill' and d.feature = 'onboarding' and d.outcome in ('entered', 'skipped')
       group by 1, 2 order by 1, 2`;
    // user3 entered live a moment ago: both of its rows meet the 30-day cooldown.
    expect(decided).toEqual([
      { outcome: 'entered', reason: 'entered (entry 1)', n: 28 },
      { outcome: 'skipped', reason: 'cooldown until …', n: 2 },
    ]);

    // nudge logs and the dashboard say where each came from.
    const logged = await readDecisions(
      db.sql,
      { feature: 'onboarding', outcome: 'entered' },
      { limit: 100 },
    );
    expect(count(logged.map((d) => d.event ?? 'none'))).toEqual({
      'backfill: insert on public.accounts': 28,
      'insert on public.accounts': 1,
    });

    // Run again: it continues after the last row the finished run read, and finds none.
    const again = cli();
    expect(await backfill(['onboarding'], { yes: true, rate: 'unlimited' }, again.io)).toBe(0);
    expect(again.stdout()).toContain('0 rows of public.accounts to enter onboarding');
    expect(again.stdout()).toContain(
      'an earlier backfill of onboarding finished after id=103: the rows it read are not read again',
    );
    // --restart reads every row again; the inbox still keeps their events, so none enters.
    const restarted = cli();
    expect(
      await backfill(['onboarding'], { yes: true, rate: 'unlimited', restart: true }, restarted.io),
    ).toBe(0);
    expect(restarted.stdout()).toMatch(/30 rows read, 0 new to the engine/);
    expect(restarted.stdout()).toContain('30 were backfilled before and do not enter again');
    const before = (await engine.decisions()).length;
    await engine.settle();
    expect((await engine.decisions()).length).toBe(before);
    expect(await inboxCount('onboarding')).toBe(30);
  });

  it('resumes after the CLI process is killed mid-run, entering every row once', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(REPO, 'src/cli/main.ts'),
        '-c',
        path.join(cwd, 'nudge.yaml'),
        'backfill',
        'imported',
        '--yes',
        '--rate',
        '40/s',
      ],
      { cwd: REPO, env: { ...process.env, DATABASE_URL: db.url }, stdio: 'ignore' },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const progress = async () =>
      (
        await db.sql<{ rows_read: number; status: string }[]>`
          select rows_read::int, status from nudge_engine.backfills where feature = 'imported'`
      )[0];
    const deadline = Date.now() + 60_000;
    while (((await progress())?.rows_read ?? 0) < 80) {
      if (Date.now() > deadline) throw new Error('the backfill made no progress in 60 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill('SIGKILL');
    await exited;
    const killedAt = (await progress())!;
    expect(killedAt.status).toBe('running');
    expect(killedAt.rows_read).toBeGreaterThanOrEqual(80);
    expect(killedAt.rows_read).toBeLessThan(200);
    // What reached the inbox is what the checkpoint says: one transaction.
    expect(await inboxCount('imported')).toBe(killedAt.rows_read);

    const out = cli();
    expect(await backfill(['imported'], { yes: true, rate: 'unlimited' }, out.io)).toBe(0);
    expect(out.stdout()).toMatch(/200 rows read, 200 new to the engine, continuing an earlier run/);
    expect(await inboxCount('imported')).toBe(200);
    const [done] = await db.sql`
      select status, rows_read::int, queued::int from nudge_engine.backfills where feature = 'imported'`;
    expect(done).toEqual({ status: 'done', rows_read: 200, queued: 200 });
    await engine.settle();
    const [entered] = await db.sql<{ n: number; contacts: number }[]>`
      select count(*)::int as n, count(distinct contact_id)::int as contacts from nudge_engine.decisions
       where feature = 'imported' and outcome = 'entered'`;
    expect(entered).toEqual({ n: 200, contacts: 200 });
  });
  it('run again after retention deleted its events, a finished backfill enters only the rows added since', async () => {
    // 'imported' finished above: its 200 rows entered once. Retention (as
    // `nudge start` applies it, ingest_log 0s) deletes the processed events.
    await engine.settle();
    const retention = await mkdtemp(path.join(tmpdir(), 'nudge-backfill-retention-'));
    await writeFile(
      path.join(retention, 'nudge.yaml'),
      'engine: { retention: { ingest_log: 0s, decisions: 3650d } }\n',
    );
    await applyRetention(
      db.sql,
      await loadConfig({ cwd: retention, env: { DATABASE_URL: db.url } }),
    );
    expect(await inboxCount('imported')).toBe(0);
    const entered = async () =>
      (
        await db.sql<{ n: number; contacts: number }[]>`
          select count(*)::int as n, count(distinct contact_id)::int as contacts
            from nudge_engine.decisions where feature = 'imported' and outcome = 'entered'`
      )[0];
    expect(await entered()).toEqual({ n: 200, contacts: 200 });
    // A row capture did not see (written with the triggers off, as while capture was down).
    await db.sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`insert into public.imports values (201, 'import201@example.com')`;
    });

    const dry = cli();
    expect(await backfill(['imported'], { dryRun: true }, dry.io)).toBe(0);
    expect(dry.stdout()).toContain('1 row of public.imports would enter imported');
    expect(dry.stdout()).toContain(
      'an earlier backfill of imported finished after id=200: the rows it read are not read again, only those after it (--restart reads every row again)',
    );
    expect(dry.stdout()).toContain('Sample (first 1 by primary key after id=200):');
    expect(dry.stdout()).toContain('id=201  contact import201@example.com');

    const out = cli();
    expect(await backfill(['imported'], { yes: true, rate: 'unlimited' }, out.io)).toBe(0);
    expect(out.stdout()).toMatch(
      /1 rows read, 1 new to the engine, after the rows of the run that finished before/,
    );
    await engine.settle();
    // Everyone who completed the journey stays completed: only row 201 entered.
    expect(await entered()).toEqual({ n: 201, contacts: 201 });

    // --restart is the way to read every row again, and says what that means.
    const restart = cli();
    expect(await backfill(['imported'], { dryRun: true, restart: true }, restart.io)).toBe(0);
    expect(restart.stdout()).toContain('201 rows of public.imports would enter imported');
    expect(restart.stdout()).toContain(
      '--restart: every row is read again; a row whose backfill event the inbox still keeps (engine.retention.ingest_log: 7d) does not enter again, an older one does',
    );
    expect(restart.stdout()).toContain('id=1  contact import1@example.com');

    // Another --where has its own checkpoint: an older backfill of the feature is named.
    await db.sql`update nudge_engine.backfills set started_at = now() - interval '8 days'
                  where feature = 'imported'`;
    const other = cli();
    expect(await backfill(['imported'], { dryRun: true, where: 'id=gt.150' }, other.io)).toBe(0);
    expect(other.stdout()).toContain('51 rows of public.imports would enter imported');
    expect(other.stdout()).toMatch(
      /a backfill of this feature without --where began \d{4}-\d\d-\d\d, longer ago than engine.retention.ingest_log \(7d\): a row it entered that this one selects too may enter again/,
    );
  });

  it('checks the feature against the live schema first: a dropped column names the feature file, exit 2; another feature is not stopped by it', async () => {
    await db.sql`create table public.orders (id bigint primary key, email text not null, total int)`;
    const dir = await mkdtemp(path.join(tmpdir(), 'nudge-backfill-check-'));
    await mkdir(path.join(dir, 'nudge/features'), { recursive: true });
    await writeFile(path.join(dir, 'nudge.yaml'), '');
    await writeFile(
      path.join(dir, 'nudge/features/big.yaml'),
      `name: big
trigger: { table: public.orders, on: insert, when: { new.total: gt.1 } }
contact: { email: new.email }
stages:
  - name: thanked
    do: [{ track: { event: thanked } }]
`,
    );
    // Another feature on the table, which reads no dropped column.
    await writeFile(
      path.join(dir, 'nudge/features/ordered.yaml'),
      `name: ordered
trigger: { table: public.orders, on: insert }
contact: { email: new.email }
stages:
  - name: noted
    do: [{ track: { event: ordered } }]
`,
    );
    await db.sql`insert into public.orders values (1, 'buyer@example.com', 5)`;
    await db.sql`alter table public.orders drop column total`;
    for (const flags of [['--dry-run'], ['--yes']]) {
      const m = memoryIo({ cwd: dir, env: { DATABASE_URL: db.url } });
      const code = await run(
        ['-c', path.join(dir, 'nudge.yaml'), 'backfill', 'big', ...flags],
        m.io,
      );
      expect(m.stderr().split('\n')[0]).toBe(
        '✗ nudge/features/big.yaml:2:54 trigger.when["new.total"]: column "total" does not exist on public.orders',
      );
      expect(m.stderr()).not.toContain('unexpected');
      expect(code).toBe(2);
    }
    expect(await inboxCount('big')).toBe(0);
    // The other feature's backfill is not stopped by it.
    const m = memoryIo({ cwd: dir, env: { DATABASE_URL: db.url } });
    const code = await run(
      ['-c', path.join(dir, 'nudge.yaml'), 'backfill', 'ordered', '--dry-run'],
      m.io,
    );
    expect(m.stdout()).toContain('id=1  contact buyer@example.com');
    expect(code).toBe(0);
  });
});
