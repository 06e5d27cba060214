// Whose is an email, when a users sync finds another contact holding the
// address Supabase Auth gives a user: Auth owns it. A deleted contact gives
// it up; a contact known only by email is adopted by a user without a
// contact, or merged into the user's contact (events, lists, preferences,
// attributes) when nothing the engine keys by contact stands in the way;
// otherwise the user is synced without that address, the run says so, and
// the next incremental run reads the user again.
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { syncTablesCommand, syncUsersCommand } from '../../src/cli/sync.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';
import {
  contacts,
  createReferenceTables,
  expectOk,
  insertUsers,
  projectDir,
  resetEngine,
  runCommand,
  syncState,
  userId,
} from './fixture.js';

const db = useDatabase();
const env = () => ({ DATABASE_URL: db.url });

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  await createReferenceTables(db.sql);
  await db.sql`create table public.newsletter (id serial primary key, email text not null, topic text)`;
});

beforeEach(async () => {
  await resetEngine(db.sql);
  await db.sql`truncate public.orders, public.newsletter, nudge_engine.lists cascade`;
  await db.sql`delete from auth.users`;
});

const USERS = `connectors:
  supabase:
    batch_size: 10
    sync: { users: true }
`;

const WITH_TABLES = `${USERS}    table_mapping:
      newsletter:
        email: email
        topic: TOPIC
      orders:
        sync_as: events
        event_name: order_placed
        properties: { total: amount }
`;

/** A user inserted now, as Supabase Auth does on a sign-up. */
async function signUp(n: number, email: string) {
  await db.sql`
    insert into auth.users (id, aud, role, email, raw_user_meta_data, created_at, updated_at)
    values (${userId(n)}, 'authenticated', 'authenticated', ${email}, ${db.sql.json({ full_name: `User ${n}` })}, now(), now())`;
}

async function contactRow(where: { user?: number; email?: string }) {
  const [row] = await db.sql<
    {
      id: string;
      auth_user_id: string | null;
      email: string | null;
      attributes: Record<string, unknown>;
      deleted: boolean;
    }[]
  >`
    select id, auth_user_id::text, email, attributes, deleted_at is not null as deleted
      from nudge_engine.contacts
     where ${where.user !== undefined ? db.sql`auth_user_id = ${userId(where.user)}::uuid` : db.sql`email = ${where.email!}`}`;
  return row;
}

describe('an address held by a deleted contact', () => {
  it('goes to the user who signs up with it after the first one was deleted (A)', async () => {
    await insertUsers(db.sql, 3);
    const cwd = await projectDir(USERS);
    expectOk(await runCommand(syncUsersCommand, cwd, env()));
    await db.sql`delete from auth.users where id = ${userId(2)}`;
    const full = await runCommand(syncUsersCommand, cwd, env(), { full: true });
    expectOk(full);
    expect(full.out).toContain('deleted 1');
    await signUp(9, 'user2@example.com');

    const ran = await runCommand(syncUsersCommand, cwd, env());
    expectOk(ran);
    expect(ran.out).toContain('users: incremental sync done');
    expect(ran.out).toContain('skipped 0');
    expect(await contactRow({ user: 9 })).toMatchObject({
      email: 'user2@example.com',
      deleted: false,
      attributes: { full_name: 'User 9' },
    });
    // The deleted user's contact stays deleted, without the address.
    expect(await contactRow({ user: 2 })).toMatchObject({ email: null, deleted: true });

    // A full run (in the database) agrees and changes nothing more.
    const again = await runCommand(syncUsersCommand, cwd, env(), { full: true });
    expectOk(again);
    expect(again.out).toContain('skipped 0 · deleted 0');
    expect((await contactRow({ user: 9 }))?.email).toBe('user2@example.com');
  });
});

