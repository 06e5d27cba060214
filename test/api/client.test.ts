// The typed client against a real server: the reference's "Query and Segment"
// example in a few lines, typed rows from select(), every builder method's
// PostgREST spelling, events with idempotency, lists and segments, paging
// with totals, and NudgeApiError for error answers.

import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  type ContactQuery,
  Nudge,
  NudgeApiError,
  NudgeUnreachableError,
} from '../../src/client/index.js';
import { useDatabase } from '../harness/db.js';
import { type ApiServer, startApi } from './helpers.js';

const db = useDatabase();
let api: ApiServer;
let nudge: Nudge<{ plan: string; mrr: number; full_name: string; vip: boolean }>;
const requested: string[] = [];

beforeAll(async () => {
  api = await startApi(db);
  nudge = new Nudge({
    url: api.url,
    apiKey: api.writeKey,
    fetch: (input, init) => {
      requested.push(`${init?.method ?? 'GET'} ${String(input)}`);
      return fetch(input, init);
    },
  });
  const customers: [string, string, number, string, boolean][] = [
    ['ada@example.com', 'pro', 320, 'Ada Lovelace', true],
    ['bo@example.com', 'pro', 90, 'Bo Diddley', false],
    ['cy@example.com', 'free', 0, 'Cy Young', false],
    ['di@example.com', 'pro', 150, 'Di Prima, Diane', true],
  ];
  for (const [email, plan, mrr, full_name, vip] of customers) {
    await nudge.contacts.upsert({ email, attributes: { plan, mrr, full_name, vip } });
  }
});
afterAll(async () => {
  await api?.close();
});

describe('the reference example: query and segment', () => {
  it('says a server that does not answer at all is unreachable, naming the URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const nowhere = new Nudge({ url: `http://127.0.0.1:${port}`, apiKey: api.readKey });
    const error = await nowhere.contacts.get('nobody@example.com').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NudgeUnreachableError);
    expect((error as Error).message).toMatch(
      new RegExp(`^cannot reach Nudge at http://127\\.0\\.0\\.1:${port}/v1/contacts/`),
    );
  });

  it('queries pro customers by mrr and syncs them to a list', async () => {
    const proUsers = await nudge.contacts
      .query()
      .eq('plan', 'pro')
      .gt('mrr', 100)
      .order('mrr', { ascending: false })
      .select('email, full_name, plan, mrr');
    await nudge.lists.create('pro-users');
    await nudge.lists.addContacts('pro-users', proUsers);

    expect(proUsers).toEqual([
      { email: 'ada@example.com', full_name: 'Ada Lovelace', plan: 'pro', mrr: 320 },
      { email: 'di@example.com', full_name: 'Di Prima, Diane', plan: 'pro', mrr: 150 },
    ]);
    expectTypeOf(proUsers).toEqualTypeOf<
      { email: string | null; full_name: string | null; plan: string | null; mrr: number | null }[]
    >();
    expect(requested).toContain(
      `GET ${api.url}/v1/contacts?plan=eq.pro&mrr=gt.100&order=mrr.desc&select=email%2Cfull_name%2Cplan%2Cmrr`,
    );
    const members = await nudge.lists.members('pro-users').order('email').select('email');
    expect(members).toEqual([{ email: 'ada@example.com' }, { email: 'di@example.com' }]);
  });

  it('adds by a query, and keeps a segment live', async () => {
    await nudge.lists.create('pro-by-query');
    const pro = nudge.contacts.query().eq('plan', 'pro').gt('mrr', 100);
    expect(await nudge.lists.add('pro-by-query', pro)).toEqual({ added: 2 });

    const segment = await nudge.lists.create('pro-live', { query: pro });
    expect(segment).toMatchObject({ kind: 'segment', query: 'plan=eq.pro&mrr=gt.100' });
    await nudge.contacts.upsert({ email: 'bo@example.com', attributes: { mrr: 200 } });
    const live = await nudge.lists.members('pro-live').order('email').select('email');
    expect(live.map((row) => row.email)).toEqual([
      'ada@example.com',
      'bo@example.com',
      'di@example.com',
    ]);
    await nudge.contacts.upsert({ email: 'bo@example.com', attributes: { mrr: 90 } });

    expect(await nudge.lists.remove('pro-by-query', ['ada@example.com'])).toEqual({ removed: 1 });
    const all = await nudge.lists.all();
    expect(all.find((list) => list.name === 'pro-by-query')?.members).toBe(1);
  });
});

