// GET /v1/contacts with PostgREST parameters against seeded contacts: every
// operator on identity columns and typed attributes (NULLs, in, is, not.,
// or=/and= groups, JSON paths), ordering with nulls, select, Range/limit/offset
// pagination with Content-Range and count=exact, and the 400s bad input gets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../harness/db.js';
import { type ApiServer, detailOf, emailsOf, startApi } from './helpers.js';

const db = useDatabase();
let api: ApiServer;
const TEAM = '6f1c1c2e-8d1e-4c7a-9b1e-1f2e3d4c5b6a';
const ids: Record<string, string> = {};

beforeAll(async () => {
  api = await startApi(db);
  const seed: [string | null, string | null, Record<string, unknown>][] = [
    [
      'alice@example.com',
      null,
      {
        plan: 'pro',
        mrr: 250,
        seats: 10,
        vip: true,
        trial_ends_at: '2024-03-01T00:00:00Z',
        birthday: '1990-05-01',
        team_id: TEAM,
        meta: { tier: 'gold', tags: ['a'] },
        full_name: 'Alice Liddell',
        city: 'Paris',
      },
    ],
    [
      'bob@example.com',
      null,
      {
        plan: 'pro',
        mrr: 90,
        seats: 3,
        vip: false,
        trial_ends_at: '2024-01-01T00:00:00Z',
        full_name: 'Bob Stone',
        city: 'Berlin',
      },
    ],
    [
      'carol@example.com',
      null,
      { plan: 'free', mrr: 0, full_name: 'Carol Danvers', city: 'paris' },
    ],
    [
      'dave@example.com',
      null,
      {
        plan: 'enterprise',
        mrr: 1200,
        seats: 100,
        vip: true,
        full_name: 'Dave, Jr.',
        city: 'New York',
      },
    ],
    ['erin@example.com', null, { plan: null }],
    [null, '+15550100', { plan: 'pro', mrr: '300', full_name: 'Frank (the tank)' }],
    ['grace@example.com', null, { plan: 'Pro', mrr: 'lots' }],
  ];
  for (const [index, [email, phone, attributes]] of seed.entries()) {
    const [row] = await db.sql<{ id: string }[]>`
      insert into nudge_engine.contacts (email, phone, attributes, created_at)
      values (${email}, ${phone}, ${db.sql.json(attributes as never)},
              ${new Date(Date.UTC(2024, 0, 1 + index))})
      returning id`;
    ids[email ?? phone!] = row!.id;
  }
  await db.sql`
    insert into nudge_engine.contacts (email, attributes, deleted_at)
    values ('zed@example.com', '{"plan": "pro", "mrr": 999}', now())`;
});
afterAll(async () => {
  await api?.close();
});

const FRANK = null; // no email: phone only
const get = (query: string, headers: Record<string, string> = {}) =>
  api.call('GET', `/v1/contacts?${query}`, { headers });
const emails = async (query: string) => {
  const response = await get(query);
  expect(response.status, response.text).toBe(200);
  return emailsOf(response);
};

