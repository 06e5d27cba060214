// A query parameter given twice: where it takes one value (a contact query's
// select, limit and offset; every parameter of the other /v1 routes) it is a
// 400 naming it, never the first or the last of the two read without a word;
// where repeats mean something (a contact query's filters and groups, ANDed,
// and its order keys) they keep working.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../harness/db.js';
import { type ApiServer, detailOf, emailsOf, startApi } from './helpers.js';

const db = useDatabase();
let api: ApiServer;

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
    expect(response.status, response.text).toBe(201);
  }
  const list = await api.call('POST', '/v1/lists', { body: { name: 'pros' } });
  expect(list.status, list.text).toBe(201);
  const added = await api.call('POST', '/v1/lists/pros/contacts?plan=eq.pro');
  expect(added.json).toEqual({ added: 3 });
});
afterAll(async () => {
  await api?.close();
});

/** `${status} ${error}: ${detail}` of an answer, with the read key. */
const refusal = async (path: string) => {
  const response = await api.call('GET', path, { key: api.readKey });
  const body = response.json as { error?: string } | undefined;
  return `${response.status} ${body?.error}: ${detailOf(response)}`;
};

describe('a contact query', () => {
  it.each([
    ['/v1/contacts?limit=5&limit=500', 'limit'],
    ['/v1/contacts?offset=0&plan=eq.pro&offset=2', 'offset'],
    ['/v1/contacts?select=email&select=mrr', 'select'],
    ['/v1/lists/pros/contacts?limit=1&limit=2', 'limit'],
    ['/v1/lists/pros/contacts?select=email&order=email&select=*', 'select'],
  ])('refuses %s naming %s', async (path, name) => {
    expect(await refusal(path)).toBe(`400 bad_query: ${name}: given more than once; give it once`);
  });

  it('ANDs a field filtered twice and groups given twice, as before', async () => {
    const between = await api.call('GET', '/v1/contacts?mrr=gt.50&mrr=lt.200&order=email');
    expect(emailsOf(between)).toEqual(['ann@example.com', 'ben@example.com']);
    const groups = await api.call(
      'GET',
      '/v1/contacts?or=(mrr.eq.0,mrr.eq.150)&or=(plan.eq.pro,mrr.gt.1000)&order=email',
    );
    expect(emailsOf(groups)).toEqual(['ann@example.com']);
    const members = await api.call(
      'GET',
      '/v1/lists/pros/contacts?mrr=gt.50&mrr=lt.200&order=email',
    );
    expect(emailsOf(members)).toEqual(['ann@example.com', 'ben@example.com']);
  });

  it('orders by a second order’s keys after the first’s, as one order=a,b does', async () => {
    const twice = await api.call('GET', '/v1/contacts?order=plan&order=mrr.desc');
    const once = await api.call('GET', '/v1/contacts?order=plan,mrr.desc');
    expect(emailsOf(twice)).toEqual([
      'cat@example.com',
      'dan@example.com',
      'ann@example.com',
      'ben@example.com',
    ]);
    expect(emailsOf(twice)).toEqual(emailsOf(once));
  });

  it('keeps one limit and one offset working, with a filter of a field named like neither', async () => {
    const page = await api.call('GET', '/v1/contacts?plan=eq.pro&order=email&limit=1&offset=1');
    expect(emailsOf(page)).toEqual(['ben@example.com']);
  });
});

describe('the other routes', () => {
  // Each takes a fixed set of parameters (takes() in input.ts): the same rule.
  it.each([
    ['/v1/contacts/ann@example.com?limit=1&limit=2', 'limit'],
    ['/v1/decisions?limit=5&limit=500', 'limit'],
    ['/v1/decisions?feature=a&outcome=matched&feature=b', 'feature'],
    ['/v1/decisions/stream?after=1&after=2', 'after'],
    ['/v1/actions?status=dead&status=pending', 'status'],
    ['/v1/ingest?before=9&before=10', 'before'],
    ['/v1/mailbox?limit=5&limit=500', 'limit'],
    ['/v1/features?window=1h&window=7d', 'window'],
  ])('refuses %s naming %s', async (path, name) => {
    expect(await refusal(path)).toBe(`400 bad_query: ${name}: given more than once; give it once`);
  });
});
