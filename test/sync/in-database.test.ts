// A full users sync inside the database (sync/in-database.ts, used when the
// engine store is the source database) writes exactly what the path through
// JavaScript writes, for users with awkward data: emails to normalise or
// beyond ASCII, metadata that is null, an array or nested, times with
// microseconds or outside the years SQL formats like JavaScript, soft-deleted
// users, an email another contact holds (the user synced without it), a
// contact waiting by email.
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { compileUserMapping, type UserMapping } from '../../src/contacts/mapping.js';
import { userMappingSql } from '../../src/contacts/sync/in-database.js';
import { makeSyncLog, type SyncReporter } from '../../src/contacts/sync/report.js';
import { syncUsers } from '../../src/contacts/sync/users.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';
import { contacts, resetEngine, userId } from './fixture.js';

const db = useDatabase();

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
});

beforeEach(async () => {
  await resetEngine(db.sql);
  await db.sql`delete from auth.users`;
});

const MAPPING = compileUserMapping({
  phone: 'SMS',
  'user_metadata.address.city': 'CITY',
  'user_metadata.constructor': 'CTOR',
  aud: 'AUDIENCE',
  email_change: 'NEW_EMAIL',
});

/** Users 1-16; `n` in comments below. */
async function insertOddUsers() {
  await db.sql`
    insert into auth.users (id, aud, email, phone, email_change, raw_user_meta_data, raw_app_meta_data,
                            created_at, updated_at, last_sign_in_at, email_confirmed_at, deleted_at)
    select ${db.sql.unsafe(`('00000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid`)},
           'authenticated', email, phone, email_change, meta::jsonb, app::jsonb,
           created::timestamptz, '2024-01-01Z', signed_in::timestamptz, '2024-01-05 01:02:03.456789+00', deleted::timestamptz
      from (values
        (1, 'plain@example.com', '+15550001', null, '{"full_name": "Plain", "avatar_url": "https://a/1.png"}', '{"provider": "email"}', '2024-01-01 00:00:01+00', null, null),
        (2, '  Ada@Example.COM ', '', '', '{"full_name": "Ada"}', '{"provider": "github"}', '2024-01-02 03:04:05.123999+00', '2024-02-01 10:00:00.5+00', null),
        (3, 'Zoë@Exämple.com', null, 'new@example.com', '{"full_name": "Zoë"}', null, '2024-01-01 00:00:03+00', null, null),
        (4, '', null, null, '{}', '{}', '2024-01-01 00:00:04+00', null, null),
        (5, 'nullmeta@example.com', null, null, 'null', 'null', '2024-01-01 00:00:05+00', null, null),
        (6, 'array@example.com', null, null, '[1, 2]', '{}', '2024-01-01 00:00:06+00', null, null),
        (7, 'scalar@example.com', null, null, '"text"', '{}', '2024-01-01 00:00:07+00', null, null),
        (8, 'nested@example.com', null, null, '{"full_name": {"first": "N"}, "avatar_url": 12.5, "address": {"city": "Oslo"}, "constructor": 1}', '{"provider": ["a"]}', '2024-01-01 00:00:08+00', null, null),
        (9, 'deep@example.com', null, null, '{"address": ["Oslo"], "full_name": null}', '{"provider": null}', '2024-01-01 00:00:09+00', null, null),
        (10, 'old@example.com', null, null, '{"full_name": "Old"}', '{}', '2024-01-01 00:00:10+00', '0500-01-01 00:00:00+00', null),
        (11, 'gone@example.com', null, null, '{"full_name": "Gone"}', '{}', '2024-01-01 00:00:11+00', null, '2024-03-01 00:00:00.987654+00'),
        (12, 'taken@example.com', null, null, '{"full_name": "Taken"}', '{}', '2024-01-01 00:00:12+00', null, null),
        (13, 'waiting@example.com', null, null, '{"full_name": "Waiting"}', '{}', '2024-01-01 00:00:13+00', null, null),
        (14, 'forever@example.com', null, null, '{"full_name": "Forever"}', '{}', 'infinity', null, null),
        (15, 'TAB@example.com	', null, null, '{"address": {"city": {"name": "Rome"}}}', '{}', '2024-01-01 00:00:15+00', null, null),
        (16, 'last@example.com', '+15550016', null, '{"full_name": "Last"}', '{"provider": "email"}', '2024-01-01 00:00:16+00', null, null)
      ) as v(n, email, phone, email_change, meta, app, created, signed_in, deleted)`;
}

/** Contacts that exist before the sync: one holding user 12's email, one waiting for user 13. */
async function insertContacts() {
  await db.sql`
    insert into nudge_engine.contacts (auth_user_id, email) values
      ('00000000-0000-4000-8000-0000000000ff', 'taken@example.com'), (null, 'waiting@example.com')`;
}

async function fullSync(holdsEngine: boolean, mapping: UserMapping = MAPPING) {
  const { io, stderr } = memoryIo();
  const skipped: string[] = [];
  const warnings: string[] = [];
  const report: SyncReporter = {
    log: makeSyncLog(io, { log_level: 'debug' }, []),
    start() {},
    progress() {},
    skipped: (id, reason) => skipped.push(`${id}: ${reason}`),
    warned: (id, reason) => warnings.push(`${id}: ${reason}`),
    stop() {},
  };
  const result = await syncUsers({
    engine: db.sql,
    engineUrl: db.url,
    source: { kind: 'database', sql: db.sql, holdsEngine },
    mapping,
    batchSize: 5,
    full: true,
    report,
  });
  expect(result.status).toBe('done');
  const { ms: _ms, ...stats } = result.stats as typeof result.stats & { ms?: number };
  return {
    stats,
    skipped: skipped.sort(),
    warnings: warnings.sort(),
    contacts: await contacts(db.sql),
    log: stderr(),
  };
}

describe('a full users sync inside the database', () => {
  it('writes what the path through JavaScript writes, and skips the same users for the same reasons', async () => {
    await insertOddUsers();
    await insertContacts();
    const viaJs = await fullSync(false);
    expect(viaJs.log).not.toContain('INSERT … SELECT');

    await resetEngine(db.sql);
    await insertContacts();
    const inDb = await fullSync(true);
    expect(inDb.log).toContain('each page is upserted by one INSERT … SELECT from auth.users');
    // The page holding user 12 hit the other contact's email and was redone through JavaScript.
    expect(inDb.log).toContain('this page goes through JavaScript to find it');

    expect(inDb.contacts).toEqual(viaJs.contacts);
    expect(inDb.stats).toEqual(viaJs.stats);
    expect(inDb.skipped).toEqual(viaJs.skipped);
    const anyContact = (lines: string[]) =>
      lines.map((line) => line.replace(/contact "[^"]+"/, 'contact …'));
    expect(anyContact(inDb.warnings)).toEqual(anyContact(viaJs.warnings));

    // What they agree on, spelled out for a few of the users.
    const byUser = (n: number) => inDb.contacts.find((c) => c.auth_user_id === userId(n));
    expect(byUser(2)).toMatchObject({
      email: 'ada@example.com',
      phone: null,
      attributes: {
        SMS: null,
        NEW_EMAIL: null,
        created_at: '2024-01-02T03:04:05.123Z',
        last_sign_in_at: '2024-02-01T10:00:00.500Z',
        confirmed_at: '2024-01-05T01:02:03.456Z',
      },
    });
    expect(byUser(3)?.email).toBe('zoë@exämple.com');
    expect(byUser(8)?.attributes).toMatchObject({
      full_name: { first: 'N' },
      avatar_url: 12.5,
      CITY: 'Oslo',
      CTOR: 1,
      provider: ['a'],
    });
    expect(byUser(9)?.attributes).toMatchObject({ CITY: null, CTOR: null, provider: null });
    expect(byUser(10)?.attributes.last_sign_in_at).toBe('0500-01-01T00:00:00.000Z');
    expect(byUser(11)?.deleted).toBe(true);
    // User 12 is synced without the email another user's contact holds.
    expect(byUser(12)).toMatchObject({ email: null, attributes: { full_name: 'Taken' } });
    expect(byUser(13)?.email).toBe('waiting@example.com');
    expect(inDb.contacts.filter((c) => c.email === 'waiting@example.com')).toHaveLength(1);
    expect(byUser(15)?.email).toBe('tab@example.com');
    expect(inDb.skipped).toEqual([
      `user ${userId(6)}: user_metadata is an array, not an object`,
      `user ${userId(7)}: user_metadata is a string, not an object`,
      `user ${userId(14)}: created_at an infinite or out-of-range time is not a timestamp`,
    ]);
    const [holder] = await db.sql<{ id: string }[]>`
      select id from nudge_engine.contacts where email = 'taken@example.com'`;
    expect(inDb.warnings).toEqual([
      `user ${userId(12)}: its email "taken@example.com" belongs to contact "${holder!.id}" of another user`,
    ]);
    // Deleted: user 11 (soft), and the contact holding user 12's email, whose user is not in auth.users.
    expect(inDb.stats).toMatchObject({
      read: 16,
      synced: 13,
      skipped: 3,
      deleted: 2,
      warnings: { 'its email … belongs to contact … of another user': 1 },
    });

    // A second full run over the contacts it made: updates, the same result.
    await db.sql`update auth.users set raw_user_meta_data = '{"full_name": "Plain Again"}' where id = ${userId(1)}`;
    await db.sql`delete from auth.users where id = ${userId(16)}`;
    const again = await fullSync(true);
    expect(again.stats).toMatchObject({ read: 15, created: 0, updated: 12, deleted: 1 });
    // The contact that held user 12's email is deleted now: it gives the address up.
    expect(again.contacts.find((c) => c.auth_user_id === userId(12))?.email).toBe(
      'taken@example.com',
    );
    expect(again.warnings).toEqual([]);
    expect(again.contacts.find((c) => c.auth_user_id === userId(1))?.attributes.full_name).toBe(
      'Plain Again',
    );
    expect(again.contacts.find((c) => c.auth_user_id === userId(16))?.deleted).toBe(true);
  });

  it('maps more attributes than one jsonb_build_object call takes (50)', async () => {
    await db.sql`
      insert into auth.users (id, aud, email, raw_user_meta_data, created_at, updated_at)
      select ${db.sql.unsafe(`('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid`)}, 'authenticated',
             'many' || g || '@example.com', (select jsonb_object_agg('k' || k, k * g) from generate_series(1, 60) k),
             '2024-01-01Z', '2024-01-01Z'
        from generate_series(1, 3) g`;
    const many = compileUserMapping(
      Object.fromEntries(
        Array.from({ length: 60 }, (_, k) => [`user_metadata.k${k + 1}`, `K${k + 1}`]),
      ),
    );
    const viaJs = await fullSync(false, many);
    await resetEngine(db.sql);
    const inDb = await fullSync(true, many);
    expect(inDb.log).toContain('each page is upserted by one INSERT … SELECT');
    expect(inDb.contacts).toEqual(viaJs.contacts);
    expect(inDb.contacts[2]!.attributes).toMatchObject({ K1: 3, K50: 150, K51: 153, K60: 180 });
  });

  it('is not used for a mapping it cannot translate exactly', () => {
    expect(userMappingSql(MAPPING)).not.toBeNull();
    expect(userMappingSql(compileUserMapping({ 'user_metadata.plan': 'PLAN' }))).not.toBeNull();
    // A declared type would need converting, an id or boolean column is not text.
    const typed = compileUserMapping({ 'user_metadata.plan': 'PLAN' }, { PLAN: 'integer' });
    expect(userMappingSql(typed)).toBeNull();
    expect(userMappingSql(compileUserMapping({ is_anonymous: 'ANON' }))).toBeNull();
    // The contact's email must come from the email column.
    expect(userMappingSql(compileUserMapping({ 'user_metadata.work_email': 'email' }))).toBeNull();
    // Older auth.users without deleted_at still can.
    const columns = ['id', 'email', 'phone', 'updated_at', 'raw_user_meta_data'];
    expect(
      userMappingSql(compileUserMapping({}), [
        ...columns,
        'created_at',
        'last_sign_in_at',
        'raw_app_meta_data',
        'confirmed_at',
      ])?.deletedAt,
    ).toBe('null::timestamptz');
  });
});
