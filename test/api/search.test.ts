// Full-text search over contacts: fts, plfts, phfts, wfts (with languages),
// negated and inside or= groups, exact per attribute despite the whole-contact
// index, the errors bad terms get, and — on 20k contacts after ANALYZE — a
// plan that answers `fts` through the GIN index (a Bitmap Index Scan).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseContactQuery } from '../../src/contacts/query.js';
import { indexContacts } from '../../src/contacts/search-index.js';
import { contactsSql } from '../../src/server/api/paging.js';
import { useDatabase } from '../harness/db.js';
import { type ApiServer, ATTRIBUTES, detailOf, emailsOf, startApi } from './helpers.js';

const db = useDatabase();
let api: ApiServer;

const SPECIAL: [string, Record<string, unknown>][] = [
  ['fox@example.com', { bio: 'The quick brown fox jumps', city: 'Zurich' }],
  ['reversed@example.com', { bio: 'fox, quick!', city: 'Bern' }],
  ['cats@example.com', { bio: 'cats only', city: 'dogs town' }],
  ['runner@example.com', { bio: 'runs daily', city: 'Oslo' }],
  ['elsewhere@example.com', { bio: 'nothing here', city: 'quick fox junction' }],
  ['number@example.com', { bio: 42, city: 'fortytwo' }],
  ['digits@example.com', { bio: 'room 101 since 2026-11-23T10:00:00Z', city: 'Basel' }],
];

beforeAll(async () => {
  api = await startApi(db);
  // 20k ordinary contacts: a few colours, pets and numbers in their bios.
  await db.sql`
    insert into nudge_engine.contacts (email, attributes, created_at)
    select 'user' || i || '@example.com',
           jsonb_build_object(
             'bio', (array['red','green','blue','yellow'])[1 + i % 4] || ' '
                    || (array['cats','dogs','birds'])[1 + i % 3] || ' lover number ' || i,
             'plan', 'free'),
           timestamptz '2024-01-01' + i * interval '1 minute'
      from generate_series(1, 20000) as i`;
  for (const [email, attributes] of SPECIAL) {
    await db.sql`insert into nudge_engine.contacts (email, attributes)
                 values (${email}, ${db.sql.json(attributes as never)})`;
  }
  await db.sql`analyze nudge_engine.contacts`;
});
afterAll(async () => {
  await api?.close();
});

