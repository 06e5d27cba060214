// An attribute nudge.yaml does not declare, compared with a number, a
// boolean and text: the API's contact queries (GET /v1/contacts, segments)
// and a feature's conditions on contact.<attr> answer alike, or both refuse
// the comparison. Both read such an attribute as the text of its JSON value
// (90 and 90.0 are "90", true is "true"), so eq, neq, in, like and is.null
// agree; an order (gt, gte, lt, lte) of that text would put "90" after
// "100", so both refuse it, and the API says which type to declare (as
// `nudge plan` does).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConditionError, compileJs, parseCondition } from '../../src/conditions/index.js';
import { contactRow } from '../../src/contacts/store.js';
import { typeResolver } from '../../src/features/types.js';
import { useDatabase } from '../harness/db.js';
import { type ApiServer, detailOf, emailsOf, startApi } from './helpers.js';

const db = useDatabase();
let api: ApiServer;
const NOW = new Date('2026-01-01T00:00:00Z');
/** Attributes as JSON text, so 90.0 keeps its spelling. */
const SEED: [string, string][] = [
  ['ada@example.com', '{"mrr": 90, "vip": true, "plan": "pro"}'],
  ['bob@example.com', '{"mrr": 100, "vip": false, "plan": "team"}'],
  ['cy@example.com', '{"mrr": "90", "vip": "true", "plan": "Pro"}'],
  ['dee@example.com', '{"mrr": 90.0, "vip": null}'],
  ['eve@example.com', '{"mrr": 1000, "vip": "yes", "plan": "m"}'],
];
const ids = new Map<string, string>();

beforeAll(async () => {
  api = await startApi(db, {}); // nudge.yaml declares no attribute
  for (const [email, attributes] of SEED) {
    const [row] = await db.sql<{ id: string }[]>`
      insert into nudge_engine.contacts (email, attributes)
      values (${email}, ${attributes}::text::jsonb) returning id`;
    ids.set(email, row!.id);
  }
});
afterAll(async () => {
  await api?.close();
});

type Answer = { emails: string[] } | { refused: string };

/** The API's answer to `field=filter`. */
async function apiAnswer(field: string, filter: string): Promise<Answer> {
  const response = await api.call(
    'GET',
    `/v1/contacts?${field}=${encodeURIComponent(filter)}&order=email`,
  );
  if (response.status === 200) return { emails: emailsOf(response) as string[] };
  expect(response.status, response.text).toBe(400);
  return { refused: detailOf(response) };
}

/** What a feature's condition `contact.<field>: <filter>` answers for each contact, as the engine runs it. */
async function featureAnswer(field: string, filter: string): Promise<Answer> {
  const condition = parseCondition({ [`contact.${field}`]: filter }, { scopes: ['contact'] });
  let holds: ReturnType<typeof compileJs>;
  try {
    holds = compileJs(condition, { typeOf: typeResolver(undefined, {}, [condition]) });
  } catch (error) {
    if (error instanceof ConditionError) return { refused: error.message };
    throw error;
  }
  const emails: string[] = [];
  for (const [email, id] of ids) {
    const contact = await contactRow(db.sql, id);
    if (holds({ now: NOW, contact }).result) emails.push(email);
  }
  return { emails };
}

describe('an undeclared attribute in API queries and in feature conditions', () => {
  it.each([
    // number
    // A number is the text of its value, written plainly: 90.0 is "90" (the
    // engine reads JSON numbers as numbers; `->>` kept the ".0").
    ['mrr', 'eq.90', ['ada@example.com', 'cy@example.com', 'dee@example.com']],
    ['mrr', 'eq.90.0', []],
    ['mrr', 'neq.90', ['bob@example.com', 'eve@example.com']],
    [
      'mrr',
      'in.(90,100)',
      ['ada@example.com', 'bob@example.com', 'cy@example.com', 'dee@example.com'],
    ],
    ['mrr', 'like.9*', ['ada@example.com', 'cy@example.com', 'dee@example.com']],
    ['mrr', 'gt.100', 'mrr: numeric'],
    ['mrr', 'lte.100', 'mrr: numeric'],
    ['mrr', 'not.gte.100', 'mrr: numeric'],
    // boolean
    ['vip', 'eq.true', ['ada@example.com', 'cy@example.com']],
    ['vip', 'is.true', 'vip: boolean'],
    ['vip', 'is.null', ['dee@example.com']],
    // text
    ['plan', 'eq.pro', ['ada@example.com']],
    ['plan', 'ilike.pro', ['ada@example.com', 'cy@example.com']],
    ['plan', 'gt.m', 'plan: text'],
    ['plan', 'lt.2026-01-01T00:00:00Z', 'plan: timestamptz'],
  ] as [string, string, string[] | string][])('%s=%s', async (field, filter, expected) => {
    const [fromApi, fromFeature] = [
      await apiAnswer(field, filter),
      await featureAnswer(field, filter),
    ];
    if (typeof expected === 'string') {
      // Refused by both; the API's answer says what to declare.
      expect(fromFeature).toHaveProperty('refused');
      expect(fromApi).toHaveProperty('refused');
      expect((fromApi as { refused: string }).refused).toContain(
        `; declare the attribute in nudge.yaml: contacts: { attributes: { ${expected} } }`,
      );
    } else {
      expect(fromApi).toEqual({ emails: expected });
      expect(fromFeature).toEqual({ emails: expected });
    }
  });

  it('names the filter and the type to declare, in a query and in a segment', async () => {
    const read = await api.call('GET', '/v1/contacts?mrr=gt.100');
    expect(read.status).toBe(400);
    expect(detailOf(read)).toBe(
      'mrr: gt cannot order contact.mrr: nudge.yaml does not declare its type, and an attribute compared as text would put "90" after "100"; declare the attribute in nudge.yaml: contacts: { attributes: { mrr: numeric } }',
    );
    const grouped = await api.call('GET', '/v1/contacts?or=(plan.eq.pro,mrr.lt.100)');
    expect(grouped.status).toBe(400);
    expect(detailOf(grouped)).toContain('or: lt cannot order contact.mrr');
    const segment = await api.call('POST', '/v1/lists', {
      body: { name: 'big', query: 'mrr=gte.1000' },
    });
    expect(segment.status, segment.text).toBe(422);
    expect(detailOf(segment)).toContain('{ attributes: { mrr: numeric } }');
  });

  it('leaves a segment saved before the refusal out of a contact’s lists, and says why on its page', async () => {
    await db.sql`insert into nudge_engine.lists (name, query) values ('old-big', 'mrr=gt.95')`;
    await db.sql`insert into nudge_engine.lists (name, query) values ('pros', 'plan=eq.pro')`;
    const lists = await api.call('GET', `/v1/contacts/${ids.get('ada@example.com')}/lists`);
    expect(lists.status, lists.text).toBe(200);
    expect(lists.text).toContain('"pros"');
    expect(lists.text).not.toContain('old-big');
    const members = await api.call('GET', '/v1/lists/old-big/contacts');
    expect(members.status).toBe(400);
    expect(detailOf(members)).toContain('declare the attribute in nudge.yaml');
  });
});
