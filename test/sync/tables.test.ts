// `nudge sync tables` in database mode: attributes and events, how rows find
// their contact, incremental runs by updated_at or created_at (and tables
// with neither; attributes only by updated_at), resuming without duplicate
// events, rows skipped with their reason, names that need quoting (a
// composite primary key, dots in table and column names), and attributes
// written one batch at a time so a later row wins.
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { syncTablesCommand } from '../../src/cli/sync.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';
import {
  contacts,
  expectOk,
  hold,
  insertUsers,
  projectDir,
  resetEngine,
  runCommand,
  userId,
  waitingOn,
} from './fixture.js';

const db = useDatabase();
const env = () => ({ DATABASE_URL: db.url });

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  await insertUsers(db.sql, 12);
  await db.sql.unsafe(`
    CREATE TABLE public.subscriptions (
      id serial PRIMARY KEY,
      user_id uuid REFERENCES auth.users (id),
      plan text NOT NULL,
      seats int NOT NULL DEFAULT 1,
      renews_on date,
      updated_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE public.page_views (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      owner uuid,
      path text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE public.newsletter (
      contact_email text PRIMARY KEY,
      topic text NOT NULL);
    CREATE TABLE public.accounts (
      id serial PRIMARY KEY,
      email text NOT NULL,
      plan text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE public."v2.orders" (
      id serial PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES auth.users (id),
      "line.total" numeric NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE public."v2.plans" (
      id serial PRIMARY KEY,
      email text NOT NULL,
      "plan.name" text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE public.seats (
      id int PRIMARY KEY,
      email text NOT NULL,
      plan text NOT NULL);
    CREATE SCHEMA "my-app";
    CREATE TABLE "my-app"."Order Items" (
      "order id" int NOT NULL,
      line int NOT NULL,
      "user" uuid NOT NULL REFERENCES auth.users (id),
      "SKU" text NOT NULL,
      PRIMARY KEY ("order id", line));`);
});

beforeEach(async () => {
  await resetEngine(db.sql);
  await db.sql`truncate public.accounts, public."v2.orders", public."v2.plans", public.seats`;
});

const config = (mapping: string, batch = 4) => `connectors:
  supabase:
    batch_size: ${batch}
    table_mapping:
${mapping}`;

describe('tables synced as attributes', () => {
  it('find contacts by a user-id column, then take only changed rows by updated_at', async () => {
    await db.sql`
      insert into public.subscriptions (user_id, plan, seats, renews_on, updated_at)
      select ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
             case when g % 2 = 0 then 'pro' else 'free' end, g, date '2025-01-01' + g,
             timestamptz '2024-05-01 00:00:00+00' + make_interval(hours => g)
        from generate_series(1, 10) g`;
    const cwd = await projectDir(
      config(`      subscriptions:
        plan: PLAN
        seats: SEATS
        renews_on: RENEWS_ON
`),
    );
    const first = await runCommand(syncTablesCommand, cwd, env());
    expectOk(first);
    expect(first.out).toMatch(/public\.subscriptions: full sync done .* 10 rows read/);
    const byUser = async () =>
      new Map((await contacts(db.sql)).map((c) => [c.auth_user_id, c.attributes]));
    expect((await byUser()).get(userId(4))).toEqual({
      PLAN: 'pro',
      SEATS: 4,
      RENEWS_ON: '2025-01-05T00:00:00.000Z',
    });

    await db.sql`update public.subscriptions set plan = 'team', updated_at = now() where user_id = ${userId(3)}`;
    const second = await runCommand(syncTablesCommand, cwd, env());
    expectOk(second);
    expect(second.err).toContain(
      'public.subscriptions: incremental sync — changes since the last sync (1 rows)',
    );
    expect(second.out).toContain('1 rows read');
    expect((await byUser()).get(userId(3))).toMatchObject({ PLAN: 'team', SEATS: 3 });
  });

  it('find contacts by an email column, and say when a table has no time column to follow', async () => {
    await db.sql`
      insert into public.newsletter values ('User5@Example.com', 'product'), ('fan@example.com', 'blog')
      on conflict do nothing`;
    const cwd = await projectDir(
      config(`      newsletter:
        contact: { email: contact_email }
        topic: NEWSLETTER
`),
    );
    for (let run = 0; run < 2; run++) {
      const ran = await runCommand(syncTablesCommand, cwd, env());
      expectOk(ran);
      expect(ran.err).toContain(
        'public.newsletter: no updated_at or created_at column, so every run reads the whole table',
      );
      expect(ran.out).toMatch(/public\.newsletter: full sync done .* 2 rows read/);
      expect(ran.out).toContain(run === 0 ? 'created 2, updated 0' : 'created 0, updated 2');
    }
    const rows = await contacts(db.sql);
    expect(rows.map((r) => [r.email, r.attributes])).toEqual([
      ['fan@example.com', { NEWSLETTER: 'blog' }],
      ['user5@example.com', { NEWSLETTER: 'product' }],
    ]);
  });
});

