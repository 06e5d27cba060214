// A paused feature's skip names the contact its event was for, as every line
// about a contact does (its email, else its external or auth user id). The
// contact is looked up, never created: one the book has is the skip's
// contact_id, so the readers find the skip by contact (nudge logs --contact,
// /v1/decisions?contact=, the contact's timeline); for one it lacks, the name
// is the one the feature's contact mapping reads in the event. A skip whose
// reason already speaks of the event (a false trigger condition) still shows
// the event. With no feature paused, the skips are written as they were.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pumpOnce } from '../../src/capture/transports/outbox/pump.js';
import { resolveContact } from '../../src/contacts/store.js';
import { makeRouter } from '../../src/engine/intake/router.js';
import { decisionLines, readDecisions } from '../../src/engine/lanes/decision-log.js';
import { processLanes } from '../../src/engine/lanes/process.js';
import { timelineOf } from '../../src/server/api/timeline.js';
import { useDatabase } from '../harness/db.js';
import { signUp, type TestEngine, testEngine } from './harness.js';

const db = useDatabase();
let engine: TestEngine;

const VIP = `name: vip
trigger: { table: auth.users, on: insert, when: { new.email: like.%@vip.example } }
contact: { id: new.id, email: new.email }
stages:
  - name: greeted
    do: [{ set: { vip: true } }]
`;

beforeAll(async () => {
  engine = await testEngine(db, {
    'welcome.yaml': `name: welcome
status: paused
trigger: { table: auth.users, on: insert }
contact: { id: new.id, email: new.email }
stages:
  - name: welcomed
    do: [{ set: { welcomed: true } }]
`,
    'audit.yaml': `name: audit
status: paused
trigger: { table: auth.users, on: insert }
contact: { id: new.id }
stages:
  - name: noted
    do: [{ set: { audited: true } }]
`,
    'vip.yaml': VIP,
    'goodbye.yaml': `name: goodbye
status: paused
trigger: { table: auth.users, on: delete }
contact: { id: old.id, email: old.email }
stages:
  - name: said
    do: [{ set: { left: true } }]
`,
  });
});

afterAll(async () => {
  await db.sql`delete from nudge_engine.decisions`;
});

/** No users, contacts or decisions left from an earlier test. */
async function fresh(): Promise<void> {
  await db.sql`delete from auth.users`;
  await engine.settle();
  await db.sql`delete from nudge_engine.decisions`;
  await db.sql`delete from nudge_engine.contacts`;
}

/** settle(), with the lanes processed one event at a time (process.ts's fallback). */
async function settleOneByOne(): Promise<void> {
  const route = makeRouter(engine.features, 2);
  for (let round = 0; round < 100; round++) {
    let work = await pumpOnce({ source: db.sql, engine: db.sql, route });
    for (const lane of [0, 1])
      work += (await processLanes(engine.ctx, [lane], 200, { oneByOne: true })).count;
    if (work === 0) return;
  }
  throw new Error('settleOneByOne: the lanes did not empty in 100 rounds');
}

/** Each line the readers show (nudge logs, nudge dev): feature, whom (the contact, else the event), reason. */
async function lines(): Promise<[string | null, string | null, string][]> {
  const rows = await readDecisions(db.sql, {}, { after: 0 });
  return rows
    .flatMap((row) => decisionLines(row))
    .map((line): [string | null, string | null, string] => [
      line.feature,
      line.contact ?? line.event,
      line.reason,
    ])
    .sort(([a], [b]) => String(a).localeCompare(String(b)));
}

/** The lines of a sign-up by `email` and its deletion, by feature. */
function signedUpAndLeft(userId: string, email: string): [string, string, string][] {
  return [
    ['audit', userId, 'paused'],
    ['goodbye', email.toLowerCase(), 'paused'],
    [
      'vip',
      'insert on auth.users',
      `trigger condition false: new.email like.%@vip.example was false (value "${email}")`,
    ],
    ['welcome', email.toLowerCase(), 'paused'],
  ];
}

it('names the contact on a paused feature’s line, in a row of skips and alone', async () => {
  const userId = await signUp(db.sql, 'Ada@Example.com');
  await engine.settle();
  await db.sql`delete from auth.users where id = ${userId}`;
  await engine.settle();

  // By feature: the sign-up's three skips share a row, each line naming whom
  // its own feature maps; the deletion's skip is a row of its own, named from
  // the old row.
  expect(await lines()).toEqual(signedUpAndLeft(userId, 'Ada@Example.com'));
  const [shared] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from nudge_engine.decisions where feature is null`;
  expect(shared!.n).toBe(1);
  // Still no contact: a paused feature looks its contact up, and creates none.
  const [contacts] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from nudge_engine.contacts`;
  expect(contacts!.n).toBe(0);
});

