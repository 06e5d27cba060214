// POST /v1/events: the event on the contact's timeline and in the inbox (source
// api, with its name), idempotency keys (200 with the first event, nothing
// stored twice, also under concurrency; 422 when the key is reused for
// another event), the engine running a feature
// triggered by the event's name, and 422s that write nothing.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processLanes } from '../../src/engine/lanes/process.js';
import { FeatureSet } from '../../src/engine/match/features.js';
import { advanceStoreClock, manualClock, resetStoreClock } from '../../src/engine/wiring/clock.js';
import { loadFeatures } from '../../src/features/load.js';
import { readCatalog } from '../../src/source/catalog.js';
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

interface Tracked {
  id: number;
  event: string;
  contact_id: string;
  occurred_at: string;
  idempotency_key: string | null;
  duplicate: boolean;
}

const track = (body: unknown) => api.call('POST', '/v1/events', { body });
const counts = async () => {
  const [row] = await db.sql<{ events: string; inbox: string; contacts: string }[]>`
    select (select count(*) from nudge_engine.events) as events,
           (select count(*) from nudge_engine.inbox) as inbox,
           (select count(*) from nudge_engine.contacts) as contacts`;
  return row!;
};

describe('POST /v1/events', () => {
  it('stores the event, creates the contact, and hands it to the inbox', async () => {
    const wakes = api.wakes();
    const response = await track({
      email: 'Buyer@Example.com',
      event: 'order_placed',
      properties: { order_id: 7, total: 42.5 },
      occurred_at: '2025-02-03T04:05:06Z',
    });
    expect(response.status).toBe(201);
    const event = response.json as Tracked;
    expect(event).toMatchObject({ event: 'order_placed', duplicate: false, idempotency_key: null });
    expect(event.occurred_at).toBe('2025-02-03T04:05:06.000Z');

    const [contact] =
      await db.sql`select id, email, last_event_at from nudge_engine.contacts where id = ${event.contact_id}`;
    expect(contact).toMatchObject({
      email: 'buyer@example.com',
      last_event_at: new Date('2025-02-03T04:05:06Z'),
    });
    const [stored] =
      await db.sql`select name, properties, source from nudge_engine.events where id = ${event.id}`;
    expect(stored).toEqual({
      name: 'order_placed',
      properties: { order_id: 7, total: 42.5 },
      source: 'api',
    });
    const inbox = await db.sql`select source, source_key, event_name, new_row, occurred_at
                                 from nudge_engine.inbox where source_key = ${`event:${event.id}`}`;
    expect(inbox).toEqual([
      {
        source: 'api',
        source_key: `event:${event.id}`,
        event_name: 'order_placed',
        new_row: {
          order_id: 7,
          total: 42.5,
          contact_id: event.contact_id,
          email: 'buyer@example.com',
          auth_user_id: null,
        },
        occurred_at: new Date('2025-02-03T04:05:06Z'),
      },
    ]);
    expect(api.wakes()).toBe(wakes + 1);
  });

  it('an idempotency key stores the event once and answers 200 with the first', async () => {
    const body = {
      email: 'retry@example.com',
      event: 'signup',
      properties: { plan: 'pro', seats: 3 },
      idempotency_key: 'req-1',
    };
    const first = await track(body);
    expect(first.status).toBe(201);
    const before = await counts();
    const wakes = api.wakes();
    // A retry: the same event, the email spelt otherwise, properties in another order.
    const second = await track({
      ...body,
      email: ' Retry@Example.com',
      properties: { seats: 3, plan: 'pro' },
    });
    expect(second.status).toBe(200);
    expect(second.json).toEqual({ ...(first.json as Tracked), duplicate: true });
    expect((first.json as Tracked).idempotency_key).toBe('req-1');
    expect(await counts()).toEqual(before);
    expect(api.wakes()).toBe(wakes);
  });

  it('takes the key from the Idempotency-Key header too, and refuses a body key that differs', async () => {
    const body = { email: 'header@example.com', event: 'signup' };
    const withHeader = (key: string, extra: object = {}) =>
      api.call('POST', '/v1/events', {
        body: { ...body, ...extra },
        headers: { 'idempotency-key': key },
      });
    const first = await withHeader('hdr-1');
    expect(first.status).toBe(201);
    expect((first.json as Tracked).idempotency_key).toBe('hdr-1');
    const before = await counts();
    // A retry, with the key in the header or in the body: the first event.
    const again = await withHeader('hdr-1');
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ ...(first.json as Tracked), duplicate: true });
    const inBody = await track({ ...body, idempotency_key: 'hdr-1' });
    expect(inBody.status).toBe(200);
    expect(await counts()).toEqual(before);

    const both = await withHeader('hdr-2', { idempotency_key: 'hdr-3' });
    expect(both.status).toBe(422);
    expect(detailOf(both)).toBe(
      'idempotency_key: "hdr-3" differs from the Idempotency-Key header ("hdr-2"): send the key in one of them, or the same key in both',
    );
    const long = await withHeader('k'.repeat(201));
    expect(long.status).toBe(422);
    expect(detailOf(long)).toBe('Idempotency-Key header: expected a key of at most 200 characters');
    expect(await counts()).toEqual(before);
  });

  describe('a key reused for another event', () => {
    const first = {
      email: 'reuse@example.com',
      event: 'order_placed',
      properties: { order_id: 7 },
      occurred_at: '2025-02-03T04:05:06Z',
      idempotency_key: 'k1',
    };
    let stored: Tracked;
    beforeAll(async () => {
      const answer = await track(first);
      expect(answer.status).toBe(201);
      stored = answer.json as Tracked;
    });

    it.each([
      ['event', { event: 'other' }],
      ['contact', { email: 'someone-else@example.com' }],
      ['properties', { properties: { order_id: 8 } }],
      ['properties', { properties: undefined }],
      ['occurred_at', { occurred_at: '2025-02-03T04:05:07Z' }],
      ['event, properties', { event: 'other', properties: {} }],
    ])(
      'is a 422 idempotency_key_reused naming what differs (%s), and stores nothing',
      async (differs, change) => {
        const before = await counts();
        const wakes = api.wakes();
        const answer = await track({ ...first, ...change });
        expect(answer.status).toBe(422);
        expect(answer.json).toMatchObject({
          error: 'idempotency_key_reused',
          idempotency_key: 'k1',
          differs: differs.split(', '),
          first_event_id: stored.id,
        });
        expect(detailOf(answer)).toBe(
          `idempotency_key "k1" was first used for another event (#${stored.id} order_placed at 2025-02-03T04:05:06.000Z); this call's ${differs} ${differs.includes(',') ? 'differ' : 'differs'}: send a new key for a new event, or the first call's body again to get its event`,
        );
        expect(await counts()).toEqual(before);
        expect(api.wakes()).toBe(wakes);
      },
    );

    it('is the same event by contact_id, and without occurred_at (a retry cannot repeat "now")', async () => {
      const same = { ...first, email: undefined, contact_id: stored.contact_id };
      const byId = await track(same);
      expect(byId.status).toBe(200);
      expect(byId.json).toEqual({ ...stored, duplicate: true });
      const later = await track({ ...first, occurred_at: undefined });
      expect(later.status).toBe(200);
      expect(later.json).toEqual({ ...stored, duplicate: true });
      const other = await api.call('POST', '/v1/contacts', { body: { external_id: 'not-7' } });
      const wrong = await track({ ...same, contact_id: (other.json as { id: string }).id });
      expect(wrong.status).toBe(422);
      expect(wrong.json).toMatchObject({ differs: ['contact'] });
    });
  });

  it('concurrent calls with one key store one event', async () => {
    const body = { email: 'race@example.com', event: 'clicked', idempotency_key: 'race-1' };
    const answers = await Promise.all(Array.from({ length: 8 }, () => track(body)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(answers.map((a) => (a.json as Tracked).id)).size).toBe(1);
    const events =
      await db.sql`select id from nudge_engine.events where idempotency_key = 'api:race-1'`;
    expect(events).toHaveLength(1);
    const inbox = await db.sql`select 1 from nudge_engine.inbox where event_name = 'clicked'`;
    expect(inbox).toHaveLength(1);
  });

  describe('a call refused for a reused key creates and changes no contact', () => {
    // Every column of every contact, to see that nothing was written.
    const contacts = () =>
      db.sql`select * from nudge_engine.contacts order by id`.then((rows) => [...rows]);
    const byEmail = (email: string) =>
      db.sql<{ id: string }[]>`select id from nudge_engine.contacts where email = ${email}`;
    /** A contact marked deleted, with no phone: what a call naming it would restore and fill. */
    const deletedContact = async (email: string) => {
      const [row] = await db.sql<{ id: string }[]>`
        insert into nudge_engine.contacts (email, attributes, deleted_at)
        values (${email}, '{"plan": "free"}', now() - interval '1 day') returning id`;
      return row!.id;
    };

    it('when the key was used long before', async () => {
      const first = await track({
        email: 'seq-first@example.com',
        event: 'paid',
        idempotency_key: 'seq-1',
      });
      expect(first.status).toBe(201);
      await deletedContact('seq-deleted@example.com');
      const before = await contacts();
      for (const identity of [
        { email: 'seq-new@example.com' },
        { auth_user_id: '0b0b0b0b-0b0b-4b0b-8b0b-0b0b0b0b0b0b' },
        { email: 'seq-deleted@example.com', phone: '+15550001111' },
      ]) {
        const answer = await track({ ...identity, event: 'paid', idempotency_key: 'seq-1' });
        expect(answer.status).toBe(422);
        expect(answer.json).toMatchObject({
          error: 'idempotency_key_reused',
          differs: ['contact'],
        });
      }
      expect(await byEmail('seq-new@example.com')).toEqual([]);
      expect(await contacts()).toEqual(before);
    });

    it('when two calls race: one event per key, only the winners’ contacts', async () => {
      const pairs = Array.from({ length: 10 }, (_, i) => [
        { email: `race-a-${i}@example.com`, event: 'raced', idempotency_key: `pair-${i}` },
        { email: `race-b-${i}@example.com`, event: 'raced', idempotency_key: `pair-${i}` },
      ]);
      const before = await contacts();
      const answers = await Promise.all(pairs.flat().map((body) => track(body)));
      const winners: string[] = [];
      for (const [i, pair] of pairs.entries()) {
        const [a, b] = [answers[2 * i]!, answers[2 * i + 1]!];
        expect([a.status, b.status].sort()).toEqual([201, 422]);
        const [won, lost] = a.status === 201 ? [a, b] : [b, a];
        const [winner, loser] = a.status === 201 ? pair : [pair[1]!, pair[0]!];
        expect(lost.json).toMatchObject({
          error: 'idempotency_key_reused',
          differs: ['contact'],
          first_event_id: (won.json as Tracked).id,
        });
        const events = await db.sql`
          select contact_id from nudge_engine.events where idempotency_key = ${`api:pair-${i}`}`;
        expect(events).toEqual([{ contact_id: (won.json as Tracked).contact_id }]);
        expect(await byEmail(winner!.email)).toEqual([{ id: (won.json as Tracked).contact_id }]);
        expect(await byEmail(loser!.email)).toEqual([]);
        winners.push((won.json as Tracked).contact_id);
      }
      const after = await contacts();
      expect(after.filter((c) => !winners.includes(c.id))).toEqual(before);
      expect(after).toHaveLength(before.length + pairs.length);
    });

    it('when two calls race: the loser restores and fills in no existing contact', async () => {
      const pairs = await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          await deletedContact(`old-${i}@example.com`);
          return [
            { email: `fresh-${i}@example.com`, event: 'raced', idempotency_key: `old-${i}` },
            {
              email: `old-${i}@example.com`,
              phone: `+1555000200${i}`,
              event: 'raced',
              idempotency_key: `old-${i}`,
            },
          ];
        }),
      );
      const before = await contacts();
      const answers = await Promise.all(pairs.flat().map((body) => track(body)));
      const written: string[] = [];
      for (const i of pairs.keys()) {
        const [fresh, old] = [answers[2 * i]!, answers[2 * i + 1]!];
        expect([fresh.status, old.status].sort()).toEqual([201, 422]);
        // The winner's contact is new (fresh) or restored with its phone (old).
        written.push(((fresh.status === 201 ? fresh : old).json as Tracked).contact_id);
      }
      const after = await contacts();
      expect(after.filter((c) => !written.includes(c.id))).toEqual(
        before.filter((c) => !written.includes(c.id)),
      );
      const created = written.filter((id) => !before.some((c) => c.id === id));
      expect(after).toHaveLength(before.length + created.length);
    });

    it('a call repeating the first one still gets the first event (also racing)', async () => {
      const pairs = Array.from({ length: 10 }, (_, i) => ({
        email: `replay-${i}@example.com`,
        event: 'replayed',
        properties: { n: i },
        idempotency_key: `replay-${i}`,
      }));
      const answers = await Promise.all(pairs.flatMap((body) => [track(body), track(body)]));
      for (const [i, body] of pairs.entries()) {
        const [a, b] = [answers[2 * i]!, answers[2 * i + 1]!];
        expect([a.status, b.status].sort()).toEqual([200, 201]);
        expect({ ...(a.json as Tracked), duplicate: true }).toEqual({
          ...(b.json as Tracked),
          duplicate: true,
        });
        expect(await byEmail(body.email)).toEqual([{ id: (a.json as Tracked).contact_id }]);
        const again = await track(body);
        expect(again.status).toBe(200);
        expect(again.json).toEqual({ ...(a.json as Tracked), duplicate: true });
      }
    });
  });

  it('takes an occurred_at up to a day ahead of the engine clock, which nudge dev moves ahead', async () => {
    const HOUR = 3_600_000;
    const at = (ms: number) => new Date(Date.now() + ms).toISOString();
    const lastEventAt = async () => {
      const [row] = await db.sql<{ last_event_at: Date }[]>`
        select last_event_at from nudge_engine.contacts where email = 'ahead@example.com'`;
      return row?.last_event_at.toISOString();
    };
    const soon = at(HOUR);
    expect(
      (await track({ email: 'ahead@example.com', event: 'x', occurred_at: soon })).status,
    ).toBe(201);
    expect(await lastEventAt()).toBe(soon);
    const later = at(10 * 24 * HOUR);
    const refused = await track({ email: 'ahead@example.com', event: 'x', occurred_at: later });
    expect(refused.status).toBe(422);
    expect(detailOf(refused)).toMatch(
      new RegExp(`^occurred_at: "${later}" is more than 24 hours ahead of now \\(`),
    );
    await advanceStoreClock(db.sql, 30 * 24 * HOUR);
    try {
      // Ten days ahead of real time is in the engine's past now; forty days is not.
      const taken = await track({ email: 'ahead@example.com', event: 'x', occurred_at: later });
      expect(taken.status).toBe(201);
      expect(await lastEventAt()).toBe(later);
      const far = at(40 * 24 * HOUR);
      const farther = await track({ email: 'ahead@example.com', event: 'x', occurred_at: far });
      expect(farther.status).toBe(422);
      expect(detailOf(farther)).toContain(`occurred_at: "${far}" is more than 24 hours ahead`);
      expect(await lastEventAt()).toBe(later);
    } finally {
      await resetStoreClock(db.sql);
    }
  });

  it('tracks by contact_id for an existing contact', async () => {
    const contact = (await api.call('POST', '/v1/contacts', { body: { external_id: 'c-1' } }))
      .json as { id: string };
    const response = await track({ contact_id: contact.id, event: 'viewed' });
    expect(response.status).toBe(201);
    expect(response.json).toMatchObject({ contact_id: contact.id });
  });

  // Each occurred_at refused, in a body otherwise taken.
  const occurredAtRefusals: [occurredAt: string, message: string][] = [
    ['yesterday', 'occurred_at: expected an ISO 8601 timestamp'],
    // A time of the right shape that is none says which part and what was sent.
    [
      '2025-02-30T00:00:00Z',
      'occurred_at: the calendar has no 2025-02-30, got "2025-02-30T00:00:00Z"',
    ],
    ['2025-03-01T24:00Z', 'occurred_at: a day has no 24:00, got "2025-03-01T24:00Z"'],
    [
      '2025-03-01T10:00:00+25:00',
      'occurred_at: no time zone is +25:00 from UTC (offsets go from -23:59 to +23:59), got "2025-03-01T10:00:00+25:00"',
    ],
    // Year 1 is a real date (once read as 1901 and refused as none), but no event's.
    [
      '0001-01-01T00:00:00Z',
      'occurred_at: "0001-01-01T00:00:00Z" is more than 36500d (100 years) before now: too far back to be when an event happened',
    ],
    // It would stay the contact's last event for good (last_event_at keeps the latest).
    [
      '9999-12-31T00:00:00Z',
      'occurred_at: "9999-12-31T00:00:00Z" is more than 24 hours ahead of now (',
    ],
  ];

  it.each<[unknown, string]>([
    [{ event: 'x' }, '(body): name the contact'],
    [{ email: 'a@example.com' }, 'event: expected the event name'],
    [{ email: 'a@example.com', event: '   ' }, 'event: expected a non-empty event name'],
    [{ email: 'a@example.com', event: 'x', properties: 'big' }, 'properties: expected an object'],
    ...occurredAtRefusals.map(([occurred_at, message]): [unknown, string] => [
      { email: 'a@example.com', event: 'x', occurred_at },
      message,
    ]),
    [
      { email: 'a@example.com', contact_id: '6f1c1c2e-8d1e-4c7a-9b1e-1f2e3d4c5b6a', event: 'x' },
      'contact_id: give contact_id or',
    ],
    [
      { contact_id: '6f1c1c2e-8d1e-4c7a-9b1e-1f2e3d4c5b6a', event: 'x' },
      'contact_id: no contact with id',
    ],
    [
      { email: 'a@example.com', event: 'x', idempotency_key: '' },
      'idempotency_key: expected a non-empty key',
    ],
    [
      { email: 'a@example.com', event: 'x', extra: 1 },
      'extra: unknown field; expected contact_id, email, auth_user_id, phone, external_id, event, properties, occurred_at, idempotency_key',
    ],
    // A misspelt field is named with the field it likely is, as nudge.yaml's are.
    [{ emial: 'a@b.co', event: 'x' }, 'emial: unknown field (did you mean "email"?)'],
    [
      { email: 'a@b.co', event: 'x', propertes: {} },
      'propertes: unknown field (did you mean "properties"?)',
    ],
    // Before the required field it stands for: the typo is what to fix.
    [{ email: 'a@b.co', evnt: 'x' }, 'evnt: unknown field (did you mean "event"?)'],
    // What other tracking APIs call it.
    [{ email: 'a@b.co', name: 'x' }, 'name: unknown field (did you mean "event"?)'],
    [
      { email: 'a@b.co', event: 'x', timestamp: '2026-01-01T00:00:00Z' },
      'timestamp: unknown field (did you mean "occurred_at"?)',
    ],
  ])('refuses %j with 422 and writes nothing', async (body, message) => {
    const before = await counts();
    const response = await track(body);
    expect(response.status).toBe(422);
    expect(detailOf(response)).toContain(message);
    expect(await counts()).toEqual(before);
  });
});