describe('tables synced as attributes, by their times and order', () => {
  it('read a table with created_at but no updated_at whole each time: a row changes after it is created', async () => {
    await db.sql`
      insert into public.accounts (email, plan, created_at)
      values ('bob@acme.com', 'free', now() - interval '1 day'), ('eve@acme.com', 'free', now() - interval '1 day')`;
    const cwd = await projectDir(
      config(`      accounts:
        plan: PLAN
`),
    );
    expectOk(await runCommand(syncTablesCommand, cwd, env()));
    await db.sql`update public.accounts set plan = 'pro' where email = 'bob@acme.com'`;
    const second = await runCommand(syncTablesCommand, cwd, env());
    expectOk(second);
    expect(second.err).toContain(
      'public.accounts: no updated_at column (created_at does not change when a row does), so every run reads the whole table',
    );
    expect(second.out).toMatch(/public\.accounts: full sync done .* 2 rows read/);
    const rows = await contacts(db.sql);
    expect(rows.map((r) => [r.email, r.attributes])).toEqual([
      ['bob@acme.com', { PLAN: 'pro' }],
      ['eve@acme.com', { PLAN: 'free' }],
    ]);
  });

  it('write one batch at a time, so a later row of a contact is never overwritten by an earlier one', async () => {
    // Row 3 is later than row 1; they are in batches 1 and 0. Batch 0 waits
    // for the contact of row 2, which another transaction is creating.
    await db.sql`
      insert into public.seats values (1, 'x@acme.com', 'old'), (2, 'blocker@acme.com', 'z'), (3, 'x@acme.com', 'new')`;
    await db.sql`insert into nudge_engine.contacts (email) values ('x@acme.com')`;
    const cwd = await projectDir(
      config(
        `      seats:
        plan: PLAN
`,
        2,
      ),
    );
    const held = await hold(
      db,
      `insert into nudge_engine.contacts (email) values ('blocker@acme.com')`,
    );
    let committedWhileHeld: (() => void) | undefined;
    const committed = new Promise<void>((resolve) => {
      committedWhileHeld = resolve;
    });
    const run = runCommand(syncTablesCommand, cwd, env(), {
      concurrency: 2,
      onBatch: () => committedWhileHeld?.(),
    });
    await waitingOn(db, held.pid);
    // Written two at a time, batch 1 commits now. One at a time, nothing
    // can happen until batch 0 goes on: what we wait for is that nothing
    // commits, so the wait is bounded (5 s, where batch 1 takes a few ms).
    const early = await Promise.race([
      committed.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5000)),
    ]);
    committedWhileHeld = undefined;
    await held.release();
    const ran = await run;
    expectOk(ran);
    expect(early).toBe(false);
    const [x] = await db.sql<{ attributes: Record<string, unknown> }[]>`
      select attributes from nudge_engine.contacts where email = 'x@acme.com'`;
    expect(x!.attributes).toEqual({ PLAN: 'new' });
  });
});