describe('filters', () => {
  it.each([
    ['plan=eq.pro', ['alice@example.com', 'bob@example.com', FRANK]],
    ['plan=neq.pro', ['carol@example.com', 'dave@example.com', 'grace@example.com']],
    // mrr is declared numeric: 90 < 100 (as text "90" > "100"); "300" counts, "lots" is NULL.
    ['mrr=gt.100', ['alice@example.com', 'dave@example.com', FRANK]],
    ['mrr=gte.250', ['alice@example.com', 'dave@example.com', FRANK]],
    ['mrr=lt.100', ['bob@example.com', 'carol@example.com']],
    ['mrr=lte.90', ['bob@example.com', 'carol@example.com']],
    ['seats=gte.10', ['alice@example.com', 'dave@example.com']],
    ['full_name=like.*Stone', ['bob@example.com']],
    ['full_name=like.*stone', []],
    ['city=ilike.PARIS', ['alice@example.com', 'carol@example.com']],
    [
      'city=ilike.*r*',
      ['alice@example.com', 'bob@example.com', 'carol@example.com', 'dave@example.com'],
    ],
    ['plan=in.(free,enterprise)', ['carol@example.com', 'dave@example.com']],
    ['full_name=in.("Dave, Jr.","Frank (the tank)")', ['dave@example.com', FRANK]],
    ['plan=is.null', ['erin@example.com']],
    [
      'plan=not.is.null',
      [
        'alice@example.com',
        'bob@example.com',
        'carol@example.com',
        'dave@example.com',
        FRANK,
        'grace@example.com',
      ],
    ],
    ['vip=is.true', ['alice@example.com', 'dave@example.com']],
    ['vip=is.false', ['bob@example.com']],
    [
      'vip=not.is.true',
      ['bob@example.com', 'carol@example.com', 'erin@example.com', FRANK, 'grace@example.com'],
    ],
    ['plan=not.eq.pro', ['carol@example.com', 'dave@example.com', 'grace@example.com']],
    ['plan=not.in.(pro,free)', ['dave@example.com', 'grace@example.com']],
    ['plan=eq.pro&mrr=gt.100', ['alice@example.com', FRANK]],
    ['mrr=gt.10&mrr=lt.1000', ['alice@example.com', 'bob@example.com', FRANK]],
    ['trial_ends_at=gt.2024-02-01T00:00:00Z', ['alice@example.com']],
    ['birthday=lt.2000-01-01', ['alice@example.com']],
    [`team_id=eq.${TEAM.toUpperCase()}`, ['alice@example.com']],
    ['meta->>tier=eq.gold', ['alice@example.com']],
    ['meta->tier=eq."gold"', ['alice@example.com']],
    ['meta->tags->0=eq."a"', ['alice@example.com']],
    ['email=eq.bob@example.com', ['bob@example.com']],
    [
      'email=like.*a*@example.com',
      ['alice@example.com', 'carol@example.com', 'dave@example.com', 'grace@example.com'],
    ],
    ['email=is.null', [FRANK]],
    ['phone=eq.%2B15550100', [FRANK]],
    ['created_at=lt.2024-01-03T00:00:00Z', ['alice@example.com', 'bob@example.com']],
    ['created_at=gt.now()-36500d&created_at=lt.2024-01-01T12:00:00Z', ['alice@example.com']],
    ['or=(plan.eq.free,mrr.gt.1000)', ['carol@example.com', 'dave@example.com']],
    [
      'or=(and(plan.eq.pro,mrr.lt.100),city.eq.Berlin,city.eq.paris)',
      ['bob@example.com', 'carol@example.com'],
    ],
    ['or=(vip.is.true,full_name.in.("Frank (the tank)",x))&mrr=gt.300', ['dave@example.com']],
    ['and=(plan.eq.pro,or(vip.is.true,mrr.eq.300))', ['alice@example.com', FRANK]],
    [
      'not.or=(plan.eq.pro,plan.is.null)',
      ['carol@example.com', 'dave@example.com', 'grace@example.com'],
    ],
    // Three-valued: for erin, plan = 'pro' is NULL and vip IS FALSE is false, so the AND is false.
    [
      'not.and=(plan.eq.pro,vip.is.false)',
      [
        'alice@example.com',
        'carol@example.com',
        'dave@example.com',
        'erin@example.com',
        FRANK,
        'grace@example.com',
      ],
    ],
    ['deleted_at=not.is.null', ['zed@example.com']],
  ])('%s', async (query, expected) => {
    expect(await emails(query)).toEqual(expected);
  });

  it('filters by id', async () => {
    expect(await emails(`id=eq.${ids['dave@example.com']}`)).toEqual(['dave@example.com']);
    expect(await emails(`id=in.(${ids['dave@example.com']},${ids['bob@example.com']})`)).toEqual([
      'bob@example.com',
      'dave@example.com',
    ]);
  });

  it.each([
    ['mrr=gt.abc', 'mrr: expected a number for contact.mrr, got "abc"'],
    ['plan=eqq.pro', 'unknown operator "eqq" (did you mean "eq"?)'],
    ['plan=cs.{pro}', 'operator "cs" is not supported'],
    ['vip=is.maybe', 'unknown value "is.maybe"'],
    ['vip=eq.yes', 'expected true or false'],
    ['city=is.true', 'declare the attribute in nudge.yaml'],
    ['trial_ends_at=gt.yesterday', 'expected an ISO 8601 timestamp'],
    ['or=(plan.eq.pro', 'or: missing ")" at the end of "(plan.eq.pro"'],
    ['or=(plan.eqq.pro)', 'or: in "plan.eqq.pro": unknown operator "eqq" (did you mean "eq"?)'],
    ['plan=pro', 'expected "<op>.<value>", e.g. "eq.pro"'],
    [
      'email=ada@example.com',
      'unknown operator "ada@example"; expected one of eq, neq, gt, gte, lt, lte, like, ilike, in, is; a value comes after its operator, e.g. "eq.ada@example.com"',
    ],
    ['=eq.x', '(filter): no field before "=eq.x": write <field>=<op>.<value>, e.g. plan=eq.pro'],
    ['limit=ten', 'limit: expected a whole number'],
    ['order=mrr.sideways', 'order: expected "<field>[.asc|.desc][.nullsfirst|.nullslast]"'],
    ['select=orders(id)', 'select: embedding resources is not supported'],
    ['meta=gt.1', 'gt cannot order jsonb values'],
  ])('%s is refused with 400 naming the parameter', async (query, message) => {
    const response = await get(query);
    expect(response.status).toBe(400);
    expect(response.json).toMatchObject({ error: 'bad_query' });
    expect(detailOf(response)).toContain(message);
  });
});

