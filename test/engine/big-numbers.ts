// What the big-number tests of both transports share (big-numbers.test.ts,
// test/capture/big-numbers-replication.test.ts): a table whose rows hold a
// bigint over 2^53, a numeric of 19 significant digits and a jsonb number
// of 18, the features that read them, and the checks that the engine saw,
// kept and sent those numbers exactly.
import { expect } from 'vitest';
import type { TestDatabase } from '../harness/db.js';
import type { Recorder } from '../harness/http-recorder.js';
import { waitFor } from '../harness/wait.js';
import { signUp } from './harness.js';

/** 2^53 + 1: the first integer a double cannot hold (it reads as 2^53). */
export const BIG_ID = '9007199254740993';
export const BIG_AMOUNT = '12345678901234567.25';
export const BIG_N = '123456789012345678';

export const LEDGER_TABLE = `create table public.ledger (
  id bigint primary key, user_id uuid not null, amount numeric not null, meta jsonb not null,
  status text not null default 'new')`;

/**
 * big-match: inserts whose id and amount only the exact numbers satisfy
 * (as doubles the id is 2^53 and the amount ...568, above the bound).
 * big-payload: updates to paid, sending the numbers on in a Liquid body and
 * in the default body, and keeping the amount as a contact attribute.
 */
export function ledgerFeatures(url: string): Record<string, string> {
  return {
    'big-match': `name: big-match
trigger:
  table: public.ledger
  on: insert
  when: { new.id: eq.${BIG_ID}, new.amount: lt.12345678901234567.3, new.meta->n: eq.${BIG_N} }
contact: { id: new.user_id }
stages:
  - name: matched
    do: [{ webhook: { url: "${url}/match" } }]
`,
    'big-payload': `name: big-payload
trigger: { table: public.ledger, on: update, when: { new.status: eq.paid } }
contact: { id: new.user_id }
stages:
  - name: paid
    do:
      - webhook:
          url: "${url}/payload"
          body: { id: "{{ new.id }}", amount: "{{ new.amount }}", n: "{{ new.meta.n }}", line: "ledger {{ new.id }} {{ new.amount }}" }
      - webhook: { url: "${url}/default" }
      - set: { amount: "{{ new.amount }}" }
`,
  };
}

/**
 * Inserts a near miss (2^53, which a rounded 2^53 + 1 would equal) and the
 * row itself, then pays the row; checks every place the numbers reach.
 */
export async function expectExactEndToEnd(db: TestDatabase, recorder: Recorder): Promise<void> {
  const user = await signUp(db.sql, `ledger-${Math.random()}@example.com`);
  const meta = `{"n": ${BIG_N}}`;
  await db.sql`insert into public.ledger (id, user_id, amount, meta)
    values (9007199254740992, ${user}, ${BIG_AMOUNT}::numeric, ${meta}::text::jsonb)`;
  await db.sql`insert into public.ledger (id, user_id, amount, meta)
    values (${BIG_ID}::bigint, ${user}, ${BIG_AMOUNT}::numeric, ${meta}::text::jsonb)`;
  await db.sql`update public.ledger set status = 'paid' where id = ${BIG_ID}::bigint`;

  // The JS predicate agrees with SQL: the row matches, the near miss does not.
  const matched = await recorder.waitFor((r) => r.path === '/match');
  expect(matched.body).toContain(`"new":{"id":${BIG_ID},`);
  expect(matched.body).toContain(`"amount":${BIG_AMOUNT},`);
  expect(matched.body).toContain(`"meta":{"n":${BIG_N}}`);

  // A Liquid body (its keys in jsonb's order, as the run keeps it): a lone
  // output keeps the number, as a JSON number; text has its digits.
  const payload = await recorder.waitFor((r) => r.path === '/payload');
  expect(payload.body).toBe(
    `{"n":${BIG_N},"id":${BIG_ID},"line":"ledger ${BIG_ID} ${BIG_AMOUNT}","amount":${BIG_AMOUNT}}`,
  );
  const standard = await recorder.waitFor((r) => r.path === '/default');
  expect(standard.body).toContain(`"new":{"id":${BIG_ID},`);
  expect(standard.body).toContain(`"amount":${BIG_AMOUNT},`);

  // What the store keeps: the inbox row, the run's context, the contact's attribute.
  const attribute = await waitFor(async () => {
    const [row] = await db.sql<{ amount: string | null }[]>`
      select attributes ->> 'amount' as amount from nudge_engine.contacts where auth_user_id = ${user}`;
    return row?.amount ?? undefined;
  }, 'the amount set on the contact');
  expect(attribute).toBe(BIG_AMOUNT);
  // The near miss is in the inbox only where no trigger filtered it (replication).
  const inbox = await db.sql<{ id: string; amount: string; n: string }[]>`
    select new_row ->> 'id' as id, new_row ->> 'amount' as amount, new_row -> 'meta' ->> 'n' as n
      from nudge_engine.inbox as i where table_name = 'ledger' order by i.id`;
  expect(
    inbox.filter((row) => row.id !== '9007199254740992').map((row) => [row.id, row.amount, row.n]),
  ).toEqual([
    [BIG_ID, BIG_AMOUNT, BIG_N],
    [BIG_ID, BIG_AMOUNT, BIG_N],
  ]);
  const runs = await db.sql<{ id: string }[]>`
    select context -> 'new' ->> 'id' as id from nudge_engine.action_runs as r
     where feature in ('big-match', 'big-payload') order by r.id`;
  expect(runs.map((run) => run.id)).toEqual(runs.map(() => BIG_ID));
  expect(recorder.requests.filter((r) => r.path === '/match')).toHaveLength(1);
}
