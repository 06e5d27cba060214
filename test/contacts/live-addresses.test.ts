// Live sync of auth.users (contacts/live.ts) when the address a user signs up
// or changes to is held by another contact: the same rule as `nudge sync
// users` — a deleted contact gives it up, a contact known only by email is
// merged into the user's — and a user is never left out for it: the
// contact is written, its user.signed_up / user.updated recorded, and an
// address that stays held is named in the outcome.

import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { applyLiveSync, compileLiveSync, type LiveSync } from '../../src/contacts/live.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';
import { projectDir, resetEngine, userId } from '../sync/fixture.js';

const db = useDatabase();
let live: LiveSync;
let inboxId = 0;

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  const cwd = await projectDir(`connectors:
  supabase:
    sync: { users: true, realtime: true }
`);
  live = (await compileLiveSync(await loadConfig({ cwd, env: { DATABASE_URL: db.url } }), db.sql))!;
});

beforeEach(async () => {
  await resetEngine(db.sql);
});

/** A captured auth.users change, applied as a lane applies it. */
function apply(
  operation: 'insert' | 'update' | 'delete',
  row: Record<string, unknown>,
  old: Record<string, unknown> | null = null,
) {
  return db.sql.begin((tx) =>
    applyLiveSync(tx, live, {
      inboxId: ++inboxId,
      schema: 'auth',
      table: 'users',
      operation,
      newRow: operation === 'delete' ? null : row,
      oldRow: operation === 'insert' ? null : (old ?? row),
      occurredAt: new Date(),
    }),
  );
}

const user = (n: number, email: string, name = `User ${n}`) => ({
  id: userId(n),
  email,
  raw_user_meta_data: { full_name: name },
  raw_app_meta_data: {},
  created_at: '2024-01-01T00:00:00Z',
  updated_at: '2024-01-01T00:00:00Z',
});

async function contactOf(n: number) {
  const [row] = await db.sql<
    { id: string; email: string | null; attributes: Record<string, unknown>; events: string[] }[]
  >`
    select c.id, c.email, c.attributes,
           coalesce((select array_agg(name order by id) from nudge_engine.events where contact_id = c.id), '{}') as events
      from nudge_engine.contacts c where auth_user_id = ${userId(n)}`;
  return row;
}

describe('live sync of a user whose address another contact holds', () => {
  it('takes it from the contact of a deleted user, and records user.signed_up (A)', async () => {
    await apply('insert', user(2, 'ada@acme.com'));
    await apply('delete', user(2, 'ada@acme.com'));
    const outcome = await apply('insert', user(9, 'ada@acme.com'));
    expect(outcome.summary).toBe('contact synced (user.signed_up)');
    expect(await contactOf(9)).toMatchObject({
      email: 'ada@acme.com',
      events: ['user.signed_up'],
    });
    const [deleted] = await db.sql<{ email: string | null; deleted: boolean }[]>`
      select email, deleted_at is not null as deleted from nudge_engine.contacts where auth_user_id = ${userId(2)}`;
    expect(deleted).toEqual({ email: null, deleted: true });
  });

  it('merges the contact known only by that email into the user’s (B)', async () => {
    await apply('insert', user(1, 'ada@example.com'));
    const [held] = await db.sql<{ id: string }[]>`
      insert into nudge_engine.contacts (email, attributes) values ('work@acme.com', '{"TOPIC": "ai"}') returning id`;
    const outcome = await apply(
      'update',
      { ...user(1, 'work@acme.com'), updated_at: '2024-02-01T00:00:00Z' },
      user(1, 'ada@example.com'),
    );
    expect(outcome.summary).toBe('contact synced (user.updated)');
    expect(await contactOf(1)).toMatchObject({
      email: 'work@acme.com',
      attributes: { TOPIC: 'ai', full_name: 'User 1' },
      events: ['user.signed_up', 'user.updated'],
    });
    const [left] = await db.sql<{ email: string | null; deleted: boolean }[]>`
      select email, deleted_at is not null as deleted from nudge_engine.contacts where id = ${held!.id}`;
    expect(left).toEqual({ email: null, deleted: true });
  });

  it('syncs the user without an address another user’s contact holds, and says so', async () => {
    await apply('insert', user(1, 'ada@acme.com'));
    const outcome = await apply('insert', user(2, 'ada@acme.com'));
    expect(outcome.summary).toMatch(
      /^contact synced \(user\.signed_up\); its email "ada@acme\.com" belongs to contact "[0-9a-f-]{36}" of another user: synced without it$/,
    );
    expect(await contactOf(2)).toMatchObject({
      email: null,
      attributes: { full_name: 'User 2' },
      events: ['user.signed_up'],
    });
    expect((await contactOf(1))?.email).toBe('ada@acme.com');
  });
});