describe('percent-escapes', () => {
  // URLSearchParams reads an escape that is no UTF-8 as U+FFFD: `%ff=eq.1`
  // became a filter on an attribute named "\ufffd" (200, nobody), and an
  // unescaped like pattern `%ali%` a pattern nobody wrote.
  it.each([
    ['%ff=eq.1', '%ff: "%ff" holds a percent-escape that is no UTF-8 text'],
    ['plan=eq.%ff', 'plan: "eq.%ff" holds a percent-escape'],
    ['email=like.%ada%', 'email: "like.%ada%" holds a percent-escape'],
    ['or=(plan.eq.%C3)', 'or: "(plan.eq.%C3)" holds a percent-escape'],
  ])('%s is refused with 400 naming the parameter', async (query, message) => {
    const response = await get(query);
    expect(response.status, response.text).toBe(400);
    expect(response.json).toMatchObject({ error: 'bad_query' });
    expect(detailOf(response)).toContain(message);
    expect(detailOf(response)).toContain('write a literal % as %25');
  });

  it('reads UTF-8 escapes, + as a space, and a % without two hex digits as it is', async () => {
    expect(await emails('full_name=eq.Alice+Liddell')).toEqual(['alice@example.com']);
    expect(await emails('city=eq.New%20York')).toEqual(['dave@example.com']);
    expect(await emails('email=like.%25ali%25')).toEqual(['alice@example.com']);
    expect(await emails('city=eq.P%C3%A4ris')).toEqual([]);
    expect(await emails('full_name=like.Frank (the tank)%')).toEqual([FRANK]);
    expect(await emails('full_name=eq.100%&full_name=eq.100%zz')).toEqual([]);
  });
});

