// A paused feature's skip names the contact its event was for, as every line
// about a contact does (its email, else its external or auth user id): no
// contact is looked up for it, so the name is the one the feature's contact
// mapping reads in the event. A skip whose reason already speaks of the event
// (a false trigger condition) still shows the event.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { decisionLines, readDecisions } from '../../src/engine/lanes/decision-log.js';
import { useDatabase } from '../harness/db.js';
import { signUp, type TestEngine, testEngine } from './harness.js';

const db = useDatabase();
let engine: TestEngine;

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
    'vip.yaml': `name: vip
trigger: { table: auth.users, on: insert, when: { new.email: like.%@vip.example } }
contact: { id: new.id, email: new.email }
stages:
  - name: greeted
    do: [{ set: { vip: true } }]
`,
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

it('names the contact on a paused feature’s line, in a row of skips and alone', async () => {
  const userId = await signUp(db.sql, 'Ada@Example.com');
  await engine.settle();
  await db.sql`delete from auth.users where id = ${userId}`;
  await engine.settle();

  // By feature: the sign-up's three skips share a row, each line naming whom
  // its own feature maps; the deletion's skip is a row of its own, named from
  // the old row.
  expect(await lines()).toEqual([
    ['audit', userId, 'paused'],
    ['goodbye', 'ada@example.com', 'paused'],
    [
      'vip',
      'insert on auth.users',
      'trigger condition false: new.email like.%@vip.example was false (value "Ada@Example.com")',
    ],
    ['welcome', 'ada@example.com', 'paused'],
  ]);
  const [shared] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from nudge_engine.decisions where feature is null`;
  expect(shared!.n).toBe(1);
  // Still no contact: a paused feature looks none up, and creates none.
  const [contacts] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from nudge_engine.contacts`;
  expect(contacts!.n).toBe(0);
});
