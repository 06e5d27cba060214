// /v1/lists: static lists (members by id, by email, by a condition given as
// PostgREST query parameters; removal the same ways), segments evaluated live
// at read time, member reads with filters and paging, and the 404/409/422s.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../harness/db.js';
import { type ApiServer, detailOf, emailsOf, startApi } from './helpers.js';

const db = useDatabase();
let api: ApiServer;
const ids: Record<string, string> = {};

beforeAll(async () => {
  api = await startApi(db);
  const people: [string, Record<string, unknown>][] = [
    ['ann@example.com', { plan: 'pro', mrr: 150 }],
    ['ben@example.com', { plan: 'pro', mrr: 80 }],
    ['cat@example.com', { plan: 'free', mrr: 0 }],
    ['dan@example.com', { plan: 'pro', mrr: 400 }],
  ];
  for (const [email, attributes] of people) {
    const response = await api.call('POST', '/v1/contacts', { body: { email, attributes } });
    ids[email] = (response.json as { id: string }).id;
  }
});
afterAll(async () => {
  await api?.close();
});

const members = async (list: string, query = '') => {
  const response = await api.call('GET', `/v1/lists/${list}/contacts?order=email${query}`);
  expect(response.status, response.text).toBe(200);
  return emailsOf(response);
};
const memberRows = async () =>
  Number(
    (await db.sql<{ n: string }[]>`select count(*) as n from nudge_engine.list_members`)[0]!.n,
  );