describe('lists with what a query gave', () => {
  it('adds no one for an empty answer, without a request', async () => {
    await nudge.lists.create('nobody-yet');
    const none = await nudge.contacts.query().eq('plan', 'none').select('email');
    const before = requested.length;
    expect(await nudge.lists.addContacts('nobody-yet', none)).toEqual({ added: 0 });
    expect(await nudge.lists.remove('nobody-yet', [])).toEqual({ removed: 0 });
    expect(requested.length).toBe(before);
  });

  it('refuses a query with a limit or offset, rather than adding or saving every match', async () => {
    await nudge.lists.create('top-one');
    const pro = () => nudge.contacts.query().eq('plan', 'pro').order('mrr', { ascending: false });
    const added = await nudge.lists.add('top-one', pro().limit(1)).catch((e: unknown) => e);
    expect(added).toBeInstanceOf(NudgeApiError);
    expect(added).toMatchObject({ status: 400, code: 'bad_query' });
    expect((added as NudgeApiError).detail).toBe('limit: only filters are allowed here');
    expect(await nudge.lists.members('top-one')).toEqual([]);
    const saved = await nudge.lists
      .create('top-live', { query: nudge.contacts.query().eq('plan', 'pro').offset(1) })
      .catch((e: unknown) => e);
    expect(saved).toMatchObject({
      status: 422,
      detail: 'query: offset: only filters are allowed here',
    });
    // select and order change no one: still taken.
    expect(await nudge.lists.add('top-one', pro().select('email'))).toEqual({ added: 3 });
  });
});

describe('the query builder', () => {
  const emails = async (
    query: ContactQuery<{ plan: string; mrr: number; full_name: string; vip: boolean }>,
  ) => (await query.order('email').select('email')).map((row) => row.email);

  it.each([
    ['neq', (q: ContactQuery) => q.neq('plan', 'pro'), 'plan=neq.pro', ['cy@example.com']],
    [
      'gte/lte',
      (q: ContactQuery) => q.gte('mrr', 90).lte('mrr', 150),
      'mrr=gte.90&mrr=lte.150',
      ['bo@example.com', 'di@example.com'],
    ],
    ['lt', (q: ContactQuery) => q.lt('mrr', 90), 'mrr=lt.90', ['cy@example.com']],
    [
      'like',
      (q: ContactQuery) => q.like('full_name', '*Young'),
      'full_name=like.*Young',
      ['cy@example.com'],
    ],
    [
      'ilike',
      (q: ContactQuery) => q.ilike('full_name', '%LOVE%'),
      'full_name=ilike.%25LOVE%25',
      ['ada@example.com'],
    ],
    [
      'in (quoted)',
      (q: ContactQuery) => q.in('full_name', ['Di Prima, Diane', 'Cy Young']),
      'full_name=in.%28%22Di+Prima%2C+Diane%22%2CCy+Young%29',
      ['cy@example.com', 'di@example.com'],
    ],
    [
      'is',
      (q: ContactQuery) => q.is('vip', true),
      'vip=is.true',
      ['ada@example.com', 'di@example.com'],
    ],
    [
      'not',
      (q: ContactQuery) => q.not('plan', 'in', ['free', 'team']),
      'plan=not.in.%28free%2Cteam%29',
      ['ada@example.com', 'bo@example.com', 'di@example.com'],
    ],
    [
      'not is',
      (q: ContactQuery) => q.not('vip', 'is', true),
      'vip=not.is.true',
      ['bo@example.com', 'cy@example.com'],
    ],
    [
      'or',
      (q: ContactQuery) => q.or('plan.eq.free,mrr.gt.300'),
      'or=%28plan.eq.free%2Cmrr.gt.300%29',
      ['ada@example.com', 'cy@example.com'],
    ],
    [
      'textSearch',
      (q: ContactQuery) => q.textSearch('full_name', 'diane prima', { type: 'plain' }),
      'full_name=plfts.diane+prima',
      ['di@example.com'],
    ],
    [
      'textSearch config',
      (q: ContactQuery) => q.textSearch('full_name', 'young', { config: 'english' }),
      'full_name=fts%28english%29.young',
      ['cy@example.com'],
    ],
    [
      'dates',
      (q: ContactQuery) => q.lt('created_at', new Date('2000-01-01T00:00:00Z')),
      'created_at=lt.2000-01-01T00%3A00%3A00.000Z',
      [],
    ],
  ])('%s', async (_name, build, params, expected) => {
    const query = build(nudge.contacts.query() as ContactQuery);
    expect(query.filterParams().toString()).toBe(params);
    expect(await emails(query as never)).toEqual(expected);
  });

  it('pages with range() and reports the total', async () => {
    const page = await nudge.contacts
      .query()
      .order('email')
      .range(1, 2)
      .select('email')
      .page({ count: true });
    expect(page).toEqual({
      rows: [{ email: 'bo@example.com' }, { email: 'cy@example.com' }],
      range: { from: 1, to: 2 },
      total: 4,
      warnings: [],
      // A row is left after the page: the cursor to ask for it with after().
      next: expect.any(String),
    });
    const empty = await nudge.contacts.query().eq('plan', 'none').page({ count: true });
    expect(empty).toEqual({ rows: [], range: null, total: 0, warnings: [], next: null });
    // An attribute no contact has: counted all the same, and said (x-nudge-warnings).
    const unheld = await nudge.contacts.query().eq('nosuch', 'x').page({ count: true });
    expect(unheld).toEqual({
      rows: [],
      range: null,
      total: 0,
      warnings: ['no contact has the attribute "nosuch" yet'],
      next: null,
    });
  });

  it('types rows by select: aliases, JSON paths, the whole contact', async () => {
    const rows = await nudge.contacts
      .query()
      .eq('email', 'ada@example.com')
      .select('name:full_name, vip, id');
    expectTypeOf(rows).toEqualTypeOf<{ name: string | null; vip: boolean | null; id: string }[]>();
    expect(rows).toEqual([{ name: 'Ada Lovelace', vip: true, id: expect.any(String) }]);
    const [whole] = await nudge.contacts.query().eq('email', 'ada@example.com');
    expectTypeOf(whole!.attributes.mrr).toEqualTypeOf<number | undefined>();
    expect(whole?.attributes).toMatchObject({ plan: 'pro', mrr: 320 });
  });
});