/** Queue entries: contacts waiting for their document (a contact can have several). */
const searchBacklog = async () => {
  const [row] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from nudge_engine.contact_search_queue`;
  return row!.n;
};

const search = async (query: string) => {
  const response = await api.call('GET', `/v1/contacts?${query}&order=email`);
  expect(response.status, response.text).toBe(200);
  return emailsOf(response);
};

const CASES: [string, string[]][] = [
  ['bio=fts.fox', ['fox@example.com', 'reversed@example.com']],
  ['bio=fts.quick %26 fox', ['fox@example.com', 'reversed@example.com']],
  ['bio=fts.quick <-> brown', ['fox@example.com']],
  ['bio=fts.jump:*', ['fox@example.com']],
  ['bio=plfts.quick fox', ['fox@example.com', 'reversed@example.com']],
  ['bio=phfts.quick brown', ['fox@example.com']],
  ['bio=phfts.fox quick', ['reversed@example.com']],
  ['bio=wfts."quick brown" or daily', ['fox@example.com', 'runner@example.com']],
  // Exact per attribute: elsewhere@ has "quick fox" in its city, not its bio.
  ['bio=phfts.quick fox', []],
  ['city=phfts.quick fox', ['elsewhere@example.com']],
  // Negation is checked on the attribute alone (cats@ has "dogs" only in its city).
  ['bio=wfts.cats -dogs&email=not.like.user*', ['cats@example.com']],
  ['bio=fts.cats %26 !dogs&email=not.like.user*', ['cats@example.com']],
  [
    'bio=not.fts.fox&email=not.like.user*',
    [
      'cats@example.com',
      'digits@example.com',
      'elsewhere@example.com',
      'number@example.com',
      'runner@example.com',
    ],
  ],
  // Languages: english stems "running" and "runs" alike; simple does not.
  ['bio=fts(english).running', ['runner@example.com']],
  ['bio=fts.running', []],
  ['bio=plfts(simple).runs', ['runner@example.com']],
  ['email=plfts.cats@example.com', ['cats@example.com']],
  // Numbers are searched too, without the index (its document leaves them out).
  ['bio=plfts.room 101', ['digits@example.com']],
  ['bio=fts.2026&email=not.like.user*', ['digits@example.com']],
  ['bio=phfts.room 101', ['digits@example.com']],
  ['bio=fts.room', ['digits@example.com']],
  // Strings only: a number in bio is not text to search.
  ['bio=fts.42&email=not.like.user*', []],
  [
    'or=(bio.fts.fox,city.phfts."dogs town")',
    ['cats@example.com', 'fox@example.com', 'reversed@example.com'],
  ],
  [
    'or=(bio.not.fts.fox,city.eq.Zurich)&email=not.like.user*',
    [
      'cats@example.com',
      'digits@example.com',
      'elsewhere@example.com',
      'fox@example.com',
      'number@example.com',
      'runner@example.com',
    ],
  ],
  ['bio=fts.fox&city=eq.Bern', ['reversed@example.com']],
];

// The indexer has not run yet: every contact is still queued, and each search
// is answered by the exact check alone.
describe('full-text operators, before the indexer has run', () => {
  it('starts with every contact queued and no document', async () => {
    expect(await searchBacklog()).toBe(20_000 + SPECIAL.length);
    const [row] = await db.sql<
      { n: number }[]
    >`select count(*)::int as n from nudge_engine.contact_search`;
    expect(row!.n).toBe(0);
  });

  it.each(CASES)('%s', async (query, expected) => {
    expect(await search(query.replaceAll(' ', '%20'))).toEqual(expected);
  });
});

describe('the indexer', () => {
  it('writes one document per live contact and empties the queue', async () => {
    let consumed = 0;
    for (let n = await indexContacts(db.sql, 3000); n > 0; n = await indexContacts(db.sql, 3000))
      consumed += n;
    expect(consumed).toBe(20_000 + SPECIAL.length);
    expect(await searchBacklog()).toBe(0);
    const [row] = await db.sql<{ n: number; stale: number }[]>`
      select count(*)::int as n,
             count(*) filter (where s.document <> nudge_engine.contact_search_document(c.email, c.attributes))::int as stale
        from nudge_engine.contact_search s join nudge_engine.contacts c on c.id = s.contact_id`;
    expect(row).toEqual({ n: 20_000 + SPECIAL.length, stale: 0 });
    await db.sql`analyze nudge_engine.contact_search, nudge_engine.contact_search_queue`;
  });

  it('keeps searches exact while a changed contact waits for its new document', async () => {
    await db.sql`update nudge_engine.contacts set attributes = attributes || '{"bio": "a lazy dog"}'
                  where email = 'user7@example.com'`;
    expect(await searchBacklog()).toBe(1);
    expect(await search('bio=fts.lazy')).toEqual(['user7@example.com']);
    // Its indexed document still says "lover number 7"; the exact check does not.
    expect(await search('bio=fts.lover%20%26%20number&email=eq.user7@example.com')).toEqual([]);
    expect(await indexContacts(db.sql)).toBe(1);
    expect(await search('bio=fts.lazy')).toEqual(['user7@example.com']);
  });

  it('queues only changes to what the document is made of, and drops deleted contacts', async () => {
    await db.sql`update nudge_engine.contacts set last_event_at = now() where email like 'user1%'`;
    expect(await searchBacklog()).toBe(0);
    await db.sql`update nudge_engine.contacts set deleted_at = now() where email = 'user8@example.com'`;
    await db.sql`delete from nudge_engine.contacts where email = 'user9@example.com'`;
    expect(await searchBacklog()).toBe(2);
    expect(await indexContacts(db.sql)).toBe(2);
    const left = await db.sql`
      select c.email from nudge_engine.contact_search s left join nudge_engine.contacts c on c.id = s.contact_id
       where c.email in ('user8@example.com', 'user9@example.com') or c.id is null`;
    expect(left).toEqual([]);
    await db.sql`update nudge_engine.contacts set deleted_at = null where email = 'user8@example.com'`;
    expect(await indexContacts(db.sql)).toBe(1);
    expect(await search('email=eq.user8@example.com&bio=fts.lover')).toEqual(['user8@example.com']);
  });

  it('leaves to the next round what is written while it runs', async () => {
    // Two sessions: the indexer's snapshot is taken before the second write commits.
    const writer = await db.sql.reserve();
    try {
      await writer`begin`;
      await writer`update nudge_engine.contacts set attributes = attributes || '{"bio": "written late"}'
                    where email = 'user11@example.com'`;
      expect(await indexContacts(db.sql)).toBe(0);
      await writer`commit`;
    } finally {
      writer.release();
    }
    expect(await searchBacklog()).toBe(1);
    expect(await search('bio=fts.late')).toEqual(['user11@example.com']);
    expect(await indexContacts(db.sql)).toBe(1);
    expect(await search('bio=fts.late')).toEqual(['user11@example.com']);
  });
});

describe('full-text operators, indexed', () => {
  it.each(CASES)('%s', async (query, expected) => {
    expect(await search(query.replaceAll(' ', '%20'))).toEqual(expected);
  });

  it.each([
    ['bio=fts.a b', 'full-text search: syntax error in tsquery'],
    ['bio=fts(klingon).hello', 'text search configuration "klingon" does not exist'],
    ['bio=fts(Bad-Lang).x', 'bio: expected a text search language'],
    ['mrr=fts.100', 'fts needs a text attribute; mrr is numeric'],
    ['created_at=fts.2024', 'fts works on email and text attributes, not created_at'],
    ['bio=wfts.', 'wfts needs search terms'],
    ['or=(bio.fts.x,mrr.plfts.1)', 'plfts needs a text attribute; mrr is numeric'],
  ])('%s is refused with 400', async (query, message) => {
    const response = await api.call('GET', `/v1/contacts?${query.replaceAll(' ', '%20')}`);
    expect(response.status).toBe(400);
    expect(detailOf(response)).toContain(message);
  });
});

describe('the index', () => {
  const plan = async (query: string) => {
    const { rows } = contactsSql({
      filters: [parseContactQuery(new URLSearchParams(query).entries())],
      view: parseContactQuery([]),
      attributes: ATTRIBUTES,
      page: { offset: 0, limit: 100, count: false },
    });
    // Documents are precomputed, so on 20k contacts a sequential scan of them
    // is cheaper to the planner; without that choice, a query the index can
    // serve shows it, and one it cannot still scans.
    const lines = await db.sql.begin(async (tx) => {
      await tx`set local enable_seqscan = off`;
      return tx.unsafe<{ 'QUERY PLAN': string }[]>(`EXPLAIN ${rows.text}`, rows.values as never[]);
    });
    return lines.map((line) => line['QUERY PLAN']).join('\n');
  };

  it('exists as a GIN index over the documents the indexer writes', async () => {
    const [index] = await db.sql<{ definition: string }[]>`
      select pg_get_indexdef(indexrelid) as definition from pg_index
       where indexrelid = 'nudge_engine.contact_search_document_idx'::regclass`;
    expect(index?.definition).toContain('ON nudge_engine.contact_search USING gin (document)');
  });

  it.each([
    'bio=fts.fox',
    'bio=plfts.quick brown',
    'bio=wfts.quick fox',
    'email=phfts.cats@example.com',
    'bio=plfts.room 101',
    'email=wfts.user4242',
    "email=fts.'ann':*",
  ])('answers %s with a Bitmap Index Scan on it', async (query) => {
    expect(await plan(query)).toMatch(/Bitmap Index Scan on contact_search_document_idx/);
  });

  it('is not used where it could miss rows: negations, other languages, numbers', async () => {
    expect(await plan('bio=wfts.cats -dogs')).not.toMatch(/contact_search_document_idx/);
    expect(await plan('bio=fts(english).running')).not.toMatch(/contact_search_document_idx/);
    // Numbers only, or numbers in an OR: the document has no number to find.
    expect(await plan('bio=plfts.101')).not.toMatch(/contact_search_document_idx/);
    expect(await plan('bio=wfts.room or 101')).not.toMatch(/contact_search_document_idx/);
    expect(await plan('bio=fts.1e5')).not.toMatch(/contact_search_document_idx/);
  });
});

describe('the document the index holds', () => {
  // Words, numbers, timestamps, emails, URLs and hyphenated mixes; queries
  // without digits, as the engine sends to the index.
  const word = fc.constantFrom('quick', 'fox', 'room', 'user1', 't06', 'a-b', 'x2y', 'Zurich');
  const number = fc.constantFrom(
    '101',
    '2026',
    '-11',
    '3.14',
    '+00',
    '1.2.3',
    '2026-11-23T10:00:00Z',
  );
  const other = fc.constantFrom(
    'ann@example.com',
    'https://img.example.com/1.png',
    'fox-2026',
    'a:b',
  );
  const text = fc.array(fc.oneof(word, number, other), { minLength: 1, maxLength: 6 });
  const digitFree = fc.constantFrom(
    'quick',
    'fox',
    'room',
    'user',
    'zurich',
    'a-b',
    'fox:*',
    'example.com',
  );
  const query = fc.tuple(
    fc.constantFrom('to_tsquery', 'plainto_tsquery', 'phraseto_tsquery', 'websearch_to_tsquery'),
    fc.array(digitFree, { minLength: 1, maxLength: 3 }),
  );

  it('holds every word a digit-free search can match in an attribute', async () => {
    const cases = fc.sample(fc.tuple(text, query), { numRuns: 400, seed: 4 });
    const rows = cases.map(([words, [fn, terms]]) => ({
      value: words.join(' '),
      fn,
      terms: fn === 'to_tsquery' ? terms.join(' & ') : terms.join(' ').replaceAll(':*', ''),
    }));
    const misses = await db.sql<{ value: string; fn: string; terms: string }[]>`
      select value, fn, terms from json_to_recordset(${JSON.stringify(rows)}::text::json)
                                as c(value text, fn text, terms text)
       where (case fn
                when 'to_tsquery' then to_tsvector('simple', value) @@ to_tsquery('simple', terms)
                when 'plainto_tsquery' then to_tsvector('simple', value) @@ plainto_tsquery('simple', terms)
                when 'phraseto_tsquery' then to_tsvector('simple', value) @@ phraseto_tsquery('simple', terms)
                else to_tsvector('simple', value) @@ websearch_to_tsquery('simple', terms) end)
         and not (case fn
                when 'to_tsquery' then nudge_engine.contact_search_document(null, jsonb_build_object('bio', value)) @@ to_tsquery('nudge_engine.search', terms)
                when 'plainto_tsquery' then nudge_engine.contact_search_document(null, jsonb_build_object('bio', value)) @@ plainto_tsquery('nudge_engine.search', terms)
                when 'phraseto_tsquery' then nudge_engine.contact_search_document(null, jsonb_build_object('bio', value)) @@ phraseto_tsquery('nudge_engine.search', terms)
                else nudge_engine.contact_search_document(null, jsonb_build_object('bio', value)) @@ websearch_to_tsquery('nudge_engine.search', terms) end)`;
    expect(misses).toEqual([]);
    // The cases matched at all, so the test is not empty.
    const [matched] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from json_to_recordset(${JSON.stringify(rows)}::text::json) as c(value text, fn text, terms text)
       where to_tsvector('simple', value) @@ plainto_tsquery('simple', replace(terms, ' & ', ' '))`;
    expect(matched!.n).toBeGreaterThan(20);
  });

  it('holds every word of an ANDed search with numbers, the numbers left out', async () => {
    // What the index is asked when a search has digits but only ANDs its
    // terms and keeps a word (src/contacts/query.ts searchSql).
    const mixed = fc.tuple(
      fc.constantFrom('to_tsquery', 'plainto_tsquery', 'websearch_to_tsquery'),
      fc.array(fc.oneof(digitFree, number, word), { minLength: 1, maxLength: 3 }),
      digitFree,
    );
    const cases = fc.sample(fc.tuple(text, mixed), { numRuns: 400, seed: 9 });
    const rows = cases.map(([words, [fn, terms, kept]]) => {
      const all = [...terms, kept].map((t) => (fn === 'to_tsquery' ? t : t.replaceAll(':*', '')));
      return {
        value: words.join(' '),
        fn,
        terms: fn === 'to_tsquery' ? all.map((t) => `'${t}'`).join(' & ') : all.join(' '),
      };
    });
    const misses = await db.sql<{ value: string; fn: string; terms: string }[]>`
      select value, fn, terms from json_to_recordset(${JSON.stringify(rows)}::text::json)
                                as c(value text, fn text, terms text)
       where (case fn
                when 'to_tsquery' then to_tsvector('simple', value) @@ to_tsquery('simple', terms)
                when 'plainto_tsquery' then to_tsvector('simple', value) @@ plainto_tsquery('simple', terms)
                else to_tsvector('simple', value) @@ websearch_to_tsquery('simple', terms) end)
         and not (case fn
                when 'to_tsquery' then nudge_engine.contact_search_document(null, jsonb_build_object('bio', value)) @@ to_tsquery('nudge_engine.search', terms)
                when 'plainto_tsquery' then nudge_engine.contact_search_document(null, jsonb_build_object('bio', value)) @@ plainto_tsquery('nudge_engine.search', terms)
                else nudge_engine.contact_search_document(null, jsonb_build_object('bio', value)) @@ websearch_to_tsquery('nudge_engine.search', terms) end)`;
    expect(misses).toEqual([]);
    const [matched] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from json_to_recordset(${JSON.stringify(rows)}::text::json) as c(value text, fn text, terms text)
       where fn <> 'to_tsquery' and to_tsvector('simple', value) @@ plainto_tsquery('simple', terms)`;
    expect(matched!.n).toBeGreaterThan(5);
  });

  it('leaves numbers out', async () => {
    const [row] = await db.sql<{ document: string }[]>`
      select nudge_engine.contact_search_document('ann@example.com',
               '{"bio": "room 101", "seen": "2026-11-23T10:00:00Z", "n": 5}')::text as document`;
    // Words with digits in them stay: t10 and 00z of the timestamp, user1, x2y.
    expect(row!.document).toBe("'00z':5 'ann@example.com':1 'room':2 't10':4");
  });
});
