// add_to_list and remove_from_list against what a list is: a segment (a
// saved condition) has no stored members, so either action on one fails for
// good, naming it, and stores nothing; remove_from_list of a list that does
// not exist does nothing (it makes no list); and add_to_list makes a new
// list only under a name of the list rule, while a list made before the rule
// keeps working.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executeRun } from '../../src/actions/task.js';
import { resolveContact } from '../../src/contacts/store.js';
import { migrateEngine } from '../../src/db/migrate.js';
import type { Action } from '../../src/features/schema.js';
import { useDatabase } from '../harness/db.js';
import { enqueue, makeEnv, makeProject, newRun, uniqueKey } from './setup.js';

const db = useDatabase();
let sql: postgres.Sql;
let env: ReturnType<typeof makeEnv>;
let contactId: string;

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  sql = postgres(db.url, { onnotice: () => {}, max: 4 });
  env = makeEnv(sql, await makeProject('actions: { max_attempts: 3, backoff_base_ms: 50 }\n'));
  contactId = (await resolveContact(sql, { email: 'ada@example.com' }, { plan: 'pro' })).id;
  await sql`
    insert into nudge_engine.lists (name, query)
    values ('pro', 'plan=eq.pro'), ('Old List', null)`;
});

afterAll(async () => {
  await sql?.end();
});

const context = { new: { plan: 'pro' }, contact: { email: 'ada@example.com' } };

/** Runs one action now, by hand (no worker): its outcome and its row afterwards. */
async function runOnce(action: Action) {
  const key = uniqueKey(action.kind);
  await enqueue(sql, [newRun(key, action, context, contactId)], {
    runAt: new Date(Date.now() + 3_600_000),
  });
  const [{ id }] = (await sql`select id from nudge_engine.action_runs where key = ${key}`) as [
    { id: string },
  ];
  const outcome = await executeRun(env, Number(id), 0);
  const [row] = await sql<{ status: string; last_error: string | null; result: unknown }[]>`
    select status, last_error, result from nudge_engine.action_runs where key = ${key}`;
  return { outcome, row: row! };
}

const lists = async () =>
  (await sql<{ name: string }[]>`select name from nudge_engine.lists order by name`).map(
    (row) => row.name,
  );
const memberRows = async () =>
  (
    await sql<{ name: string }[]>`
      select l.name from nudge_engine.list_members m join nudge_engine.lists l on l.id = m.list_id
       order by l.name`
  ).map((row) => row.name);

describe('a list action on a segment', () => {
  it('fails for good, naming the segment, and stores no member', async () => {
    for (const kind of ['add_to_list', 'remove_from_list'] as const) {
      const { outcome, row } = await runOnce({ kind, params: '{{ new.plan }}' } as Action);
      expect([outcome, row.status, row.last_error], kind).toEqual([
        'dead',
        'dead',
        `"pro" is a segment (a saved condition); ${kind} needs a static list`,
      ]);
    }
    expect(await memberRows()).toEqual([]);
  });
});

describe('remove_from_list of a list that does not exist', () => {
  it('succeeds and makes no list', async () => {
    const { outcome, row } = await runOnce({ kind: 'remove_from_list', params: 'never-made' });
    expect([outcome, row.result]).toEqual(['succeeded', { list: 'never-made', removed: false }]);
    expect(await lists()).not.toContain('never-made');
  });
});

describe('add_to_list making a new list', () => {
  it('refuses a rendered name off the list rule, for good, naming it; makes nothing', async () => {
    const { outcome, row } = await runOnce({
      kind: 'add_to_list',
      params: '{{ new.plan }} users!',
    });
    expect([outcome, row.last_error]).toEqual([
      'dead',
      'cannot make the list "pro users!" for add_to_list: expected a name of letters, digits, - and _, starting with a letter or digit (e.g. email-users)',
    ]);
    expect(await lists()).toEqual(['Old List', 'pro']);
  });

  it('adds to a list made before the rule under any name, and makes one under the rule', async () => {
    for (const params of ['Old List', '{{ new.plan }}-users']) {
      const { outcome } = await runOnce({ kind: 'add_to_list', params });
      expect(outcome, params).toBe('succeeded');
    }
    expect(await memberRows()).toEqual(['Old List', 'pro-users']);
  });
});