describe('tables synced as events', () => {
  it('follow created_at, resume after a crash without duplicates, and skip rows without a contact', async () => {
    await db.sql`
      insert into public.page_views (owner, path, created_at)
      select case when g = 7 then null else ('00000000-0000-4000-8000-' || lpad(to_hex(g % 12 + 1), 12, '0'))::uuid end,
             '/p/' || g, timestamptz '2024-06-01 00:00:00+00' + make_interval(mins => g)
        from generate_series(1, 22) g`;
    const cwd = await projectDir(
      config(`      page_views:
        sync_as: events
        event_name: page_viewed
        contact: { user_id: owner }
        properties:
          path: path
`),
    );
    const crashed = await runCommand(syncTablesCommand, cwd, env(), {
      concurrency: 1,
      onBatch: (committed) => {
        if (committed === 3) throw new Error('killed');
      },
    });
    expect(crashed.code).toBe(1);
    expect(crashed.out).toContain('public.page_views: full sync failed');
    const count = async () =>
      (
        await db.sql`select count(*)::int as n from nudge_engine.events where name = 'page_viewed'`
      )[0]!.n;
    expect(await count()).toBe(11); // 12 rows in three batches, one without an owner

    const resumed = await runCommand(syncTablesCommand, cwd, env());
    expectOk(resumed);
    expect(resumed.err).toContain('continuing the full sync that stopped (failed)');
    expect(resumed.out).toContain('10 rows read');
    expect(await count()).toBe(21);

    await db.sql`insert into public.page_views (owner, path) values (${userId(2)}, '/new')`;
    const incremental = await runCommand(syncTablesCommand, cwd, env());
    expectOk(incremental);
    expect(incremental.out).toContain('public.page_views: incremental sync done');
    expect(incremental.out).toContain('1 rows read');
    expect(await count()).toBe(22);
    // The skipped row was reported in the run that read it.
    expect(crashed.err).toContain('skipped public.page_views [7]: owner is empty');
    const [view] = await db.sql`
      select e.properties, e.occurred_at from nudge_engine.events e
        join nudge_engine.contacts c on c.id = e.contact_id
       where e.idempotency_key = 'table:public.page_views:page_viewed:[2]'`;
    expect(view).toEqual({
      properties: { path: '/p/2' },
      occurred_at: new Date('2024-06-01T00:02:00Z'),
    });
  });

  it('page through a composite primary key in a schema and table whose names need quoting', async () => {
    await db.sql`
      insert into "my-app"."Order Items" ("order id", line, "user", "SKU")
      select o, l, ('00000000-0000-4000-8000-' || lpad(to_hex(o), 12, '0'))::uuid, 'sku-' || o || '-' || l
        from generate_series(1, 4) o, generate_series(1, 3) l`;
    const cwd = await projectDir(
      config(
        `      '"my-app"."Order Items"':
        sync_as: events
        event_name: item_bought
        contact: { user_id: user }
`,
        5,
      ),
    );
    const ran = await runCommand(syncTablesCommand, cwd, env());
    expectOk(ran);
    expect(ran.out).toMatch(/"my-app"\."Order Items": full sync done .* 12 rows read/);
    const keys =
      await db.sql`select idempotency_key as k, properties as p from nudge_engine.events order by id`;
    expect(keys).toHaveLength(12);
    expect(new Set(keys.map((k) => k.k)).size).toBe(12);
    expect(keys.find((k) => k.k === 'table:"my-app"."Order Items":item_bought:[2,3]')?.p).toEqual({
      'order id': 2,
      line: 3,
      user: userId(2),
      SKU: 'sku-2-3',
    });
  });
});

describe('names with a dot', () => {
  it('sync a table and columns whose names hold a dot, fully and incrementally', async () => {
    await db.sql`
      insert into public."v2.orders" (user_id, "line.total", created_at)
      select ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 10 * g,
             timestamptz '2024-06-01 00:00:00+00' + make_interval(mins => g)
        from generate_series(1, 5) g`;
    await db.sql`insert into public."v2.plans" (email, "plan.name", updated_at) values ('dot@acme.com', 'team', '2024-06-01Z')`;
    const cwd = await projectDir(
      config(
        `      '"v2.orders"':
        sync_as: events
        event_name: order_placed
        properties: { total: line.total }
      public."v2.plans":
        contact: { email: email }
        plan.name: PLAN
`,
        2,
      ),
    );
    const first = await runCommand(syncTablesCommand, cwd, env());
    expectOk(first);
    expect(first.out).toMatch(/public\."v2\.orders": full sync done .* 5 rows read/);
    expect(first.out).toMatch(/public\."v2\.plans": full sync done .* 1 rows read/);
    const [order] = await db.sql`
      select properties from nudge_engine.events
       where idempotency_key = 'table:public."v2.orders":order_placed:[3]'`;
    expect(order?.properties).toEqual({ total: 30 });
    expect((await contacts(db.sql)).find((c) => c.email === 'dot@acme.com')?.attributes).toEqual({
      PLAN: 'team',
    });

    await db.sql`insert into public."v2.orders" (user_id, "line.total") values (${userId(1)}, 99)`;
    await db.sql`update public."v2.plans" set "plan.name" = 'pro', updated_at = now()`;
    const second = await runCommand(syncTablesCommand, cwd, env());
    expectOk(second);
    expect(second.out).toMatch(/public\."v2\.orders": incremental sync done .* 1 rows read/);
    expect(second.out).toMatch(/public\."v2\.plans": incremental sync done .* 1 rows read/);
    expect((await contacts(db.sql)).find((c) => c.email === 'dot@acme.com')?.attributes).toEqual({
      PLAN: 'pro',
    });
  });
});