describe.each([
  ['together', () => engine.settle()],
  ['one event at a time', settleOneByOne],
])('a paused feature’s skip for a contact the book has (%s)', (_mode, settle) => {
  it('is found by that contact, as nudge logs, /v1/decisions and the timeline read it', async () => {
    await fresh();
    const { id: contactId } = await resolveContact(db.sql, { email: 'grace@example.com' });
    const userId = await signUp(db.sql, 'Grace@Example.com');
    await settle();
    await db.sql`delete from auth.users where id = ${userId}`;
    await settle();

    // readDecisions is the query of nudge logs --contact and GET /v1/decisions?contact=.
    for (const contact of ['grace@example.com', contactId]) {
      const found = (await readDecisions(db.sql, { contact }, { limit: 50 }))
        .flatMap((row) => decisionLines(row))
        .map((line) => [line.feature, line.contact_id, line.contact, line.outcome, line.reason]);
      expect(found.sort()).toEqual([
        ['goodbye', contactId, 'grace@example.com', 'skipped', 'paused'],
        ['welcome', contactId, 'grace@example.com', 'skipped', 'paused'],
      ]);
    }
    const { items } = await timelineOf(db.sql, contactId, 50, null);
    expect(
      items.map((item) => [item.kind, item.feature, item.outcome, item.reason]).sort(),
    ).toEqual([
      ['decision', 'goodbye', 'skipped', 'paused'],
      ['decision', 'welcome', 'skipped', 'paused'],
    ]);

    // audit maps the auth user id alone, which no contact has: its skip names
    // it, beside vip's false condition, on the row they share.
    expect(await lines()).toEqual(signedUpAndLeft(userId, 'Grace@Example.com'));
    // Looked up, not created nor filled in: the one contact, still without the auth user id.
    expect(await db.sql`select id, auth_user_id from nudge_engine.contacts`).toEqual([
      { id: contactId, auth_user_id: null },
    ]);
  });
});

describe('skips with no feature paused', () => {
  it('are written as before: one row for the features skipped together, none naming a contact', async () => {
    await fresh();
    const features = await engine.redeploy(
      VIP,
      `name: phoned
trigger: { table: auth.users, on: insert }
contact: { phone: new.phone }
stages:
  - name: texted
    do: [{ set: { texted: true } }]
`,
      `name: goodbye
trigger: { table: auth.users, on: delete, when: { old.email: like.%@vip.example } }
contact: { id: old.id, email: old.email }
stages:
  - name: said
    do: [{ set: { left: true } }]
`,
    );
    try {
      await resolveContact(db.sql, { email: 'hal@example.com' });
      const userId = await signUp(db.sql, 'hal@example.com');
      await engine.settle();
      await db.sql`delete from auth.users where id = ${userId}`;
      await engine.settle();
      expect(
        await db.sql`select feature, contact_id, outcome, reason, detail
                       from nudge_engine.decisions order by id`,
      ).toEqual([
        {
          feature: null,
          contact_id: null,
          outcome: 'skipped',
          reason: '2 features skipped',
          detail: {
            skipped: {
              vip: 'trigger condition false: new.email like.%@vip.example was false (value "hal@example.com")',
              phoned: 'no contact: the row has no value for the contact mapping',
            },
          },
        },
        {
          feature: 'goodbye',
          contact_id: null,
          outcome: 'skipped',
          reason:
            'trigger condition false: old.email like.%@vip.example was false (value "hal@example.com")',
          detail: null,
        },
      ]);

      // Paused live, the same sign-up's vip skip is the contact's.
      features.setPausedLive(['vip']);
      const again = await signUp(db.sql, 'HAL@example.com');
      await engine.settle();
      const [contact] = await db.sql<{ id: string }[]>`
        select id from nudge_engine.contacts where email = 'hal@example.com'`;
      expect(
        (await readDecisions(db.sql, { contact: 'hal@example.com' }, { limit: 50 })).map((row) => [
          row.feature,
          row.contact_id,
          row.outcome,
          row.reason,
          row.detail,
        ]),
      ).toEqual([['vip', contact!.id, 'skipped', 'paused', null]]);
      await db.sql`delete from auth.users where id = ${again}`;
    } finally {
      engine.ctx.features = engine.features;
    }
  });
});