describe('static lists', () => {
  it('create: 201, then 409 for the same name; 422 for a bad name', async () => {
    const created = await api.call('POST', '/v1/lists', { body: { name: 'newsletter' } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ name: 'newsletter', kind: 'static', query: null });
    const again = await api.call('POST', '/v1/lists', { body: { name: 'newsletter' } });
    expect([again.status, again.json]).toEqual([
      409,
      expect.objectContaining({ error: 'list_exists' }),
    ]);
    const bad = await api.call('POST', '/v1/lists', { body: { name: '' } });
    expect([bad.status, detailOf(bad)]).toEqual([
      422,
      'name: expected a non-empty list name, got ""',
    ]);
  });

  it('adds by ids and emails (a new email becomes a contact), removes them again', async () => {
    const added = await api.call('POST', '/v1/lists/newsletter/contacts', {
      body: { ids: [ids['ann@example.com']], emails: ['Ben@example.com', 'new@example.com'] },
    });
    expect([added.status, added.json]).toEqual([200, { added: 3 }]);
    expect(await members('newsletter')).toEqual([
      'ann@example.com',
      'ben@example.com',
      'new@example.com',
    ]);
    const twice = await api.call('POST', '/v1/lists/newsletter/contacts', {
      body: { emails: ['ann@example.com'] },
    });
    expect(twice.json).toEqual({ added: 0 });

    const removed = await api.call('DELETE', '/v1/lists/newsletter/contacts', {
      body: { emails: ['new@example.com'], ids: [ids['ben@example.com']] },
    });
    expect(removed.json).toEqual({ removed: 2 });
    expect(await members('newsletter')).toEqual(['ann@example.com']);
  });

  it('refuses the email of a deleted contact with 422 naming the item, as it refuses its id', async () => {
    await db.sql`insert into nudge_engine.contacts (email, deleted_at) values ('gone@example.com', now())`;
    const before = await memberRows();
    const response = await api.call('POST', '/v1/lists/newsletter/contacts', {
      body: { emails: ['fresh@example.com', 'Gone@Example.com'] },
    });
    expect([response.status, detailOf(response)]).toEqual([
      422,
      'emails[1]: the contact gone@example.com was deleted; a deleted contact cannot be added to a list',
    ]);
    expect(await memberRows()).toBe(before);
    const [fresh] =
      await db.sql`select 1 from nudge_engine.contacts where email = 'fresh@example.com'`;
    expect(fresh).toBeUndefined();
  });

  it('refuses unknown ids with 422 naming the item, and adds none of the others', async () => {
    const before = await memberRows();
    const response = await api.call('POST', '/v1/lists/newsletter/contacts', {
      body: {
        ids: [ids['cat@example.com'], '6f1c1c2e-8d1e-4c7a-9b1e-1f2e3d4c5b6a'],
        emails: ['other@example.com'],
      },
    });
    expect(response.status).toBe(422);
    expect(detailOf(response)).toBe(
      'ids[1]: no contact with id 6f1c1c2e-8d1e-4c7a-9b1e-1f2e3d4c5b6a',
    );
    expect(await memberRows()).toBe(before);
    const [other] =
      await db.sql`select 1 from nudge_engine.contacts where email = 'other@example.com'`;
    expect(other).toBeUndefined();
  });

  it('adds and removes by a condition in query parameters', async () => {
    await api.call('POST', '/v1/lists', { body: { name: 'big-pro' } });
    const added = await api.call('POST', '/v1/lists/big-pro/contacts?plan=eq.pro&mrr=gt.100');
    expect(added.json).toEqual({ added: 2 });
    expect(await members('big-pro')).toEqual(['ann@example.com', 'dan@example.com']);
    const removed = await api.call('DELETE', '/v1/lists/big-pro/contacts?mrr=gt.300');
    expect(removed.json).toEqual({ removed: 1 });
    expect(await members('big-pro')).toEqual(['ann@example.com']);
  });

  it.each([
    ['?plan=eq.pro', { emails: ['ann@example.com'] }, 422, 'not both'],
    ['', undefined, 422, 'give ids or emails, or a condition'],
    ['?mrr=gt.lots', undefined, 400, 'mrr: expected a number'],
    ['?order=mrr', undefined, 400, 'order: only filters are allowed here'],
    ['', { ids: ['x'] }, 422, 'ids[0]: expected a UUID'],
    ['', { emails: 'ann@example.com' }, 422, 'emails: expected a list of email addresses'],
    ['', { email: ['ann@example.com'] }, 422, 'email: unknown field (did you mean "emails"?)'],
    ['', { people: ['ann@example.com'] }, 422, 'people: unknown field; expected ids, emails'],
    // Found by test/security/fuzz.test.ts: PostgreSQL's own refusals of full-text terms.
    ['?email=fts(nope).ann', undefined, 400, 'text search configuration "nope" does not exist'],
    ['?email=fts.ann%20%26', undefined, 400, 'full-text search: no operand in tsquery'],
    ['?=fts%28nope%29.0', undefined, 400, 'text search configuration "nope" does not exist'],
  ])('refuses %s %j', async (query, body, status, message) => {
    const before = await memberRows();
    const response = await api.call('POST', `/v1/lists/big-pro/contacts${query}`, { body });
    expect(response.status).toBe(status);
    expect(detailOf(response)).toContain(message);
    expect(await memberRows()).toBe(before);
  });

  it('reads members with filters, paging and the total; deleted contacts are not members', async () => {
    await api.call('POST', '/v1/lists', { body: { name: 'everyone' } });
    await api.call('POST', '/v1/lists/everyone/contacts?id=not.is.null');
    const page = await api.call(
      'GET',
      '/v1/lists/everyone/contacts?order=email&select=email&plan=eq.pro',
      {
        headers: { range: '0-1', prefer: 'count=exact' },
      },
    );
    expect(page.status).toBe(206);
    expect(page.json).toEqual([{ email: 'ann@example.com' }, { email: 'ben@example.com' }]);
    expect(page.headers.get('content-range')).toBe('0-1/3');
    await api.call('DELETE', '/v1/contacts/dan@example.com');
    expect(await members('everyone', '&plan=eq.pro')).toEqual([
      'ann@example.com',
      'ben@example.com',
    ]);
    await api.call('POST', '/v1/contacts', { body: { email: 'dan@example.com' } });
  });
});

