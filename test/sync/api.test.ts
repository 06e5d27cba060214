// API mode: with only project_url and a service-role key, users come from the
// Auth admin API and tables from PostgREST — here the local Supabase API
// server answering from the same database, so the contacts can be compared
// with a database-mode sync. Also: PostgREST's 1000-row cap, 429 with
// Retry-After, 401, deletions verified through the API, and the key kept out
// of every line.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { syncAllCommand, syncTablesCommand, syncUsersCommand } from '../../src/cli/sync.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';
import { type SupabaseApiServer, startSupabaseApi } from '../harness/supabase-api.js';
import {
  contacts,
  createReferenceTables,
  expectOk,
  insertUsers,
  projectDir,
  REFERENCE_CONNECTOR,
  resetEngine,
  runCommand,
  serviceRoleKey,
  userId,
} from './fixture.js';

const db = useDatabase();
const KEY = serviceRoleKey('apimode');
let api: SupabaseApiServer;

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  await createReferenceTables(db.sql);
  await insertUsers(db.sql, 40);
  await db.sql`update auth.users set deleted_at = '2024-04-01T00:00:00Z' where id = ${userId(8)}`;
  await db.sql`update auth.users set raw_user_meta_data = '"oops"' where id = ${userId(9)}`;
  await db.sql`
    insert into public.customers (email, full_name, company, plan, mrr, created_at)
    select 'user' || g || '@example.com', 'Customer ' || g, 'Co ' || g, 'pro', g * 1.5,
           timestamptz '2023-01-01 00:00:00.654321+00' + make_interval(days => g)
      from generate_series(1, 25) g`;
  await db.sql`
    insert into public.orders (user_id, amount, order_status, line_items, created_at, updated_at)
    select ('00000000-0000-4000-8000-' || lpad(to_hex(g % 40 + 1), 12, '0'))::uuid, g + 0.99, 'paid',
           jsonb_build_array(jsonb_build_object('sku', 's' || g)),
           timestamptz '2024-03-01 00:00:00.000001+00' + make_interval(secs => g),
           timestamptz '2024-03-01 00:00:00.000001+00' + make_interval(secs => g)
      from generate_series(1, 60) g`;
  api = await startSupabaseApi(db.sql, { key: KEY });
});

afterAll(async () => {
  await api?.close();
});

beforeEach(async () => {
  await resetEngine(db.sql);
  api.calls.length = 0;
  api.maxRows = 1000;
});

/** The reference config with a small batch, pointed at the local API (and the test database for contacts). */
const apiConfig = (extra = '', key = KEY) =>
  `engine:
  database_url: "${db.url}"
${REFERENCE_CONNECTOR.replace('"https://xyzcompany.supabase.co"', `"${api.url}"`)
  .replace('"${SUPABASE_SERVICE_ROLE_KEY}"', `"${key}"`)
  .replace(
    '    enabled: true\n',
    `    enabled: true\n    batch_size: 7\n    rate_limit: { requests_per_second: 1000, burst: 1000 }\n${extra}`,
  )}`;

async function snapshot() {
  const events = await db.sql`
    select c.auth_user_id::text as user, c.email, e.name, e.properties, e.occurred_at, e.idempotency_key
      from nudge_engine.events e join nudge_engine.contacts c on c.id = e.contact_id
     order by e.idempotency_key`;
  return { contacts: await contacts(db.sql), events: events.map((e) => ({ ...e })) };
}

