// A number a double cannot hold (a bigint over 2^53, a numeric of more than
// 15 digits) comes out of the /v1 API as it went in: a JSON number with the
// same digits, not a string of them and not the nearest double. The server
// reads the engine store through a client of postgresFor, as the running
// engine does (db/json.ts), and every answer is written by stringifyJson
// (server/json-answers.ts).
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Nudge } from '../../src/client/index.js';
import { postgresFor } from '../../src/db/tls.js';
import { useDatabase } from '../harness/db.js';
import { type ApiServer, ATTRIBUTES, startApi } from './helpers.js';

const db = useDatabase();
const BIG = '9007199254740993';
const LONG = '12345678901234567.25';

let exact: postgres.Sql;
let api: ApiServer;

beforeAll(async () => {
  exact = postgresFor(db.url, { max: 2, onnotice: () => {} });
  api = await startApi(db, ATTRIBUTES, exact);
});

afterAll(async () => {
  await api?.close();
  await exact?.end();
});

/** The raw body of a GET, which must be 200. */
async function body(path: string): Promise<string> {
  const answer = await api.call('GET', path);
  expect(`${answer.status} ${path}`).toBe(`200 ${path}`);
  return answer.text;
}

/** The digits never come quoted, and never as the nearest double. */
function expectNoStringNorRounding(text: string): void {
  expect(text).not.toContain(`"${BIG}"`);
  expect(text).not.toContain(`"${LONG}"`);
  expect(text).not.toContain('9007199254740992');
  expect(text).not.toContain('12345678901234568');
}

describe('a number a double cannot hold, read back through /v1', () => {
  it('is the same digits as a JSON number: a contact attribute, a decision, an action run, an event, a captured row', async () => {
    const created = await api.call('POST', '/v1/contacts', {
      body: `{"email":"big@example.com","attributes":{"big":${BIG},"amount":${LONG}}}`,
    });
    expect(created.status).toBe(201);
    expect(created.text).toContain(`"attributes":{"big":${BIG},"amount":${LONG}}`);
    const [contact] = await db.sql<{ id: string }[]>`
      select id from nudge_engine.contacts where email = 'big@example.com'`;
    const id = contact?.id ?? '';

    await db.sql`
      insert into nudge_engine.decisions (contact_id, feature, outcome, reason, detail)
      values (${id}, 'drip', 'matched', 'matched', ${`{"order": ${BIG}}`}::text::jsonb)`;
    await db.sql`
      insert into nudge_engine.action_runs (id, key, contact_id, feature, kind, params)
      overriding system value
      values (${BIG}::bigint, 'run-big', ${id}, 'drip', 'webhook', '{}')`;
    await db.sql`
      insert into nudge_engine.events (contact_id, name, properties, source, occurred_at)
      values (${id}, 'order_placed', ${`{"total": ${LONG}}`}::text::jsonb, 'api', now())`;
    await db.sql`
      insert into nudge_engine.inbox (source, source_key, schema_name, table_name, operation, new_row, occurred_at)
      values ('outbox', 'big-1', 'public', 'orders', 'insert', ${`{"id": ${BIG}, "amount": ${LONG}}`}::text::jsonb, now())`;

    const listed = await body('/v1/contacts?email=eq.big@example.com');
    expect(listed).toContain(`"attributes":{"big":${BIG},"amount":${LONG}}`);
    expectNoStringNorRounding(listed);

    const one = await body('/v1/contacts/big@example.com');
    expect(one).toContain(`"attributes":{"big":${BIG},"amount":${LONG}}`);
    // The timeline: the decision's detail, the action run (its id), the event's properties.
    expect(one).toContain(`"detail":{"order":${BIG}}`);
    expect(one).toContain(`"id":${BIG}`);
    expect(one).toContain(`"properties":{"total":${LONG}}`);
    expectNoStringNorRounding(one);

    const captured = await body('/v1/ingest?subject=public.orders');
    expect(captured).toContain(`"new_row":{"id":${BIG},"amount":${LONG}}`);
    expectNoStringNorRounding(captured);
  });

  it('reaches the typed client (and so the dashboard) as the exact digits, a string, not the nearest double', async () => {
    const nudge = new Nudge({ url: api.url, apiKey: api.writeKey });
    await nudge.contacts.upsert({
      email: 'client-big@example.com',
      attributes: { big: BIG, amount: LONG, small: 42 },
    } as never);
    // Stored as numbers: the client sent strings, so set them as numbers by SQL.
    await db.sql`
      update nudge_engine.contacts
         set attributes = ${`{"big": ${BIG}, "amount": ${LONG}, "small": 42}`}::text::jsonb
       where email = 'client-big@example.com'`;
    const raw = await body('/v1/contacts/client-big@example.com');
    // jsonb orders keys shorter first.
    expect(raw).toContain(`"attributes":{"big":${BIG},"small":42,"amount":${LONG}}`);
    const { contact } = await nudge.contacts.get('client-big@example.com');
    expect(contact.attributes).toEqual({ big: BIG, amount: LONG, small: 42 });
    const [row] = await nudge.contacts.query().eq('email', 'client-big@example.com');
    expect((row as { attributes: unknown }).attributes).toEqual({
      big: BIG,
      amount: LONG,
      small: 42,
    });
  });
});