describe('an address held by a contact known only by email', () => {
  /** Users 1 and 2 synced, and a contact known only by email (work@acme.com) from the newsletter table. */
  async function newsletterContact() {
    await insertUsers(db.sql, 2);
    await db.sql`insert into public.newsletter (email, topic) values ('work@acme.com', 'ai')`;
    const cwd = await projectDir(WITH_TABLES);
    expectOk(await runCommand(syncUsersCommand, cwd, env()));
    expectOk(await runCommand(syncTablesCommand, cwd, env()));
    return { cwd, held: (await contactRow({ email: 'work@acme.com' }))! };
  }

  /** User 1 changes its email to the newsletter contact's, and its name. */
  async function user1TakesWorkEmail() {
    await db.sql`
      update auth.users set email = 'work@acme.com', raw_user_meta_data = '{"full_name": "New Name"}', updated_at = now()
       where id = ${userId(1)}`;
  }

  it('is merged into the contact of the user who changes to it: events, lists, preferences, attributes (B)', async () => {
    const { cwd, held } = await newsletterContact();
    expect(held).toMatchObject({ auth_user_id: null, attributes: { TOPIC: 'ai' } });
    await db.sql`
      insert into nudge_engine.events (contact_id, name, source, occurred_at, idempotency_key)
      values (${held.id}, 'newsletter.opened', 'api', '2024-05-01Z', 'b-opened')`;
    await db.sql`insert into nudge_engine.lists (name) values ('readers')`;
    await db.sql`
      insert into nudge_engine.list_members (list_id, contact_id)
      select id, ${held.id} from nudge_engine.lists where name = 'readers'`;
    await db.sql`
      insert into nudge_engine.email_preferences (contact_id, topic, subscribed, source)
      values (${held.id}, 'digest', false, 'one-click')`;

    await user1TakesWorkEmail();
    const ran = await runCommand(syncUsersCommand, cwd, env());
    expectOk(ran);
    expect(ran.out).toContain('synced 1 (created 0, updated 1) · skipped 0');

    const user = (await contactRow({ user: 1 }))!;
    expect(user).toMatchObject({
      email: 'work@acme.com',
      deleted: false,
      attributes: { full_name: 'New Name', TOPIC: 'ai' },
    });
    const [moved] = await db.sql<{ events: number; lists: number; digest: boolean }[]>`
      select (select count(*)::int from nudge_engine.events where contact_id = ${user.id} and name = 'newsletter.opened') as events,
             (select count(*)::int from nudge_engine.list_members where contact_id = ${user.id}) as lists,
             (select subscribed from nudge_engine.email_preferences where contact_id = ${user.id} and topic = 'digest') as digest`;
    expect(moved).toEqual({ events: 1, lists: 1, digest: false });
    // The email-only contact is left deleted, with nothing of its own.
    const [left] = await db.sql<{ email: string | null; deleted: boolean; rows: number }[]>`
      select email, deleted_at is not null as deleted,
             (select count(*)::int from nudge_engine.events where contact_id = c.id)
           + (select count(*)::int from nudge_engine.list_members where contact_id = c.id) as rows
        from nudge_engine.contacts c where id = ${held.id}`;
    expect(left).toEqual({ email: null, deleted: true, rows: 0 });

    // The next table run finds the address on the user's contact.
    await db.sql`update public.newsletter set topic = 'ml'`;
    expectOk(await runCommand(syncTablesCommand, cwd, env(), { full: true }));
    expect((await contactRow({ user: 1 }))?.attributes.TOPIC).toBe('ml');
    expect((await contacts(db.sql)).filter((c) => c.email === 'work@acme.com')).toHaveLength(1);
  });

  it('that a journey stands on is not merged: the user is synced without it, and it is said (B)', async () => {
    const { cwd, held } = await newsletterContact();
    await db.sql`
      insert into nudge_engine.journeys (feature, contact_id, status, stage)
      values ('welcome', ${held.id}, 'active', 'waiting')`;

    await user1TakesWorkEmail();
    const ran = await runCommand(syncUsersCommand, cwd, env());
    expectOk(ran);
    expect(ran.out).toContain('synced 1 (created 0, updated 1) · skipped 0');
    expect(ran.out).toContain('synced without it 1: its email');
    expect(ran.err).toContain(`user ${userId(1)}: its email "work@acme.com" belongs to contact`);
    // The rest of the user is synced; the contact keeps the address it had.
    expect(await contactRow({ user: 1 })).toMatchObject({
      email: 'user1@example.com',
      attributes: { full_name: 'New Name' },
    });
    expect(await contactRow({ email: 'work@acme.com' })).toMatchObject({
      id: held.id,
      auth_user_id: null,
      deleted: false,
    });
  });

  it('and one made from the user id alone by a table become one contact (G)', async () => {
    await db.sql`insert into nudge_engine.contacts (email, attributes) values ('ada@acme.com', '{"source": "newsletter"}')`;
    await signUp(1, 'ada@acme.com');
    await db.sql`insert into public.orders (user_id, amount) values (${userId(1)}, 5)`;
    const cwd = await projectDir(WITH_TABLES);
    expectOk(await runCommand(syncTablesCommand, cwd, env(), { table: ['orders'] }));
    expect(await contacts(db.sql)).toHaveLength(2);

    const ran = await runCommand(syncUsersCommand, cwd, env());
    expectOk(ran);
    expect(ran.out).toContain('skipped 0');
    const live = (await contacts(db.sql)).filter((c) => !c.deleted);
    expect(live).toEqual([
      {
        auth_user_id: userId(1),
        email: 'ada@acme.com',
        phone: null,
        attributes: expect.objectContaining({ source: 'newsletter', full_name: 'User 1' }),
        deleted: false,
      },
    ]);
    const [orders] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from nudge_engine.events e
        join nudge_engine.contacts c on c.id = e.contact_id
       where c.auth_user_id = ${userId(1)} and e.name = 'order_placed'`;
    expect(orders!.n).toBe(1);

    // A second run, full, in the database: nothing to merge, nothing skipped.
    const again = await runCommand(syncUsersCommand, cwd, env(), { full: true });
    expectOk(again);
    expect(again.out).toContain('skipped 0 · deleted 0');
  });
});

describe('an address held by another user’s contact', () => {
  it('leaves the user synced without it, and the next incremental run reads the user again', async () => {
    await insertUsers(db.sql, 5);
    // A contact of a user who is not in auth.users (deleted while Nudge was
    // away) holds user 5's email; the full run marks it deleted only at its end.
    const gone = '10000000-0000-4000-8000-000000000000';
    await db.sql`insert into nudge_engine.contacts (auth_user_id, email) values (${gone}, 'user5@example.com')`;
    const cwd = await projectDir(USERS);
    const first = await runCommand(syncUsersCommand, cwd, env());
    expectOk(first);
    expect(first.out).toContain('synced 5 (created 5, updated 0) · skipped 0 · deleted 1');
    expect(first.out).toContain('synced without it 1: its email');
    expect(await contactRow({ user: 5 })).toMatchObject({ email: null, deleted: false });
    expect((await syncState(db.sql, 'users'))?.cursor).toMatchObject({ conflicts: [userId(5)] });

    // User 5 has not changed since (updated in January 2024): only the
    // conflict brings it back.
    const next = await runCommand(syncUsersCommand, cwd, env());
    expectOk(next);
    expect(next.out).toContain('users: incremental sync done');
    expect(next.out).toContain('1 rows read');
    expect(await contactRow({ user: 5 })).toMatchObject({ email: 'user5@example.com' });
    expect((await syncState(db.sql, 'users'))?.cursor?.conflicts ?? []).toEqual([]);

    // Settled: the run after reads nothing.
    const settled = await runCommand(syncUsersCommand, cwd, env());
    expect(settled.out).toContain('0 rows read');
  });
});