describe('new.* of a tracked event', () => {
  it('names its own contact: a property called email never stands in for a contact with none', async () => {
    const tracked = await track({
      external_id: 'no-email-user-1',
      event: 'invite_sent',
      properties: { email: 'invitee@example.com', auth_user_id: 'x', plan: 'pro' },
    });
    expect(tracked.status).toBe(201);
    const id = (tracked.json as Tracked).id;
    const [row] = await db.sql<{ new_row: Record<string, unknown> }[]>`
      select new_row from nudge_engine.inbox where source_key = ${`event:${id}`}`;
    expect(row?.new_row).toEqual({
      plan: 'pro',
      contact_id: (tracked.json as Tracked).contact_id,
      email: null,
      auth_user_id: null,
    });
  });
});

describe('features triggered by a tracked event', () => {
  it('the engine enters the contact into `trigger: { event: order_placed }`', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'nudge-api-events-'));
    await mkdir(path.join(dir, 'features'));
    await writeFile(
      path.join(dir, 'features', 'thanks.yaml'),
      [
        'name: thank-buyers',
        'trigger:',
        '  event: order_placed',
        '  when: { new.tier: eq.gold }',
        'contact: { email: new.email }',
        'stages:',
        '  - name: thanked',
        '    do: [{ email: { template: thanks, to: "{{ contact.email }}" } }]',
        '',
      ].join('\n'),
    );
    const features = new FeatureSet(
      await loadFeatures(path.join(dir, 'features'), {}),
      await readCatalog(db.sql),
    );
    // Only this test's events are left to process.
    await db.sql`update nudge_engine.inbox set processed_at = now() where processed_at is null`;
    const small = await track({
      email: 'small@example.com',
      event: 'order_placed',
      properties: { tier: 'silver' },
    });
    const big = await track({
      email: 'big@example.com',
      event: 'order_placed',
      properties: { tier: 'gold' },
    });
    const queued: unknown[] = [];
    const { count: processed } = await processLanes(
      {
        engine: db.sql,
        features,
        clock: manualClock(new Date()),
        enqueueActions: async (_tx, runs) => {
          queued.push(...runs);
        },
      },
      [0],
    );
    expect(processed).toBe(2);
    const decisions = await db.sql<
      { inbox: string; contact_id: string | null; outcome: string; reason: string }[]
    >`
      select i.source_key as inbox, d.contact_id::text, d.outcome, d.reason
        from nudge_engine.decisions d join nudge_engine.inbox i on i.id = d.inbox_id
       where d.feature = 'thank-buyers' order by d.id`;
    const bigId = (big.json as Tracked).contact_id;
    const of = (response: typeof big) =>
      decisions.filter((d) => d.inbox === `event:${(response.json as Tracked).id}`);
    expect(of(small)).toEqual([
      expect.objectContaining({
        outcome: 'skipped',
        reason: expect.stringContaining('trigger condition false'),
      }),
    ]);
    expect(of(big).map((d) => [d.outcome, d.contact_id])).toContainEqual(['matched', bigId]);
    expect(of(big).map((d) => d.outcome)).toContain('entered');
    expect(queued).toEqual([
      expect.objectContaining({
        contactId: bigId,
        action: expect.objectContaining({ kind: 'email' }),
      }),
    ]);
  });
});