describe('contacts, events, errors', () => {
  it('tracks events idempotently and shows them on the timeline; deletes', async () => {
    const order = {
      email: 'ada@example.com',
      event: 'order_placed',
      properties: { total: 12 },
      occurred_at: new Date('2025-05-01T10:00:00Z'),
      idempotency_key: 'order-1',
    };
    const first = await nudge.events.track(order);
    const again = await nudge.events.track(order);
    expect(again).toEqual({ ...first, duplicate: true });
    const reused = await nudge.events
      .track({ ...order, event: 'order_refunded' })
      .catch((error: unknown) => error);
    expect(reused).toBeInstanceOf(NudgeApiError);
    expect(reused).toMatchObject({ status: 422, code: 'idempotency_key_reused' });
    const { contact, timeline } = await nudge.contacts.get('ada@example.com', { limit: 5 });
    expect(contact.attributes.full_name).toBe('Ada Lovelace');
    expect(timeline.items).toEqual([
      expect.objectContaining({ kind: 'event', name: 'order_placed', properties: { total: 12 } }),
    ]);

    const deleted = await nudge.contacts.delete('cy@example.com');
    expect(deleted.deleted_at).toEqual(expect.any(String));
  });

  it('throws NudgeApiError with status, code and detail', async () => {
    const bad = await nudge.contacts
      .query()
      .gt('mrr', 'lots')
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(bad).toBeInstanceOf(NudgeApiError);
    expect(bad).toMatchObject({
      status: 400,
      code: 'bad_query',
      detail: expect.stringContaining('mrr: expected a number'),
    });
    await expect(nudge.contacts.get('nobody@example.com')).rejects.toMatchObject({
      status: 404,
      code: 'contact_not_found',
    });
    await expect(nudge.events.track({ email: 'x@example.com', event: '' })).rejects.toMatchObject({
      status: 422,
      detail: 'event: expected a non-empty event name, got ""',
    });
    await nudge.events.track({ email: 'ada@example.com', event: 'paid', idempotency_key: 'pay-1' });
    const reused = await nudge.events
      .track({ email: 'ada@example.com', event: 'refunded', idempotency_key: 'pay-1' })
      .catch((e: unknown) => e);
    expect(reused).toMatchObject({
      status: 422,
      code: 'idempotency_key_reused',
      body: { differs: ['event'], first_event_id: expect.any(Number), idempotency_key: 'pay-1' },
    });
    const reader = new Nudge({ url: `${api.url}/`, apiKey: api.readKey });
    await expect(reader.lists.create('nope')).rejects.toMatchObject({
      status: 403,
      code: 'insufficient_scope',
    });
    const stranger = new Nudge({ url: api.url, apiKey: 'nudge_wrong' });
    await expect(stranger.contacts.query()).rejects.toMatchObject({ status: 401 });
  });
});
