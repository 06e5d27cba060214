// The reference connector's configuration example, unchanged, end to end:
// `nudge sync` maps auth users with its user_mapping, customers to contact
// attributes and orders to `order_placed` events; re-runs add nothing.
import { beforeAll, describe, expect, it } from 'vitest';
import { syncAllCommand, syncUsersCommand } from '../../src/cli/sync.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';
import {
  contacts,
  createReferenceTables,
  expectOk,
  insertUsers,
  projectDir,
  REFERENCE_CONNECTOR,
  runCommand,
  serviceRoleKey,
  userId,
} from './fixture.js';

const db = useDatabase();
const env = () => ({ DATABASE_URL: db.url, SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey() });

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  await createReferenceTables(db.sql);
  await insertUsers(db.sql, 6);
  await db.sql`
    insert into public.customers (email, full_name, company, plan, mrr, created_at) values
      ('user1@example.com', 'Ada Lovelace', 'Analytical Engines', 'pro', 49.50, '2023-05-01T10:00:00Z'),
      ('USER2@example.com', 'Grace Hopper', 'Navy', 'team', 199, '2023-06-01T10:00:00Z'),
      ('later@example.com', 'Lin Later', 'Soon Inc', 'free', 0, '2023-07-01T10:00:00Z')`;
  await db.sql`
    insert into public.orders (user_id, amount, order_status, line_items, created_at) values
      (${userId(1)}, 49.50, 'paid', '[{"sku": "a", "qty": 1}]', '2024-03-01T09:00:00Z'),
      (${userId(1)}, 12.00, 'pending', '[]', '2024-03-02T09:00:00Z'),
      (${userId(4)}, 7.25, 'paid', '[{"sku": "b", "qty": 3}]', '2024-03-03T09:00:00.5Z')`;
});

describe('the reference configuration', () => {
  it('syncs users, customers as attributes and orders as order_placed events', async () => {
    const cwd = await projectDir(REFERENCE_CONNECTOR);
    const ran = await runCommand(syncAllCommand, cwd, env());
    expectOk(ran);
    expect(ran.out).toContain('✓ users: full sync done');
    expect(ran.out).toContain('✓ public.customers: full sync done');
    expect(ran.out).toContain('✓ public.orders: full sync done');
    expect(ran.err).toContain(
      'products: in sync.tables but not in table_mapping, so there is nothing to sync',
    );

    const rows = await contacts(db.sql);
    expect(rows).toHaveLength(7);
    const ada = rows.find((r) => r.auth_user_id === userId(1))!;
    expect(ada.email).toBe('user1@example.com');
    expect(ada.attributes).toEqual({
      // user_mapping (FIRSTNAME and SIGNUP_DATE then overwritten by customers, synced after)
      FIRSTNAME: 'Ada Lovelace',
      SIGNUP_DATE: '2023-05-01T10:00:00.000Z',
      SMS: null,
      // the reference's other default user mappings
      avatar_url: 'https://img.example.com/1.png',
      last_sign_in_at: null,
      provider: 'email',
      confirmed_at: '2024-01-01T00:01:00.123Z',
      // customers
      COMPANY: 'Analytical Engines',
      SUBSCRIPTION_PLAN: 'pro',
      MONTHLY_REVENUE: 49.5,
    });
    // Emails match whatever their case in the table.
    const grace = rows.find((r) => r.auth_user_id === userId(2))!;
    expect(grace.attributes).toMatchObject({ FIRSTNAME: 'Grace Hopper', MONTHLY_REVENUE: 199 });
    // A customer who has no account yet becomes a contact by email.
    const later = rows.find((r) => r.email === 'later@example.com')!;
    expect(later).toMatchObject({ auth_user_id: null, deleted: false });
    expect(later.attributes).toMatchObject({ FIRSTNAME: 'Lin Later', SUBSCRIPTION_PLAN: 'free' });

    const events = await db.sql`
      select c.auth_user_id::text as user, e.name, e.properties, e.source, e.occurred_at, e.idempotency_key
        from nudge_engine.events e join nudge_engine.contacts c on c.id = e.contact_id
       order by e.occurred_at`;
    expect(events.map((e) => ({ ...e }))).toEqual([
      {
        user: userId(1),
        name: 'order_placed',
        properties: { total: 49.5, status: 'paid', items: [{ sku: 'a', qty: 1 }] },
        source: 'sync',
        occurred_at: new Date('2024-03-01T09:00:00Z'),
        idempotency_key: 'table:public.orders:order_placed:[1]',
      },
      {
        user: userId(1),
        name: 'order_placed',
        properties: { total: 12, status: 'pending', items: [] },
        source: 'sync',
        occurred_at: new Date('2024-03-02T09:00:00Z'),
        idempotency_key: 'table:public.orders:order_placed:[2]',
      },
      {
        user: userId(4),
        name: 'order_placed',
        properties: { total: 7.25, status: 'paid', items: [{ sku: 'b', qty: 3 }] },
        source: 'sync',
        occurred_at: new Date('2024-03-03T09:00:00.500Z'),
        idempotency_key: 'table:public.orders:order_placed:[3]',
      },
    ]);
    const [last] = await db.sql`
      select last_event_at from nudge_engine.contacts where auth_user_id = ${userId(1)}`;
    expect(last!.last_event_at).toEqual(new Date('2024-03-02T09:00:00Z'));
  });

  it('re-runs add no events and no contacts, even a full re-read', async () => {
    const cwd = await projectDir(REFERENCE_CONNECTOR);
    const ran = await runCommand(syncAllCommand, cwd, env(), { full: true });
    expectOk(ran);
    expect(ran.out).toMatch(/public\.orders: full sync done .* 3 rows read/);
    expect(ran.out).toContain('synced 3 (new events 0, already there 3) · skipped 0');
    const [counts] = await db.sql`
      select (select count(*)::int from nudge_engine.events) as events,
             (select count(*)::int from nudge_engine.contacts) as contacts`;
    expect(counts).toEqual({ events: 3, contacts: 7 });
  });

  it('gives the contact a customer created to the user who signs up later', async () => {
    const [before] =
      await db.sql`select id from nudge_engine.contacts where email = 'later@example.com'`;
    await db.sql`
      insert into auth.users (id, aud, role, email, raw_user_meta_data, raw_app_meta_data, created_at, updated_at)
      values (${userId(99)}, 'authenticated', 'authenticated', 'later@example.com',
              '{"full_name": "Lin"}', '{"provider": "github"}', now(), now())`;
    const cwd = await projectDir(REFERENCE_CONNECTOR);
    const ran = await runCommand(syncUsersCommand, cwd, env());
    expectOk(ran);
    expect(ran.out).toContain('users: incremental sync done');
    expect(ran.out).toContain('synced 1 (created 0, updated 1)');
    const [after] = await db.sql`
      select id, auth_user_id::text, attributes from nudge_engine.contacts where email = 'later@example.com'`;
    expect(after!.id).toBe(before!.id);
    expect(after!.auth_user_id).toBe(userId(99));
    expect(after!.attributes).toMatchObject({
      FIRSTNAME: 'Lin',
      SUBSCRIPTION_PLAN: 'free',
      provider: 'github',
    });
  });
});
