// select= and order= name fields the contact book has — a contact column, an
// attribute nudge.yaml declares, or one a contact holds — on every route that
// takes them (/v1/contacts, /v1/lists/:name/contacts); any other name is a
// 400 naming the parameter, the field and the fields there are, where it
// used to answer a column of nulls or an order by nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../harness/db.js';
import { type ApiServer, detailOf, emailsOf, startApi } from './helpers.js';

const db = useDatabase();
let api: ApiServer;

beforeAll(async () => {
  // mrr, seats, vip, trial_ends_at, birthday, team_id, meta and plan are declared (helpers.ts).
  api = await startApi(db);
  for (const [email, attributes] of [
    ['ada@example.com', { plan: 'pro', full_name: 'Ada Lovelace', meta: { tier: 'gold' } }],
    ['bob@example.com', { plan: 'free', full_name: 'Bob Stone' }],
    ['cy@example.com', { plan: 'pro' }],
  ] as const) {
    const response = await api.call('POST', '/v1/contacts', { body: { email, attributes } });
    expect(response.status, response.text).toBe(201);
  }
  expect((await api.call('POST', '/v1/lists', { body: { name: 'everyone' } })).status).toBe(201);
  await api.call('POST', '/v1/lists/everyone/contacts?id=not.is.null');
  const segment = await api.call('POST', '/v1/lists', {
    body: { name: 'pros', query: 'plan=eq.pro' },
  });
  expect(segment.status).toBe(201);
});
afterAll(async () => {
  await api?.close();
});

const FIELDS =
  'fields: id, auth_user_id, email, phone, external_id, attributes, created_at, updated_at, deleted_at, last_event_at; ' +
  'attributes: birthday, full_name, meta, mrr, plan, seats, team_id, trial_ends_at, vip';
const unknown = (param: string, name: string) =>
  `${param}: no field "${name}" (not a contact column, nor an attribute nudge.yaml declares or a contact holds); ${FIELDS}`;

describe('select= and order= with a field the contact book does not have', () => {
  it.each([
    ['/v1/contacts', 'order=nosuch.desc', unknown('order', 'nosuch')],
    ['/v1/contacts', 'select=nosuchfield', unknown('select', 'nosuchfield')],
    ['/v1/contacts', 'select=email,nosuch->>tier', unknown('select', 'nosuch')],
    ['/v1/contacts', 'select=email&order=plan,Email', unknown('order', 'Email')],
    ['/v1/lists/everyone/contacts', 'order=nosuch', unknown('order', 'nosuch')],
    ['/v1/lists/pros/contacts', 'select=nosuchfield', unknown('select', 'nosuchfield')],
  ])('%s?%s is a 400 naming it and the known fields', async (route, query, problem) => {
    const response = await api.call('GET', `${route}?${query}`);
    expect(response.status, response.text).toBe(400);
    expect(response.json).toMatchObject({ error: 'bad_query' });
    expect(detailOf(response)).toBe(problem);
  });
});

describe('select= and order= with fields the contact book has', () => {
  it('takes columns, attributes held but undeclared, and attributes declared but held by none', async () => {
    const rows = await api.call(
      'GET',
      '/v1/contacts?select=email,full_name,birthday,meta->>tier&order=full_name.desc.nullslast,email',
    );
    expect(rows.status, rows.text).toBe(200);
    expect(rows.json).toEqual([
      { email: 'bob@example.com', full_name: 'Bob Stone', birthday: null, tier: null },
      { email: 'ada@example.com', full_name: 'Ada Lovelace', birthday: null, tier: 'gold' },
      { email: 'cy@example.com', full_name: null, birthday: null, tier: null },
    ]);
    const members = await api.call(
      'GET',
      '/v1/lists/pros/contacts?select=email&order=birthday,email',
    );
    expect(emailsOf(members)).toEqual(['ada@example.com', 'cy@example.com']);
  });
});