describe('segments', () => {
  it('is refused at creation when its full-text terms are wrong, not on every read', async () => {
    for (const query of ['?email=fts(nope).ann', '?email=fts.ann%20%26']) {
      const created = await api.call('POST', '/v1/lists', {
        body: { name: 'bad-search', query },
      });
      expect(created.status).toBe(422);
      expect(created.json).toMatchObject({ error: 'invalid_body' });
      expect(detailOf(created)).toMatch(/^query: full-text search/);
    }
    expect((await api.call('GET', '/v1/lists/bad-search')).status).toBe(404);
  });

  it('are evaluated when read, and cannot be added to', async () => {
    const created = await api.call('POST', '/v1/lists', {
      body: { name: 'pro-segment', query: '?plan=eq.pro&mrr=gt.100' },
    });
    expect(created.json).toMatchObject({ kind: 'segment', query: 'plan=eq.pro&mrr=gt.100' });
    expect(await members('pro-segment')).toEqual(['ann@example.com', 'dan@example.com']);

    await api.call('POST', '/v1/contacts', {
      body: { email: 'ben@example.com', attributes: { mrr: 120 } },
    });
    expect(await members('pro-segment')).toEqual([
      'ann@example.com',
      'ben@example.com',
      'dan@example.com',
    ]);
    expect(await members('pro-segment', '&mrr=lt.200')).toEqual([
      'ann@example.com',
      'ben@example.com',
    ]);

    const add = await api.call('POST', '/v1/lists/pro-segment/contacts', {
      body: { emails: ['cat@example.com'] },
    });
    expect([add.status, add.json]).toEqual([
      409,
      expect.objectContaining({ error: 'segment_list' }),
    ]);
  });

  it('compares emails in lower case, as they are stored', async () => {
    await api.call('POST', '/v1/lists', {
      body: { name: 'ann-by-email', query: 'email=in.(Ann@Example.com,BEN@example.com)' },
    });
    expect(await members('ann-by-email')).toEqual(['ann@example.com', 'ben@example.com']);
    await api.call('POST', '/v1/lists', { body: { name: 'by-condition' } });
    const added = await api.call(
      'POST',
      '/v1/lists/by-condition/contacts?email=eq.Cat@Example.com',
    );
    expect(added.json).toEqual({ added: 1 });
  });

  it.each([
    ['mrr=gt.lots', 'query: mrr: expected a number'],
    ['plan=eq.pro&order=mrr.desc', 'query: order: only filters are allowed here'],
    ['or=(plan.eq.pro', 'query: or: missing ")"'],
    // A like pattern's % unescaped: %an is no escape, but %ad is (0xAD, no UTF-8 text),
    // which URLSearchParams read as U+FFFD, a segment matching no one.
    ['email=like.%ada%', 'query: email: "like.%ada%" holds a percent-escape that is no UTF-8 text'],
    ['%ff=eq.1', 'query: %ff: "%ff" holds a percent-escape'],
  ])('refuses the query %s with 422, creating nothing', async (query, message) => {
    const response = await api.call('POST', '/v1/lists', { body: { name: 'broken', query } });
    expect(response.status).toBe(422);
    expect(detailOf(response)).toContain(message);
    expect(await db.sql`select 1 from nudge_engine.lists where name = 'broken'`).toHaveLength(0);
  });
});

describe('list resources', () => {
  it('lists every list with static member counts; reads, deletes; 404 for unknown names', async () => {
    const all = await api.call('GET', '/v1/lists');
    const byName = new Map(
      (all.json as { name: string; members: number | null }[]).map((l) => [l.name, l.members]),
    );
    expect(byName.get('big-pro')).toBe(1);
    expect(byName.get('pro-segment')).toBeNull();
    expect((await api.call('GET', '/v1/lists/big-pro')).json).toMatchObject({
      name: 'big-pro',
      kind: 'static',
    });
    const deleted = await api.call('DELETE', '/v1/lists/big-pro');
    expect(deleted.json).toEqual({ name: 'big-pro', deleted: true });
    for (const [method, path] of [
      ['GET', '/v1/lists/big-pro'],
      ['GET', '/v1/lists/big-pro/contacts'],
      ['POST', '/v1/lists/big-pro/contacts?plan=eq.pro'],
      ['DELETE', '/v1/lists/big-pro'],
    ] as const) {
      const response = await api.call(method, path);
      expect([response.status, response.json], `${method} ${path}`).toEqual([
        404,
        expect.objectContaining({ error: 'list_not_found' }),
      ]);
    }
  });
});