describe('email', () => {
  // Stored lower-cased, as GET /v1/contacts/Bob@Example.com and a list's
  // emails find it: compared as written, these matched no one (neq everyone).
  it.each([
    ['email=eq.Bob@Example.com', ['bob@example.com']],
    ['email=in.(BOB@EXAMPLE.COM,Carol@example.com)', ['bob@example.com', 'carol@example.com']],
    ['email=like.BOB*', ['bob@example.com']],
    ['or=(email.eq.Bob@Example.com,email.eq.x)', ['bob@example.com']],
    [
      'email=neq.Bob@Example.com',
      [
        'alice@example.com',
        'carol@example.com',
        'dave@example.com',
        'erin@example.com',
        'grace@example.com',
      ],
    ],
  ])('%s compares in lower case', async (query, expected) => {
    expect(await emails(query)).toEqual(expected);
  });

  it('leaves the case of other fields alone', async () => {
    expect(await emails('plan=eq.Pro')).toEqual(['grace@example.com']);
  });
});

describe('a malformed or= / and= group', () => {
  // The group is rewritten before it is parsed (each filter as contact.<field>,
  // a full-text filter as a test of its own): the error quotes what was sent.
  it.each([
    ['or=(email.eq.a', 'or: missing ")" at the end of "(email.eq.a"'],
    ['or=(email.eq.a,bio.fts.fox', 'or: missing ")" at the end of "(email.eq.a,bio.fts.fox"'],
    [
      'not.and=(and(plan.eq.pro,mrr.gt.1)',
      'not.and: missing ")" at the end of "(and(plan.eq.pro,mrr.gt.1)"',
    ],
    ['or=(plan.eq.pro),mrr.gt.1', 'or: unexpected text after the closing parenthesis: ",mrr.gt.1"'],
    [
      'or=plan.eq.pro',
      'or: expected "(<filter>,<filter>,...)", e.g. "(plan.eq.pro,mrr.gt.100)", got "plan.eq.pro"',
    ],
    ['or=(plan.eq.pro,)', 'or: expected "<field>.<op>.<value>", e.g. "plan.eq.pro", got ""'],
    ['or=(bio.fts.fox,plan.zz.pro)', 'or: in "plan.zz.pro": unknown operator "zz"'],
  ])('%s quotes what was sent', async (query, message) => {
    const response = await get(query);
    expect(response.status).toBe(400);
    expect(response.json).toMatchObject({ error: 'bad_query' });
    expect(detailOf(response)).toContain(message);
    expect(detailOf(response)).not.toContain('contact.');
    expect(detailOf(response)).not.toContain('fts\u0001');
  });
});

describe('order and select', () => {
  it('orders numerically with nulls where asked', async () => {
    expect(await emails('order=mrr.desc.nullslast,email.asc')).toEqual([
      'dave@example.com',
      FRANK,
      'alice@example.com',
      'bob@example.com',
      'carol@example.com',
      'erin@example.com',
      'grace@example.com',
    ]);
    expect(await emails('order=mrr.asc.nullsfirst,email.desc')).toEqual([
      'grace@example.com',
      'erin@example.com',
      'carol@example.com',
      'bob@example.com',
      'alice@example.com',
      FRANK,
      'dave@example.com',
    ]);
    // PostgreSQL's defaults: ascending puts NULLs last, descending first.
    const desc = await emails('order=seats.desc,email');
    expect(desc.slice(0, 4)).toEqual([
      'carol@example.com',
      'erin@example.com',
      'grace@example.com',
      FRANK,
    ]);
    expect(desc.slice(4)).toEqual(['dave@example.com', 'alice@example.com', 'bob@example.com']);
  });

  it('orders text by code point and timestamps as time', async () => {
    expect(await emails('order=full_name&full_name=not.is.null')).toEqual([
      'alice@example.com',
      'bob@example.com',
      'carol@example.com',
      'dave@example.com',
      FRANK,
    ]);
    expect(await emails('order=created_at.desc&limit=3')).toEqual([
      'grace@example.com',
      FRANK,
      'erin@example.com',
    ]);
  });

  it('projects the selected fields, with aliases and JSON paths', async () => {
    const response = await get(
      'select=email,full_name,plan,mrr&plan=eq.pro&mrr=gt.100&order=mrr.desc',
    );
    expect(response.json).toEqual([
      { email: null, full_name: 'Frank (the tank)', plan: 'pro', mrr: '300' },
      { email: 'alice@example.com', full_name: 'Alice Liddell', plan: 'pro', mrr: 250 },
    ]);
    const aliased = await get('select=name:full_name,meta->>tier,seats&email=eq.alice@example.com');
    expect(aliased.json).toEqual([{ name: 'Alice Liddell', tier: 'gold', seats: 10 }]);
    const whole = await get('select=*&email=eq.bob@example.com');
    expect(whole.json).toEqual([
      expect.objectContaining({
        id: ids['bob@example.com'],
        email: 'bob@example.com',
        attributes: expect.objectContaining({ plan: 'pro', mrr: 90 }),
        created_at: expect.stringMatching(/^2024-01-02T00:00:00/),
      }),
    ]);
  });
});