describe('API mode', () => {
  it('gives the same contacts and events as database mode', async () => {
    const dbMode = await runCommand(syncAllCommand, await projectDir(apiConfig()), {
      DATABASE_URL: db.url,
    });
    expectOk(dbMode);
    expect(api.calls).toHaveLength(0);
    const fromDatabase = await snapshot();
    // 39 users (user 9 is skipped), and user 9 twice more: by id from orders, by email from customers.
    expect(fromDatabase.contacts).toHaveLength(41);
    expect(fromDatabase.events).toHaveLength(60);

    await resetEngine(db.sql);
    const apiMode = await runCommand(
      syncAllCommand,
      await projectDir(apiConfig('    log_queries: true\n')),
      {},
    );
    expectOk(apiMode);
    expect(apiMode.out).toContain('skipped 1: user_metadata is a string, not an object');
    expect(await snapshot()).toEqual(fromDatabase);

    // Every request went through the gateway with the key, and the log shows them without it.
    expect(api.calls.every((c) => c.status === 200)).toBe(true);
    expect(apiMode.err).toContain('[query] GET /auth/v1/admin/users?page=1&per_page=7 → 200');
    expect(apiMode.err).toMatch(
      /\[query\] GET \/rest\/v1\/orders\?select=id%2Cuser_id%2Cupdated_at/,
    );
    expect(`${apiMode.out}${apiMode.err}`).not.toContain(KEY);
    expect(`${apiMode.out}${apiMode.err}`).not.toContain(KEY.split('.')[2]);
  });

  it('pages past PostgREST’s 1000-row cap by keyset, asking for more than it gives', async () => {
    await db.sql`
      create table public.clicks (id int primary key, user_id uuid references auth.users (id), target text)`;
    await db.sql`
      insert into public.clicks
      select g, ('00000000-0000-4000-8000-' || lpad(to_hex(g % 40 + 1), 12, '0'))::uuid, 't' || g
        from generate_series(1, 2345) g`;
    const config = apiConfig()
      .replace('batch_size: 7', 'batch_size: 5000')
      .replace(
        '    table_mapping:\n',
        '    table_mapping:\n      clicks:\n        sync_as: events\n        event_name: clicked\n',
      );
    const ran = await runCommand(
      syncTablesCommand,
      await projectDir(config),
      {},
      { table: ['clicks'] },
    );
    expectOk(ran);
    expect(ran.out).toMatch(/public\.clicks: full sync done .* 2,345 rows read/);
    const pages = api.calls.filter((c) => c.path === '/rest/v1/clicks');
    expect(pages.map((c) => c.rows)).toEqual([1000, 1000, 345, 0]);
    expect(pages.map((c) => c.query.limit)).toEqual(['5000', '5000', '5000', '5000']);
    expect(pages.map((c) => c.query.id)).toEqual([undefined, 'gt.1000', 'gt.2000', 'gt.2345']);
    const [{ n }] =
      (await db.sql`select count(*)::int as n from nudge_engine.events where name = 'clicked'`) as [
        { n: number },
      ];
    expect(n).toBe(2345);
  });

  it('waits as long as a 429’s Retry-After says, then goes on', async () => {
    api.failNext(2, 429, { 'Retry-After': '1' });
    const ran = await runCommand(syncUsersCommand, await projectDir(apiConfig()), {});
    expectOk(ran);
    expect(ran.err).toContain(
      'Supabase answered 429 Too Many Requests at /auth/v1/admin/users: waiting 1.0s as its Retry-After asks',
    );
    const [first, second, third] = api.calls;
    expect([first!.status, second!.status, third!.status]).toEqual([429, 429, 200]);
    expect(second!.query).toEqual(first!.query);
    expect(third!.query).toEqual(first!.query);
    // Each retry came at least the asked second after the 429 (timer granularity aside).
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(995);
    expect(third!.at - second!.at).toBeGreaterThanOrEqual(995);
    expect(ran.out).toContain('synced 39');
  });

  it('explains a 401: the key is invalid or expired, and where to find the right one', async () => {
    const wrong = serviceRoleKey('another-project');
    const ran = await runCommand(syncUsersCommand, await projectDir(apiConfig('', wrong)), {});
    expect(ran.code).toBe(1);
    expect(ran.err).toContain(
      '✗ 401 Unauthorized from the Auth admin API at /auth/v1/admin/users: the API key is invalid or expired (server said: "Invalid API key")',
    );
    expect(ran.err).toContain(
      'hint: copy the service_role key from Dashboard → Settings → API into connectors.supabase.api_key',
    );
    expect(`${ran.out}${ran.err}`).not.toContain(wrong);
    expect(await contacts(db.sql)).toHaveLength(0);
  });

  it('marks a contact deleted only when the Auth API says its user is gone', async () => {
    const cwd = await projectDir(apiConfig());
    expectOk(await runCommand(syncUsersCommand, cwd, {}));
    await db.sql`
      insert into auth.users (id, aud, email, created_at, updated_at)
      values (${userId(500)}, 'authenticated', 'gone@example.com', now(), now())`;
    expectOk(await runCommand(syncUsersCommand, cwd, {}, { full: true }));
    await db.sql`delete from auth.users where id = ${userId(500)}`;
    api.calls.length = 0;
    const ran = await runCommand(syncUsersCommand, cwd, {}, { full: true });
    expectOk(ran);
    expect(ran.out).toContain('deleted 1');
    const lookups = api.calls.filter((c) => c.path.startsWith('/auth/v1/admin/users/'));
    // The one user the listing no longer has, and the skipped user 9 (touched, so not looked up).
    expect(lookups.map((c) => [c.path, c.status])).toEqual([
      [`/auth/v1/admin/users/${userId(500)}`, 404],
    ]);
    const gone = (await contacts(db.sql)).filter((c) => c.deleted).map((c) => c.auth_user_id);
    expect(gone).toEqual([userId(8), userId(500)]);
  });

  it('checks mappings against what the APIs expose', async () => {
    const config = apiConfig()
      .replace(
        '      created_at: SIGNUP_DATE\n    table',
        '      created_at: SIGNUP_DATE\n      is_sso_user: SSO\n    table',
      )
      .replace('      customers:\n', '      custmers:\n        email: email\n      customers:\n');
    const ran = await runCommand(syncAllCommand, await projectDir(config), {});
    expect(ran.code).toBe(2);
    expect(ran.err).toMatch(
      /nudge\.yaml:\d+:\d+ connectors\.supabase\.user_mapping\.is_sso_user: auth\.users has no column "is_sso_user"/,
    );
    expect(ran.err).toContain(
      'hint: the Auth admin API does not return is_sso_user; reading it needs database_url',
    );
    expect(ran.err).toMatch(
      /nudge\.yaml:\d+:\d+ connectors\.supabase\.table_mapping\.custmers: no table public\.custmers that the REST API exposes \(did you mean "customers"\?\)/,
    );
  });
});
