// The Lists and Contacts pages' reads, through the typed client against the
// server in-process: a contact's lists (static, and segments it meets now),
// a list's members keyset-paged newest first, a segment's live count from a
// PostgREST-style condition (and the error naming a bad one), and the
// Contacts page's full-text prefix search on email.
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { Nudge, NudgeApiError } from '../../src/client/index.js';
import { indexContacts } from '../../src/contacts/search-index.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { createApiKey } from '../../src/server/api/keys.js';
import { makeServer } from '../../src/server/index.js';
import { useDatabase } from '../harness/db.js';
import { testProject } from '../server/helpers.js';

const db = useDatabase();
let nudge: Nudge<{ plan: string; mrr: number }>;

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  const project = await testProject((config) => {
    config.contacts.attributes = { plan: 'text', mrr: 'numeric' };
  });
  const server = await makeServer({
    sql: db.sql,
    project,
    route: () => 0,
    log: pino({ level: 'silent' }),
    keys: { key: Buffer.alloc(32, 2) },
    dashboard: { features: [], sourceUrl: db.url },
  });
  const { key } = await createApiKey(db.sql, 'writer', 'write');
  nudge = new Nudge({
    url: 'http://127.0.0.1',
    apiKey: key,
    fetch: (input, init) => Promise.resolve(server.app.request(String(input), init)),
  });
  // 130 contacts, a third on pro; the first 120 in a static list.
  await db.sql`
    insert into nudge_engine.contacts (email, attributes)
    select 'member' || g || '@example.com',
           jsonb_build_object('plan', case when g % 3 = 0 then 'pro' else 'free' end, 'mrr', g)
      from generate_series(1, 130) g`;
  await nudge.lists.create('early');
  await nudge.lists.add(
    'early',
    Array.from({ length: 120 }, (_, i) => `member${i + 1}@example.com`),
  );
  await nudge.lists.create('pros', { query: 'plan=eq.pro' });
  await nudge.lists.create('big', { query: 'mrr=gt.125' });
  while ((await indexContacts(db.sql)) > 0);
});

describe('a contact page', () => {
  it('shows the static lists it is in and the segments it meets now', async () => {
    expect((await nudge.contacts.lists('member3@example.com')).map((l) => l.name)).toEqual([
      'early',
      'pros',
    ]);
    expect((await nudge.contacts.lists('member127@example.com')).map((l) => l.name)).toEqual([
      'big',
    ]);
    expect(await nudge.contacts.lists('member124@example.com')).toEqual([]);
  });
});

describe('a list page', () => {
  it('pages members newest first by keyset, for a static list and a segment', async () => {
    for (const [name, size] of [
      ['early', 120],
      ['pros', 43],
    ] as const) {
      const seen: string[] = [];
      let below: string | undefined;
      for (;;) {
        const query = nudge.lists.members(name).order('id', { ascending: false }).limit(50);
        const rows = await (below ? query.lt('id', below) : query);
        seen.push(...rows.map((r) => r.id));
        if (rows.length < 50) break;
        below = rows.at(-1)!.id;
      }
      expect(seen, name).toHaveLength(size);
      expect(new Set(seen).size).toBe(size);
      expect([...seen].sort().reverse()).toEqual(seen);
    }
  });

  it('counts a condition live, and names what is wrong in a bad one', async () => {
    const count = (condition: string) =>
      nudge.contacts.query().where(condition).limit(0).page({ count: true });
    expect((await count('plan=eq.pro&mrr=gt.100')).total).toBe(10);
    expect((await count('or=(plan.eq.pro,mrr.lt.3)')).total).toBe(45);
    const error = await count('mrr=gt.lots').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NudgeApiError);
    expect((error as NudgeApiError).detail).toMatch(/^mrr: /);
  });
});

describe('the Contacts page search', () => {
  it('finds contacts by the start of their email with the full-text index', async () => {
    const rows = await nudge.contacts
      .query()
      .order('id', { ascending: false })
      .textSearch('email', "'member12':*")
      .limit(50);
    expect(rows.map((r) => r.email).sort()).toEqual(
      ['member12', ...Array.from({ length: 10 }, (_, i) => `member12${i}`)]
        .map((e) => `${e}@example.com`)
        .sort(),
    );
  });
});