describe('pagination', () => {
  it('limit and offset, with Content-Range', async () => {
    const response = await get('limit=2&offset=1');
    expect(response.status).toBe(200);
    expect(emailsOf(response)).toEqual(['bob@example.com', 'carol@example.com']);
    expect(response.headers.get('content-range')).toBe('1-2/*');
  });

  it('Range with Prefer: count=exact answers 206 with the total', async () => {
    const first = await get('', { range: '0-2', prefer: 'count=exact' });
    expect(first.status).toBe(206);
    expect(first.headers.get('content-range')).toBe('0-2/7');
    expect(emailsOf(first)).toEqual(['alice@example.com', 'bob@example.com', 'carol@example.com']);
    const tail = await get('', { range: '5-', prefer: 'count=exact' });
    expect(tail.status).toBe(206);
    expect(tail.headers.get('content-range')).toBe('5-6/7');
    const all = await get('plan=eq.pro', { range: '0-99', prefer: 'count=exact' });
    expect(all.status).toBe(200);
    expect(all.headers.get('content-range')).toBe('0-2/3');
  });

  it('Range and limit/offset intersect', async () => {
    const response = await get('offset=2&limit=10', { range: '0-3' });
    expect(emailsOf(response)).toEqual(['carol@example.com', 'dave@example.com']);
    expect(response.headers.get('content-range')).toBe('2-3/*');
  });

  it('past the end: 416 with the total; empty answers say */total', async () => {
    const past = await get('', { range: '10-20', prefer: 'count=exact' });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe('*/7');
    const none = await get('plan=eq.nobody', { prefer: 'count=exact' });
    expect(none.status).toBe(200);
    expect(none.json).toEqual([]);
    expect(none.headers.get('content-range')).toBe('*/0');
    const zero = await get('limit=0');
    expect(zero.json).toEqual([]);
    expect(zero.headers.get('content-range')).toBe('*/*');
  });

  it('refuses a malformed Range', async () => {
    const response = await get('', { range: 'rows=a-b' });
    expect(response.status).toBe(400);
    expect(response.json).toMatchObject({ error: 'bad_range' });
  });
});

describe('attribute_boolean', () => {
  it('is true or false only for a JSON boolean, NULL for everything else', async () => {
    const rows = await db.sql<{ value: string | null; read: boolean | null }[]>`
      select v::text as value, nudge_engine.attribute_boolean(v) as read
        from unnest(array['true', 'false', '"true"', '"false"', '1', '0', 'null', '{}', '[true]']::jsonb[]
                    || array[null::jsonb]) v`;
    expect(rows.map((r) => [r.value, r.read])).toEqual([
      ['true', true],
      ['false', false],
      ['"true"', null],
      ['"false"', null],
      ['1', null],
      ['0', null],
      ['null', null],
      ['{}', null],
      ['[true]', null],
      [null, null],
    ]);
  });
});
