// The engine store: migrations apply once, also when two processes start at
// the same moment; contacts resolve by any identity they carry.
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { createContacts, resolveContact, upsertUsers } from '../src/contacts/store.js';
import { engineMigrations, migrateEngine } from '../src/db/migrate.js';
import { useDatabase } from './harness/db.js';

const db = useDatabase();

describe('engine store', () => {
  it('migrates once when two processes migrate at the same time', async () => {
    const other = postgres(db.url, { onnotice: () => {}, max: 2 });
    try {
      const [a, b] = await Promise.all([
        migrateEngine(db.sql, db.url),
        migrateEngine(other, db.url),
      ]);
      // Every migration applied, each by exactly one of the two.
      expect([...a, ...b].sort((x, y) => x - y)).toEqual(engineMigrations().map((m) => m.version));
      expect(await migrateEngine(db.sql, db.url)).toEqual([]);
      const [worker] =
        await db.sql`select count(*)::int as n from pg_namespace where nspname = 'nudge_worker'`;
      expect(worker!.n).toBe(1);
    } finally {
      await other.end();
    }
  });

  it("renames a scheduled feature's records from source 'sync' to 'schedule' (migration 022), and no other", async () => {
    await migrateEngine(db.sql, db.url);
    await db.sql`
      insert into nudge_engine.inbox (source, source_key, event_name, occurred_at, partition)
      values ('sync', 'schedule:inactivity:2026-12-01T00:00:00.000Z:7', 'schedule:inactivity', now(), 0),
             ('sync', 'not-a-schedule', 'other', now(), 0)`;
    const rename = engineMigrations().find((m) => m.version === 22)!;
    expect(rename.name).toBe('schedule_source');
    await db.sql.unsafe(rename.sql);
    const rows = await db.sql<{ source: string; source_key: string }[]>`
      select source, source_key from nudge_engine.inbox
       where source_key in ('schedule:inactivity:2026-12-01T00:00:00.000Z:7', 'not-a-schedule')
       order by source_key`;
    expect(rows).toEqual([
      { source: 'sync', source_key: 'not-a-schedule' },
      { source: 'schedule', source_key: 'schedule:inactivity:2026-12-01T00:00:00.000Z:7' },
    ]);
  });

  it('resolves a contact by whichever identity it carries, and merges them', async () => {
    const byEmail = await resolveContact(db.sql, { email: ' Ada@Example.com ' }, { plan: 'free' });
    expect(byEmail.created).toBe(true);
    const userId = '00000000-0000-4000-8000-000000000001';
    const byUser = await resolveContact(
      db.sql,
      { authUserId: userId, email: 'ada@example.com' },
      { plan: 'pro' },
    );
    expect(byUser).toEqual({ id: byEmail.id, created: false });
    const again = await resolveContact(db.sql, { authUserId: userId });
    expect(again.id).toBe(byEmail.id);
    const [row] =
      await db.sql`select email, auth_user_id, attributes from nudge_engine.contacts where id = ${byEmail.id}`;
    expect(row).toEqual({
      email: 'ada@example.com',
      auth_user_id: userId,
      attributes: { plan: 'pro' },
    });
  });

  it('creates new people together, and leaves those who collide to resolveContact', async () => {
    const existing = await resolveContact(db.sql, { email: 'grace.hopper@example.com' });
    const ids = await createContacts(db.sql, [
      { authUserId: '00000000-0000-4000-8000-000000000021' },
      { email: 'Grace.Hopper@Example.com', authUserId: '00000000-0000-4000-8000-000000000022' }, // has a contact
      { email: 'linus.t@example.com' },
      { email: 'linus.t@example.com', phone: '+15550100' }, // collides with the one before
      { phone: '+15550101', externalId: 'crm-7' },
    ]);
    expect(ids.map((id) => id !== null)).toEqual([true, false, true, false, true]);
    const rows = await db.sql<{ id: string; auth_user_id: string | null; email: string | null }[]>`
      select id, auth_user_id::text, email from nudge_engine.contacts where id = any(${ids.filter(Boolean)}::uuid[])`;
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(ids[0]!)).toMatchObject({
      auth_user_id: '00000000-0000-4000-8000-000000000021',
    });
    expect(byId.get(ids[2]!)).toMatchObject({ email: 'linus.t@example.com', auth_user_id: null });
    // The collisions resolve as one at a time would have: to the contact they share a field with.
    const grace = await resolveContact(db.sql, {
      email: 'Grace.Hopper@Example.com',
      authUserId: '00000000-0000-4000-8000-000000000022',
    });
    expect(grace).toEqual({ id: existing.id, created: false });
    expect(
      (await resolveContact(db.sql, { email: 'linus.t@example.com', phone: '+15550100' })).id,
    ).toBe(ids[2]);
  });

  it('keeps a transaction usable when filling in an identity would collide with another contact', async () => {
    const other = await resolveContact(db.sql, { email: 'taken@example.com' });
    const userId = '00000000-0000-4000-8000-000000000009';
    const mine = await resolveContact(db.sql, { authUserId: userId });
    await db.sql.begin(async (tx) => {
      // Found by auth user id; its email cannot be filled in (another contact has it).
      const found = await resolveContact(tx, { authUserId: userId, email: 'taken@example.com' });
      expect(found).toEqual({ id: mine.id, created: false });
      const [still] =
        await tx`select count(*)::int as n from nudge_engine.contacts where id in (${mine.id}, ${other.id})`;
      expect(still!.n).toBe(2);
    });
  });

  it('upserts synced users in a batch, adopting contacts created earlier by email', async () => {
    const [before] =
      await db.sql`insert into nudge_engine.contacts (email) values ('grace@example.com') returning id`;
    const users = [
      {
        authUserId: '00000000-0000-4000-8000-000000000002',
        email: 'Grace@example.com',
        phone: null,
        attributes: { FIRSTNAME: 'Grace' },
        deletedAt: null,
      },
      {
        authUserId: '00000000-0000-4000-8000-000000000003',
        email: 'alan@example.com',
        phone: '+441',
        attributes: {},
        deletedAt: new Date('2026-01-01Z'),
      },
    ];
    // Grace's contact existed (by email): updated, like both on the second
    // run; Alan's is marked deleted once.
    expect(await upsertUsers(db.sql, users)).toEqual({ created: 1, updated: 1, deleted: 1 });
    expect(await upsertUsers(db.sql, users)).toEqual({ created: 0, updated: 2, deleted: 0 });
    const rows =
      await db.sql`select id, email, phone, attributes, deleted_at is not null as deleted from nudge_engine.contacts
      where auth_user_id in ${db.sql(users.map((u) => u.authUserId))} order by email`;
    expect(rows.map((r) => [r.email, r.phone, r.attributes, r.deleted])).toEqual([
      ['alan@example.com', '+441', {}, true],
      ['grace@example.com', null, { FIRSTNAME: 'Grace' }, false],
    ]);
    expect(rows[1]!.id).toBe(before!.id);
  });

  it('gives new contacts time-ordered ids (UUID version 7: creation time, then random bits)', async () => {
    const made = await db.sql<{ id: string; at: Date }[]>`
      insert into nudge_engine.contacts (email)
      select 'ordered' || g || '@example.com' from generate_series(1, 3) g
      returning id::text, clock_timestamp() as at`;
    for (const { id, at } of made) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const millis = Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16);
      expect(Math.abs(millis - at.getTime())).toBeLessThan(1000);
    }
    const later = await db.sql<{ id: string }[]>`
      select pg_sleep(0.002), nudge_engine.time_ordered_uuid()::text as id`;
    expect(made.every((m) => m.id < later[0]!.id)).toBe(true);
    expect(new Set(made.map((m) => m.id)).size).toBe(3);
  });
});
