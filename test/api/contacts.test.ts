// /v1/contacts: upsert by each identity with attribute merging, 201 vs 200,
// declared types checked, the contact with its paginated timeline (events,
// journeys, decisions, action runs, newest first), deletion, the 400/422
// answers for bad bodies with nothing written, and a query's limit and
// offset refused with the range they take.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../harness/db.js';
import { type ApiServer, detailOf, startApi } from './helpers.js';

const db = useDatabase();
let api: ApiServer;

beforeAll(async () => {
  api = await startApi(db);
});
afterAll(async () => {
  await api?.close();
});

interface Contact {
  id: string;
  email: string | null;
  phone: string | null;
  auth_user_id: string | null;
  external_id: string | null;
  attributes: Record<string, unknown>;
  deleted_at: string | null;
}

const upsert = (body: unknown) => api.call('POST', '/v1/contacts', { body });
const count = async () =>
  Number((await db.sql<{ n: string }[]>`select count(*) as n from nudge_engine.contacts`)[0]!.n);

describe('POST /v1/contacts', () => {
  it('creates (201), then merges attributes by the same identity (200)', async () => {
    const created = await upsert({
      email: 'Ann@Example.com ',
      attributes: { plan: 'free', mrr: 10 },
    });
    expect(created.status).toBe(201);
    const first = created.json as Contact;
    expect(first).toMatchObject({
      email: 'ann@example.com',
      attributes: { plan: 'free', mrr: 10 },
    });

    const updated = await upsert({ email: 'ann@example.com', attributes: { plan: 'pro' } });
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({ id: first.id, attributes: { plan: 'pro', mrr: 10 } });
  });

  it('finds by auth_user_id, phone and external_id, filling in what the contact lacks', async () => {
    const user = '0b9a7f5e-3c2d-4e1f-8a7b-6c5d4e3f2a1b';
    const byUser = (await upsert({ auth_user_id: user, attributes: { source: 'auth' } }))
      .json as Contact;
    const withEmail = await upsert({
      auth_user_id: user,
      email: 'user@example.com',
      phone: '+4912345',
    });
    expect(withEmail.status).toBe(200);
    expect(withEmail.json).toMatchObject({
      id: byUser.id,
      email: 'user@example.com',
      phone: '+4912345',
    });
    const byPhone = await upsert({ phone: '+4912345', external_id: 'cus_42' });
    expect(byPhone.json).toMatchObject({ id: byUser.id, external_id: 'cus_42' });
    const byExternal = await upsert({ external_id: 'cus_42', attributes: { plan: 'team' } });
    expect(byExternal.json).toMatchObject({
      id: byUser.id,
      attributes: { source: 'auth', plan: 'team' },
    });
  });

  it.each([
    [{}, '(body): give at least one of email, auth_user_id, phone, external_id'],
    [{ email: 'not-an-email' }, 'email: expected an email address'],
    [{ email: 42 }, 'email: expected an email address'],
    [{ auth_user_id: 'nope' }, 'auth_user_id: expected a UUID'],
    [{ email: 'x@example.com', attributes: [] }, 'attributes: expected an object'],
    [
      { email: 'x@example.com', attributes: { mrr: 'lots' } },
      'attributes.mrr: expected a number (nudge.yaml declares mrr: numeric), got "lots"',
    ],
    [
      { email: 'x@example.com', attributes: { seats: 1.5 } },
      'attributes.seats: expected a whole number',
    ],
    [
      { email: 'x@example.com', attributes: { vip: 'yes' } },
      'attributes.vip: expected true or false',
    ],
    [
      { email: 'x@example.com', attributes: { birthday: '31/01/1990' } },
      'attributes.birthday: expected a date',
    ],
    // Days the calendar does not have: Date.parse reads them as March 2 and 1,
    // PostgreSQL reads them as nothing (every query would see NULL).
    [
      { email: 'x@example.com', attributes: { birthday: '2025-02-30' } },
      'attributes.birthday: expected a date (2024-01-31) (nudge.yaml declares birthday: date), got "2025-02-30": the calendar has no 2025-02-30',
    ],
    [
      { email: 'x@example.com', attributes: { birthday: '2023-02-29' } },
      'attributes.birthday: expected a date',
    ],
    [
      { email: 'x@example.com', attributes: { birthday: '0000-01-01' } },
      'attributes.birthday: expected a date',
    ],
    [
      { email: 'x@example.com', attributes: { trial_ends_at: '2025-04-31T00:00:00Z' } },
      'attributes.trial_ends_at: expected an ISO 8601 timestamp (nudge.yaml declares trial_ends_at: timestamptz), got "2025-04-31T00:00:00Z": the calendar has no 2025-04-31',
    ],
    [
      { email: 'x@example.com', attributes: { email: 'y@example.com' } },
      'attributes.email: "email" is a contact field, not an attribute; give it at the top level',
    ],
    // One the body cannot give either: not pointed to the top level, where it is unknown.
    [
      { email: 'x@example.com', attributes: { created_at: '2024-01-01T00:00:00Z' } },
      'attributes.created_at: "created_at" is a contact field, not an attribute; Nudge sets it; name the attribute otherwise (e.g. user_created_at)',
    ],
    [
      { email: 'x@example.com', nickname: 'x' },
      'nickname: unknown field; expected email, auth_user_id, phone, external_id, attributes',
    ],
    [{ emial: 'x@example.com' }, 'emial: unknown field (did you mean "email"?)'],
    [
      { email: 'x@example.com', Attributes: { plan: 'pro' } },
      'Attributes: unknown field (did you mean "attributes"?)',
    ],
  ])('refuses %j with 422 and writes nothing', async (body, message) => {
    const before = await count();
    const response = await upsert(body);
    expect(response.status).toBe(422);
    expect(response.json).toMatchObject({ error: 'invalid_body' });
    expect(detailOf(response)).toContain(message);
    expect(await count()).toBe(before);
  });

  it('takes a leap day, and finds the contact by it', async () => {
    const leap = await upsert({
      email: 'leap@example.com',
      attributes: { birthday: '2024-02-29', trial_ends_at: '2000-02-29T12:00:00+02:00' },
    });
    expect(leap.status, leap.text).toBe(201);
    const found = await api.call(
      'GET',
      '/v1/contacts?birthday=eq.2024-02-29&trial_ends_at=eq.2000-02-29T10:00:00Z&select=email',
    );
    expect(found.json).toEqual([{ email: 'leap@example.com' }]);
  });

  it('says which identity another contact holds, and keeps it theirs', async () => {
    const a = await upsert({ email: 'holder-a@example.com' });
    const b = await upsert({ external_id: 'holder-b', phone: '+15550001' });
    const both = await upsert({
      email: 'Holder-A@example.com',
      external_id: 'holder-b',
      phone: '+15550001',
    });
    expect([both.status, (both.json as { id: string }).id]).toEqual([
      200,
      (a.json as { id: string }).id,
    ]);
    expect(JSON.parse(both.headers.get('x-nudge-warnings') ?? '[]')).toEqual([
      `phone "+15550001" belongs to another contact and was not given to ${(a.json as { id: string }).id}`,
      `external_id "holder-b" belongs to another contact and was not given to ${(a.json as { id: string }).id}`,
    ]);
    const [kept] =
      await db.sql`select external_id from nudge_engine.contacts where id = ${(b.json as { id: string }).id}`;
    expect(kept?.external_id).toBe('holder-b');
    // Nothing to say when every identity is the contact's own.
    const again = await upsert({ email: 'holder-a@example.com' });
    expect(again.headers.get('x-nudge-warnings')).toBeNull();
  });

  it('refuses a body that is not JSON with 400, and one too large with 413', async () => {
    const malformed = await api.call('POST', '/v1/contacts', { body: '{"email": ' });
    expect([malformed.status, malformed.json]).toEqual([
      400,
      expect.objectContaining({ error: 'malformed_json' }),
    ]);
    // The parser's words alone: the body was sent as JSON, or said nothing of its type.
    expect(detailOf(malformed)).toMatch(/^body is not JSON: [^;]*$/);
    const charset = await api.call('POST', '/v1/contacts', {
      body: '{"email": ',
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expect(detailOf(charset)).toBe(detailOf(malformed));
    const untyped = await api.call('POST', '/v1/contacts', {
      body: '{"email": ',
      headers: { 'content-type': '' },
    });
    expect(detailOf(untyped)).toBe(detailOf(malformed));
    const large = await api.call('POST', '/v1/contacts', {
      body: { email: 'big@example.com', attributes: { blob: 'x'.repeat(2_000_000) } },
    });
    expect(large.status).toBe(413);
  });
});

describe('POST /v1/contacts with a Content-Type other than JSON', () => {
  it('names the Content-Type of a body that is not JSON, and how to send one', async () => {
    const before = await count();
    const form = await api.call('POST', '/v1/contacts', {
      body: 'email=form%40example.com&plan=pro',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' },
    });
    expect(form).toMatchObject({ status: 400, json: { error: 'malformed_json' } });
    expect(detailOf(form)).toMatch(
      /^body is not JSON \(Content-Type: application\/x-www-form-urlencoded\): .+; send JSON with Content-Type: application\/json$/,
    );
    expect(await count()).toBe(before);
  });

  it('reads a JSON body whatever Content-Type it came with', async () => {
    const plain = await api.call('POST', '/v1/contacts', {
      body: { email: 'plain@example.com' },
      headers: { 'content-type': 'text/plain' },
    });
    expect(plain.status).toBe(201);
    expect(plain.json).toMatchObject({ email: 'plain@example.com' });
  });
});

describe('GET /v1/contacts/:contact', () => {
  let contact: Contact;
  beforeAll(async () => {
    contact = (await upsert({ email: 'tl@example.com', external_id: 'ext-tl' })).json as Contact;
    const at = (minute: number) => new Date(Date.UTC(2025, 0, 1, 12, minute));
    for (let i = 0; i < 4; i++) {
      await db.sql`insert into nudge_engine.events (contact_id, name, properties, source, occurred_at)
                   values (${contact.id}, ${`event_${i}`}, ${db.sql.json({ i })}, 'api', ${at(i * 10)})`;
    }
    await db.sql`insert into nudge_engine.journeys (feature, contact_id, status, stage, entries, updated_at)
                 values ('welcome', ${contact.id}, 'active', 'welcomed', 1, ${at(15)})`;
    await db.sql`insert into nudge_engine.decisions (at, feature, contact_id, outcome, reason)
                 values (${at(15)}, 'welcome', ${contact.id}, 'entered', 'trigger matched')`;
    await db.sql`insert into nudge_engine.action_runs (key, feature, contact_id, stage, kind, params, status, created_at)
                 values ('welcome:tl:1', 'welcome', ${contact.id}, 'welcomed', 'email', '{}', 'succeeded', ${at(16)})`;
  });

  it('answers the contact by id, email and external id, with its timeline newest first', async () => {
    const byId = await api.call('GET', `/v1/contacts/${contact.id}`);
    expect(byId.status).toBe(200);
    const body = byId.json as {
      contact: Contact;
      timeline: { items: { kind: string; at: string }[]; next: string | null };
    };
    expect(body.contact).toMatchObject({ id: contact.id, email: 'tl@example.com' });
    expect(body.timeline.items.map((item) => [item.kind, item.at])).toEqual([
      ['event', '2025-01-01T12:30:00.000000Z'],
      ['event', '2025-01-01T12:20:00.000000Z'],
      ['action', '2025-01-01T12:16:00.000000Z'],
      ['journey', '2025-01-01T12:15:00.000000Z'],
      ['decision', '2025-01-01T12:15:00.000000Z'],
      ['event', '2025-01-01T12:10:00.000000Z'],
      ['event', '2025-01-01T12:00:00.000000Z'],
    ]);
    expect(body.timeline.items[0]).toMatchObject({
      name: 'event_3',
      properties: { i: 3 },
      source: 'api',
    });
    expect(body.timeline.items[2]).toMatchObject({
      key: 'welcome:tl:1',
      action: 'email',
      status: 'succeeded',
    });
    expect(body.timeline.next).toBeNull();
    for (const ref of ['TL@example.com', 'ext-tl']) {
      const other = await api.call('GET', `/v1/contacts/${encodeURIComponent(ref)}`);
      expect((other.json as { contact: Contact }).contact.id).toBe(contact.id);
    }
  });

  it('pages the timeline with a cursor, without repeats or gaps', async () => {
    const seen: string[] = [];
    let before: string | null = null;
    let pages = 0;
    do {
      const query: string = before ? `limit=3&before=${before}` : 'limit=3';
      const response = await api.call('GET', `/v1/contacts/${contact.id}?${query}`);
      const page = (
        response.json as {
          timeline: { items: { kind: string; at: string }[]; next: string | null };
        }
      ).timeline;
      seen.push(...page.items.map((item) => `${item.kind}@${item.at}`));
      before = page.next;
      pages++;
    } while (before && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
    expect(seen[3]).toBe('journey@2025-01-01T12:15:00.000000Z');
  });

  it('gives a next cursor only when something is older: a timeline of exactly one page has none', async () => {
    type Page = { timeline: { items: unknown[]; next: string | null } };
    // The contact's timeline holds 7 items (above): pages of 7, then of 6 and 1.
    const whole = (await api.call('GET', `/v1/contacts/${contact.id}?limit=7`)).json as Page;
    expect([whole.timeline.items.length, whole.timeline.next]).toEqual([7, null]);
    const first = (await api.call('GET', `/v1/contacts/${contact.id}?limit=6`)).json as Page;
    expect(first.timeline.items).toHaveLength(6);
    expect(first.timeline.next).not.toBeNull();
    const last = (
      await api.call('GET', `/v1/contacts/${contact.id}?limit=6&before=${first.timeline.next}`)
    ).json as Page;
    expect([last.timeline.items.length, last.timeline.next]).toEqual([1, null]);
  });

  it('orders rows of one time by id as numbers, across a change of digits', async () => {
    const someone = (await upsert({ email: 'same-time@example.com' })).json as Contact;
    const at = new Date('2025-02-01T00:00:00Z');
    // Ids 9 and 10 apart: as text, '10' would sort before '9'.
    await db.sql`select setval(pg_get_serial_sequence('nudge_engine.decisions', 'id'), 8)`;
    for (const reason of ['first', 'second', 'third']) {
      await db.sql`insert into nudge_engine.decisions (at, feature, contact_id, outcome, reason)
                   values (${at}, 'f', ${someone.id}, 'matched', ${reason})`;
    }
    const response = await api.call('GET', `/v1/contacts/${someone.id}?limit=10`);
    const items = (
      response.json as { timeline: { items: { kind: string; reason?: string }[] } }
    ).timeline.items.filter((item) => item.kind === 'decision');
    expect(items.map((item) => item.reason)).toEqual(['third', 'second', 'first']);
    // A cursor made before ids were padded ('10', not '000…10') goes on without repeats.
    const [third] = await db.sql<{ id: string }[]>`
      select id::text from nudge_engine.decisions where reason = 'third' and contact_id = ${someone.id}`;
    const old = Buffer.from(
      JSON.stringify(['2025-02-01T00:00:00.000000Z', 'decision', third!.id]),
    ).toString('base64url');
    const next = await api.call('GET', `/v1/contacts/${someone.id}?limit=10&before=${old}`);
    const rest = (
      next.json as { timeline: { items: { kind: string; reason?: string }[] } }
    ).timeline.items.filter((item) => item.kind === 'decision');
    expect(rest.map((item) => item.reason)).toEqual(['second', 'first']);
  });

  it('finds an external id that looks like an id or an email, after those', async () => {
    // An app's own user uuid, or an address, as the external id.
    const appUser = '5d2b7c1e-0a4f-4e8b-9c3d-2f1e0d9c8b7a';
    const byUuid = (await upsert({ external_id: appUser, phone: '+100' })).json as Contact;
    const byMail = (await upsert({ external_id: 'Ext@Example.com', phone: '+101' }))
      .json as Contact;
    for (const [ref, id] of [
      [appUser, byUuid.id],
      [appUser.toUpperCase(), null],
      ['Ext@Example.com', byMail.id],
    ] as const) {
      const found = await api.call('GET', `/v1/contacts/${encodeURIComponent(ref)}`);
      if (id === null) expect(found.status).toBe(404);
      else
        expect([found.status, (found.json as { contact: Contact }).contact.id]).toEqual([200, id]);
    }
    // A contact whose id, auth user id or email it is comes first.
    const holder = (await upsert({ auth_user_id: appUser })).json as Contact;
    const first = await api.call('GET', `/v1/contacts/${appUser}`);
    expect((first.json as { contact: Contact }).contact.id).toBe(holder.id);
    const deleted = await api.call(
      'DELETE',
      `/v1/contacts/${encodeURIComponent('Ext@Example.com')}`,
    );
    expect(deleted.json).toMatchObject({ id: byMail.id });
  });

  it('404 for nobody, 400 for a bad limit or cursor', async () => {
    const missing = await api.call('GET', '/v1/contacts/nobody@example.com');
    expect([missing.status, missing.json]).toEqual([
      404,
      expect.objectContaining({ error: 'contact_not_found' }),
    ]);
    // Neither an id nor an email: said how it was read.
    const external = await api.call('GET', '/v1/contacts/nobody-here');
    expect(detailOf(external)).toBe(
      'contact nobody-here does not exist (read as an external id; a contact is named by its id, auth user id, email or external id)',
    );
    expect((await api.call('GET', `/v1/contacts/${contact.id}?limit=0`)).status).toBe(400);
    const cursor = await api.call('GET', `/v1/contacts/${contact.id}?before=garbage`);
    expect(detailOf(cursor)).toContain('before: not a cursor');
  });
});

describe('GET /v1/contacts', () => {
  it('refuses a limit or offset outside what it takes with 400 naming the range', async () => {
    const refused = [
      ['limit', '-1'],
      ['limit', 'ten'],
      ['limit', '1e1'],
      ['limit', '1000000000'],
      ['offset', '-1'],
      ['offset', '2.5'],
    ];
    for (const [param, value] of refused) {
      const response = await api.call('GET', `/v1/contacts?${param}=${value}`);
      expect([response.status, response.json]).toEqual([
        400,
        {
          error: 'bad_query',
          detail: `${param}: expected a whole number from 0 to 999999999, got "${value}"`,
        },
      ]);
    }
    for (const window of ['limit=0', 'limit=999999999&offset=999999999']) {
      expect((await api.call('GET', `/v1/contacts?${window}`)).status, window).toBe(200);
    }
  });
});

describe('DELETE /v1/contacts/:contact', () => {
  it('marks the contact deleted: gone from reads and queries, restored by an upsert', async () => {
    const contact = (await upsert({ email: 'gone@example.com', attributes: { plan: 'gone' } }))
      .json as Contact;
    const deleted = await api.call('DELETE', '/v1/contacts/gone@example.com');
    expect(deleted.status).toBe(200);
    expect(deleted.json).toMatchObject({ id: contact.id, deleted_at: expect.any(String) });
    const again = await api.call('DELETE', `/v1/contacts/${contact.id}`);
    expect(again.json).toEqual(deleted.json);

    expect((await api.call('GET', '/v1/contacts/gone@example.com')).status).toBe(404);
    expect((await api.call('GET', '/v1/contacts?plan=eq.gone')).json).toEqual([]);
    const [row] =
      await db.sql`select deleted_at from nudge_engine.contacts where id = ${contact.id}`;
    expect(row?.deleted_at).toBeInstanceOf(Date);

    const restored = await upsert({ email: 'gone@example.com' });
    expect(restored.json).toMatchObject({ id: contact.id, deleted_at: null });
    expect((await api.call('DELETE', '/v1/contacts/never@example.com')).status).toBe(404);
  });
});
