// What a newcomer's review of segments found, at /v1/lists against a real
// database: a list's or segment's name is letters, digits, - and _ (422
// naming `name` otherwise, nothing made); a segment on an attribute no
// contact holds yet is kept, with a warning naming the attribute it likely
// is, when made (a plain read does not scan every contact for it again, and
// a check that fails warns of nothing rather than failing the request); and
// the dashboard scope deletes a segment but not a static list (whose members
// would go with it), and is told so only when the delete saw a static list.
// A counted contacts query (the Lists page's live count) is warned as a new
// segment is, in x-nudge-warnings.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeApi } from '../../src/server/api/index.js';
import { createApiKey } from '../../src/server/api/keys.js';
import { useDatabase } from '../harness/db.js';
import { type ApiServer, ATTRIBUTES, detailOf, startApi } from './helpers.js';

const db = useDatabase();
let api: ApiServer;
let dashboardKey: string;

beforeAll(async () => {
  // Declared: plan and mrr (helpers' ATTRIBUTES); held by a contact: plan, country and bio.
  api = await startApi(db);
  dashboardKey = (await createApiKey(db.sql, 'dashboard-page', 'dashboard')).key;
  for (const [email, attributes] of [
    ['ann@example.com', { plan: 'pro', country: 'FR', bio: 'likes tea' }],
    ['ben@example.com', { plan: 'free', country: 'DE' }],
  ] as const) {
    const response = await api.call('POST', '/v1/contacts', { body: { email, attributes } });
    expect(response.status, response.text).toBe(201);
  }
});
afterAll(async () => {
  await api?.close();
});

const listNames = async () =>
  (await db.sql<{ name: string }[]>`select name from nudge_engine.lists order by name`).map(
    (row) => row.name,
  );

describe('a list or segment name', () => {
  it('is letters, digits, - and _, for segments and static lists alike; 422 naming name otherwise', async () => {
    for (const [name, query] of [
      ['Email Users!', 'plan=eq.pro'],
      ['email users', 'plan=eq.pro'],
      ['-pro', 'plan=eq.pro'],
      ['pros/fr', undefined],
      ['café', undefined],
    ] as const) {
      const response = await api.call('POST', '/v1/lists', {
        body: query === undefined ? { name } : { name, query },
      });
      expect([response.status, detailOf(response)], name).toEqual([
        422,
        `name: expected a name of letters, digits, - and _, starting with a letter or digit (e.g. email-users), got "${name}"`,
      ]);
    }
    expect(await listNames()).toEqual([]);
    for (const name of ['email-users', 'Email_Users', '2024-cohort']) {
      const response = await api.call('POST', '/v1/lists', {
        body: { name, query: 'country=eq.FR' },
      });
      expect(response.status, response.text).toBe(201);
    }
    expect(await listNames()).toEqual(['2024-cohort', 'Email_Users', 'email-users']);
  });
});

