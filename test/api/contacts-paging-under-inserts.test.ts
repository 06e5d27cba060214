// GET /v1/contacts and a list's members, walked by the `after` cursor of each
// answer's x-nudge-next header while contacts are created between pages: each
// contact there was when the walk began is seen exactly once, in its place in
// the order, whatever the order (an offset would shift by the contacts that
// arrived). Ties in the ordered attribute and nulls at either end are there
// on purpose: the cursor must carry every key, the id last.
import { beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../harness/db.js';
import { type ApiServer, detailOf, startApi } from './helpers.js';

const db = useDatabase();
const ROWS = 23;
const LIMIT = 5;
const NEXT = 'x-nudge-next';

let api: ApiServer;
let written = 0;

beforeAll(async () => {
  api = await startApi(db);
});

/**
 * `n` contacts named `<walk>-<k>@example.com`, members of the list `walk`;
 * mrr and plan repeat and are sometimes missing. Each walk has its own.
 */
async function write(walk: string, n: number): Promise<void> {
  await db.sql`insert into nudge_engine.lists (name) values (${walk}) on conflict do nothing`;
  for (let i = 0; i < n; i++) {
    const k = written++;
    const attributes: Record<string, unknown> = {};
    if (k % 4 !== 0) attributes.mrr = (k * 7) % 5;
    if (k % 5 !== 0) attributes.plan = ['pro', 'Free', 'team', 'éclair'][k % 4];
    await db.sql`
      with c as (insert into nudge_engine.contacts (email, attributes)
                 values (${`${walk}-${k}@example.com`}, ${db.sql.json(attributes as never)}) returning id)
      insert into nudge_engine.list_members (list_id, contact_id)
      select l.id, c.id from nudge_engine.lists l, c where l.name = ${walk}`;
  }
}

async function page(path: string): Promise<{ ids: string[]; next: string | null }> {
  const answer = await api.call('GET', path);
  expect(`${answer.status} ${path}`).toMatch(/^20[06] /);
  return {
    ids: (answer.json as { id: string }[]).map((row) => row.id),
    next: answer.headers.get(NEXT),
  };
}

const ORDERS = [
  '',
  'order=mrr.desc.nullsfirst',
  'order=mrr.asc',
  'order=plan.asc.nullsfirst',
  'order=plan.desc,mrr.asc.nullsfirst',
];
const ROUTES = ['/v1/contacts', '/v1/lists/:walk/contacts'];

describe('contacts paged by the after cursor while contacts are created', () => {
  for (const route of ROUTES) {
    for (const [n, order] of ORDERS.entries()) {
      it(`sees each contact once: ${route}?${order || '(default order)'}`, async () => {
        const walk = `${route.length}w${n}`;
        await write(walk, ROWS);
        const base = `${route.replace(':walk', walk)}?email=like.${walk}-*&${order ? `${order}&` : ''}select=id`;
        const everything = (await page(`${base}&limit=1000`)).ids;
        expect(everything.length).toBeGreaterThanOrEqual(ROWS);

        const seen: string[] = [];
        let next: string | null = null;
        let pages = 0;
        do {
          const answer = await page(
            `${base}&limit=${LIMIT}${next ? `&after=${encodeURIComponent(next)}` : ''}`,
          );
          seen.push(...answer.ids);
          next = answer.next;
          pages++;
          // New contacts, some before the cursor in this order and some after it.
          await write(walk, 3);
        } while (next && pages < 100);

        const before = new Set(everything);
        // In order, none twice, none missed.
        expect(seen.filter((id) => before.has(id))).toEqual(everything);
        expect(new Set(seen).size).toBe(seen.length);
      });
    }
  }

  it('gives no cursor on the last page, and reads limit=0 as an empty page', async () => {
    await write('last', 2);
    const all = await page('/v1/contacts?email=like.last-*&select=id&limit=2');
    expect(all.next).toBeNull();
    const first = await page('/v1/contacts?email=like.last-*&select=id&limit=1');
    expect(first.next).not.toBeNull();
    expect((await page('/v1/contacts?select=id&limit=0')).ids).toEqual([]);
  });

  it('says in Content-Range where the page lies from the cursor on', async () => {
    await write('range', 3);
    const first = await page('/v1/contacts?select=id&limit=2');
    const answer = await api.call(
      'GET',
      `/v1/contacts?select=id&limit=2&after=${encodeURIComponent(first.next ?? '')}`,
      { headers: { prefer: 'count=exact' } },
    );
    const total = Number((await db.sql`select count(*) from nudge_engine.contacts`)[0]?.count);
    expect(answer.headers.get('content-range')).toBe(`0-1/${total - 2}`);
  });
});

describe('a cursor over each type an order key can have', () => {
  const TYPED = ['seats', 'vip', 'trial_ends_at', 'birthday', 'team_id', 'meta', 'email'];

  it.each(TYPED)('walks order=%s.desc, ties and nulls included, each contact once', async (key) => {
    const walk = `typed-${key}`;
    await db.sql`
      insert into nudge_engine.contacts (email, attributes)
      select ${walk} || '-' || i || '@example.com', jsonb_strip_nulls(jsonb_build_object(
        'seats', case when i % 5 <> 0 then (i % 3) + case when i = 7 then 0.5 else 0 end end,
        'vip', case when i % 4 <> 0 then i % 2 = 0 end,
        'trial_ends_at', case when i % 3 <> 0 then
          to_char(timestamptz '2025-01-01 00:00:00.123456+00' + (i % 4) * interval '1 microsecond',
                  'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') end,
        'birthday', case when i % 3 <> 1 then '2000-01-0' || (i % 4 + 1) end,
        'team_id', case when i % 4 <> 1 then '00000000-0000-0000-0000-00000000000' || (i % 3) end,
        'meta', case when i % 3 <> 2 then jsonb_build_object('tier', i % 2) end))
        from generate_series(0, 12) i`;
    const base = `/v1/contacts?email=like.${walk}-*&order=${key}.desc&select=id`;
    const everything = (await page(`${base}&limit=1000`)).ids;
    expect(everything).toHaveLength(13);
    const seen: string[] = [];
    let next: string | null = null;
    do {
      const answer = await page(
        `${base}&limit=2${next ? `&after=${encodeURIComponent(next)}` : ''}`,
      );
      seen.push(...answer.ids);
      next = answer.next;
    } while (next && seen.length < 100);
    expect(seen).toEqual(everything);
  });
});

describe('a cursor the query cannot take', () => {
  async function cursorOf(query: string): Promise<string> {
    await write('bad', 3);
    const answer = await page(`/v1/contacts?${query}&limit=1`);
    expect(answer.next).not.toBeNull();
    return answer.next ?? '';
  }

  it('is a 400 naming after when it was made for another order', async () => {
    const cursor = await cursorOf('order=plan');
    const answer = await api.call(
      'GET',
      `/v1/contacts?order=mrr.desc&after=${encodeURIComponent(cursor)}`,
    );
    expect(answer.status).toBe(400);
    expect(detailOf(answer)).toMatch(/^after: .*another order/);
  });

  it('is a 400 naming after when it was changed or cut', async () => {
    const cursor = await cursorOf('order=mrr.desc');
    const tampered = [
      `${cursor.slice(0, 10)}${cursor[10] === 'A' ? 'B' : 'A'}${cursor.slice(11)}`,
      cursor.slice(0, -3),
      'nonsense',
      '',
    ];
    for (const bad of tampered) {
      const answer = await api.call(
        'GET',
        `/v1/contacts?order=mrr.desc&after=${encodeURIComponent(bad)}`,
      );
      expect(`${answer.status} ${detailOf(answer)}`).toMatch(/^400 after: /);
    }
  });

  it('is a 400 naming after when given twice', async () => {
    const cursor = await cursorOf('order=plan');
    const answer = await api.call(
      'GET',
      `/v1/contacts?order=plan&after=${encodeURIComponent(cursor)}&after=${encodeURIComponent(cursor)}`,
    );
    expect(`${answer.status} ${detailOf(answer)}`).toMatch(/^400 after: /);
  });

  it('is refused where only filters are taken', async () => {
    const answer = await api.call('POST', '/v1/lists', {
      body: { name: 'seg-after', query: 'plan=eq.pro&after=x' },
    });
    expect(`${answer.status} ${detailOf(answer)}`).toMatch(/after: only filters/);
  });
});