describe('a segment on an attribute no contact holds', () => {
  it('is kept, with a warning naming the attribute it likely is, when made; a read does not scan for it', async () => {
    const made = await api.call('POST', '/v1/lists', {
      body: { name: 'typo', query: 'plann=eq.pro&country=eq.FR' },
    });
    expect(made.status, made.text).toBe(201);
    expect(made.json).toMatchObject({
      name: 'typo',
      kind: 'segment',
      warnings: ['no contact has the attribute "plann" yet (did you mean "plan"?)'],
    });
    // Warnings cost a scan of every contact: paid when the segment is made, not on each read.
    const read = await api.call('GET', '/v1/lists/typo');
    expect(read.status, read.text).toBe(200);
    expect(read.json).toEqual({
      id: (made.json as { id: string }).id,
      name: 'typo',
      kind: 'segment',
      query: 'plann=eq.pro&country=eq.FR',
      created_at: expect.any(String),
    });
    // Once a contact holds it, a segment made on it is not warned of.
    await api.call('POST', '/v1/contacts', {
      body: { email: 'cat@example.com', attributes: { plann: 'pro' } },
    });
    const again = await api.call('POST', '/v1/lists', {
      body: { name: 'typo-again', query: 'plann=eq.pro' },
    });
    expect(again.json).toMatchObject({ kind: 'segment', warnings: [] });
  });

  it('is found in groups and full-text tests; with nothing close, no guess', async () => {
    const made = await api.call('POST', '/v1/lists', {
      body: {
        name: 'grouped',
        query: 'or=(countyr.eq.FR,email.eq.ann@example.com)&bioo=fts.tea&zzz_unheard_of=is.null',
      },
    });
    expect(made.status, made.text).toBe(201);
    expect((made.json as { warnings: string[] }).warnings).toEqual([
      'no contact has the attribute "countyr" yet (did you mean "country"?)',
      'no contact has the attribute "zzz_unheard_of" yet',
      'no contact has the attribute "bioo" yet (did you mean "bio"?)',
    ]);
  });

  it('is not warned of for contact columns, attributes nudge.yaml declares, or static lists', async () => {
    // seats is declared (helpers' ATTRIBUTES) and no contact holds it.
    const declared = await api.call('POST', '/v1/lists', {
      body: { name: 'seated', query: 'seats=gt.3&email=like.*@example.com&created_at=not.is.null' },
    });
    expect(declared.json).toMatchObject({ kind: 'segment', warnings: [] });
    const plain = await api.call('POST', '/v1/lists', { body: { name: 'plain' } });
    expect(plain.json).toMatchObject({ kind: 'static', warnings: [] });
  });

  it('is made when the check fails: no warnings, never a 500, and a read never runs the check', async () => {
    // A server whose role may not read a contact (a policy that raises), as a
    // check stopped by its time limit fails: the segment is made all the same.
    const role = await db.loginRole(
      'lists_api',
      `GRANT USAGE ON SCHEMA nudge_engine TO {role};
       GRANT ALL ON ALL TABLES IN SCHEMA nudge_engine TO {role};
       GRANT ALL ON ALL SEQUENCES IN SCHEMA nudge_engine TO {role};`,
    );
    await db.sql.unsafe(`
      CREATE FUNCTION public.refuse_contacts() RETURNS boolean LANGUAGE plpgsql VOLATILE
        AS $$ BEGIN RAISE EXCEPTION 'contacts are not to be read'; END $$;
      ALTER TABLE nudge_engine.contacts ENABLE ROW LEVEL SECURITY;
      CREATE POLICY refuse ON nudge_engine.contacts FOR SELECT TO ${role.name}
        USING (public.refuse_contacts());`);
    const restricted = postgres(role.url, { onnotice: () => {}, max: 2 });
    // The /v1 routes alone, in process, over that role's connection.
    const app = makeApi({ sql: restricted, attributes: ATTRIBUTES, route: () => 0 });
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await app.request(path, {
        method,
        headers: { authorization: `Bearer ${api.writeKey}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, text: await response.text() };
    };
    try {
      // The check does fail for this role.
      await expect(restricted`select 1 from nudge_engine.contacts`).rejects.toThrow(
        'contacts are not to be read',
      );
      const made = await call('POST', '/lists', {
        name: 'unchecked',
        query: 'plann=eq.pro',
      });
      expect(made.status, made.text).toBe(201);
      expect(JSON.parse(made.text)).toMatchObject({
        name: 'unchecked',
        kind: 'segment',
        warnings: [],
      });
      const read = await call('GET', '/lists/unchecked');
      expect(read.status, read.text).toBe(200);
    } finally {
      await restricted.end();
      await db.sql.unsafe(`
        DROP POLICY refuse ON nudge_engine.contacts;
        ALTER TABLE nudge_engine.contacts DISABLE ROW LEVEL SECURITY;`);
    }
    expect(await listNames()).toContain('unchecked');
  });
});

describe('a counted condition on an attribute no contact holds', () => {
  const counted = (query: string) =>
    api.call('GET', `/v1/contacts?${query}&limit=0`, { headers: { prefer: 'count=exact' } });
  const warningsOf = (response: { headers: Headers }) => {
    const header = response.headers.get('x-nudge-warnings');
    return header === null ? null : (JSON.parse(header) as unknown);
  };

  it('is counted, with the warning a new segment gets in x-nudge-warnings (the live count reads it)', async () => {
    const typo = await counted('plan=eq.pro&countri=eq.FR');
    expect(typo.status, typo.text).toBe(200);
    expect(typo.headers.get('content-range')).toBe('*/0');
    expect(warningsOf(typo)).toEqual([
      'no contact has the attribute "countri" yet (did you mean "country"?)',
    ]);
    // A name in any script comes back whole (the header itself is ASCII).
    const named = await counted('f%C3%B6%C3%B6=eq.1');
    expect(/^[\x20-\x7e]*$/.test(named.headers.get('x-nudge-warnings') ?? '')).toBe(true);
    expect(warningsOf(named)).toEqual(['no contact has the attribute "föö" yet']);
    // None for attributes contacts hold or nudge.yaml declares, nor on a page not counted.
    expect(warningsOf(await counted('country=eq.FR&mrr=gt.1'))).toBeNull();
    const uncounted = await api.call('GET', '/v1/contacts?nosuch=eq.1&limit=1');
    expect(uncounted.status, uncounted.text).toBe(200);
    expect(warningsOf(uncounted)).toBeNull();
  });
});

describe('deleting from the dashboard', () => {
  it('deletes a segment with a dashboard key; a static list needs a write key', async () => {
    await api.call('POST', '/v1/lists', { body: { name: 'fr', query: 'country=eq.FR' } });
    await api.call('POST', '/v1/lists', { body: { name: 'kept' } });
    await api.call('POST', '/v1/lists/kept/contacts', { body: { emails: ['ann@example.com'] } });

    const segment = await api.call('DELETE', '/v1/lists/fr', { key: dashboardKey });
    expect([segment.status, segment.json]).toEqual([200, { name: 'fr', deleted: true }]);
    expect(await listNames()).not.toContain('fr');

    const refused = await api.call('DELETE', '/v1/lists/kept', { key: dashboardKey });
    expect([refused.status, refused.json]).toEqual([
      403,
      expect.objectContaining({
        error: 'insufficient_scope',
        detail: `"kept" is a static list: the dashboard deletes segments only (a static list's members would go with it); use an API key of scope write`,
      }),
    ]);
    expect(
      (
        await db.sql`select 1 from nudge_engine.list_members m
                      join nudge_engine.lists l on l.id = m.list_id where l.name = 'kept'`
      ).length,
    ).toBe(1);
    const missing = await api.call('DELETE', '/v1/lists/nosuch', { key: dashboardKey });
    expect([missing.status, detailOf(missing)]).toEqual([404, 'no list named "nosuch"']);

    // The dashboard deletes nothing else: not a list's members, not a contact.
    const members = await api.call('DELETE', '/v1/lists/kept/contacts', {
      key: dashboardKey,
      body: { emails: ['ann@example.com'] },
    });
    expect(members.status).toBe(403);
    const contact = await api.call('DELETE', '/v1/contacts/ann@example.com', {
      key: dashboardKey,
    });
    expect(contact.status).toBe(403);

    const byWriter = await api.call('DELETE', '/v1/lists/kept');
    expect([byWriter.status, byWriter.json]).toEqual([200, { name: 'kept', deleted: true }]);
  });

  it('answers what the delete saw: a list made meanwhile is a 404, never a 403 for a key that may delete it', async () => {
    // The delete waits on a row another transaction renames; that one also
    // makes a new list of the name and commits: the delete deletes nothing,
    // and the new list is there when the answer is chosen.
    const deleting = () =>
      db.sql<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity
         where datname = current_database() and wait_event_type = 'Lock'
           and query ilike '%delete from nudge_engine.lists%'`.then(([row]) => row!.n);
    const answers: Record<string, unknown> = {};
    for (const [who, key, query] of [
      ['a write key, a static list', api.writeKey, null],
      ['the dashboard, a segment', dashboardKey, 'country=eq.FR'],
    ] as const) {
      await db.sql`insert into nudge_engine.lists (name, query) values ('late', ${query})`;
      let answer: ReturnType<typeof api.call> | undefined;
      await db.sql.begin(async (tx) => {
        await tx`update nudge_engine.lists set name = 'late-before' where name = 'late'`;
        answer = api.call('DELETE', '/v1/lists/late', { key });
        await expect.poll(deleting, { timeout: 10_000 }).toBe(1);
        await tx`insert into nudge_engine.lists (name, query) values ('late', ${query})`;
      });
      const response = await answer!;
      answers[who] = [response.status, detailOf(response)];
      await db.sql`delete from nudge_engine.lists where name in ('late', 'late-before')`;
    }
    expect(answers).toEqual({
      'a write key, a static list': [404, 'no list named "late"'],
      'the dashboard, a segment': [404, 'no list named "late"'],
    });
  });
});
