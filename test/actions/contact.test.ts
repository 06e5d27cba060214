// Actions on the contact book through the real worker: set, lists, track;
// exactly once per key even when the task runs twice for one run, and
// nothing left behind by an attempt that fails.
import type { JobHelpers, Runner } from 'graphile-worker';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTION_TASK } from '../../src/actions/queue.js';
import { actionTasks, executeRun } from '../../src/actions/task.js';
import { resolveContact } from '../../src/contacts/store.js';
import { migrateEngine } from '../../src/db/migrate.js';
import type { Action } from '../../src/features/schema.js';
import { useDatabase } from '../harness/db.js';
import {
  enqueue,
  makeEnv,
  makeProject,
  newRun,
  startWorker,
  uniqueKey,
  waitForRun,
} from './setup.js';

const db = useDatabase();
let sql: postgres.Sql;
let env: ReturnType<typeof makeEnv>;
let runner: Runner;

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  sql = postgres(db.url, { onnotice: () => {}, max: 6 });
  env = makeEnv(sql, await makeProject('actions: { max_attempts: 2, backoff_base_ms: 50 }\n'));
  runner = await startWorker(db.url, env);
});

afterAll(async () => {
  await runner?.stop();
  await sql?.end();
});

async function contact(email: string) {
  return (await resolveContact(sql, { email }, { plan: 'free' })).id;
}

const context = { new: { plan: 'pro', total: 120 }, contact: { email: 'x@example.com' } };

/** Enqueues an action for later and returns its run id, for running it by hand. */
async function heldRun(action: Action, contactId: string | null) {
  const key = uniqueKey(action.kind);
  await enqueue(sql, [newRun(key, action, context, contactId)], {
    runAt: new Date(Date.now() + 3_600_000),
  });
  const [{ id }] = (await sql`select id from nudge_engine.action_runs where key = ${key}`) as [
    { id: string },
  ];
  return { key, id: Number(id) };
}

describe('contact actions', () => {
  it('sets attributes, manages lists created on first use, and tracks events', async () => {
    const id = await contact('ada@example.com');
    const list = `vip-${uniqueKey('l').slice(-6)}`;
    const runs = [
      newRun(
        uniqueKey('set'),
        { kind: 'set', params: { plan: '{{ new.plan }}', spent: '{{ new.total }}' } },
        context,
        id,
      ),
      newRun(uniqueKey('add'), { kind: 'add_to_list', params: list }, context, id),
      newRun(
        uniqueKey('track'),
        { kind: 'track', params: { event: 'upgraded', properties: { to: '{{ new.plan }}' } } },
        context,
        id,
      ),
    ];
    expect(await enqueue(sql, runs)).toBe(3);
    for (const run of runs) {
      expect(await waitForRun(sql, run.key, ['succeeded', 'dead'])).toMatchObject({
        status: 'succeeded',
      });
    }
    const [row] =
      await sql`select attributes, last_event_at from nudge_engine.contacts where id = ${id}`;
    expect(row!.attributes).toEqual({ plan: 'pro', spent: 120 });
    expect(row!.last_event_at.toISOString()).toBe('2026-03-01T12:00:00.000Z');
    const members = await sql`
      select c.email from nudge_engine.list_members m
        join nudge_engine.lists l on l.id = m.list_id join nudge_engine.contacts c on c.id = m.contact_id
       where l.name = ${list}`;
    expect(members.map((m) => m.email)).toEqual(['ada@example.com']);
    const events = await sql`
      select name, properties, source, occurred_at from nudge_engine.events where idempotency_key = ${runs[2]!.key}`;
    expect(events).toEqual([
      {
        name: 'upgraded',
        properties: { to: 'pro' },
        source: 'action',
        occurred_at: new Date('2026-03-01T12:00:00Z'),
      },
    ]);

    const remove = newRun(
      uniqueKey('remove'),
      { kind: 'remove_from_list', params: list },
      context,
      id,
    );
    await enqueue(sql, [remove]);
    expect((await waitForRun(sql, remove.key, ['succeeded'])).result).toEqual({
      list,
      removed: true,
    });
    const [left] = await sql`
      select count(*)::int as n from nudge_engine.list_members m join nudge_engine.lists l on l.id = m.list_id
       where l.name = ${list}`;
    expect(left!.n).toBe(0);
  });

  it('applies each effect once when the task runs twice for one run, even at the same time', async () => {
    const id = await contact('grace@example.com');
    const list = `twice-${uniqueKey('l').slice(-6)}`;
    const task = actionTasks(env)[ACTION_TASK]!;
    const helpers = {} as JobHelpers;
    const actions: Action[] = [
      { kind: 'set', params: { plan: '{{ new.plan }}' } },
      { kind: 'add_to_list', params: list },
      { kind: 'track', params: { event: 'paid' } },
    ];
    for (const action of actions) {
      const run = await heldRun(action, id);
      const [before] = await sql`select updated_at from nudge_engine.contacts where id = ${id}`;
      const outcomes = await Promise.all([executeRun(env, run.id, 0), executeRun(env, run.id, 0)]);
      expect(outcomes.sort()).toEqual(['skipped', 'succeeded']);
      const [after] = await sql`select updated_at from nudge_engine.contacts where id = ${id}`;
      // Through the worker's task as well, as a duplicate job would.
      await task({ runId: run.id, attempt: 0 }, helpers);
      const [again] = await sql`select updated_at from nudge_engine.contacts where id = ${id}`;
      expect(again!.updated_at).toEqual(after!.updated_at);
      if (action.kind === 'set') expect(after!.updated_at).not.toEqual(before!.updated_at);
      expect(await waitForRun(sql, run.key, ['succeeded'])).toMatchObject({ attempts: 1 });
    }
    const [counts] = await sql`
      select (select count(*)::int from nudge_engine.events e where e.contact_id = ${id} and e.name = 'paid') as events,
             (select count(*)::int from nudge_engine.list_members m join nudge_engine.lists l on l.id = m.list_id
               where l.name = ${list}) as members,
             (select count(*)::int from nudge_engine.lists where name = ${list}) as lists`;
    expect(counts).toEqual({ events: 1, members: 1, lists: 1 });
  });

  it('leaves nothing behind when an attempt fails, and says what is missing', async () => {
    const list = `orphan-${uniqueKey('l').slice(-6)}`;
    const noContact = await heldRun({ kind: 'add_to_list', params: list }, null);
    expect(await executeRun(env, noContact.id)).toBe('dead');
    const [lists] =
      await sql`select count(*)::int as n from nudge_engine.lists where name = ${list}`;
    expect(lists!.n).toBe(0);
    expect((await waitForRun(sql, noContact.key, ['dead'])).last_error).toBe(
      'add_to_list needs a contact; this run has none',
    );

    const set = await heldRun({ kind: 'set', params: { plan: '{{ new.plan | bogus }}' } }, null);
    expect(await executeRun(env, set.id)).toBe('dead');
    expect((await waitForRun(sql, set.key, ['dead'])).last_error).toBe(
      'set.plan: undefined filter: bogus',
    );

    const move = await heldRun({ kind: 'goto', params: 'next' }, null);
    expect(await executeRun(env, move.id)).toBe('dead');
    expect((await waitForRun(sql, move.key, ['dead'])).last_error).toBe(
      'goto is a journey move the engine makes, not an action to run',
    );
  });

  it('tracks an event without a contact, once per key', async () => {
    const run = await heldRun({ kind: 'track', params: { event: 'anonymous_visit' } }, null);
    expect(await executeRun(env, run.id)).toBe('succeeded');
    expect(await executeRun(env, run.id)).toBe('skipped');
    const events =
      await sql`select contact_id from nudge_engine.events where idempotency_key = ${run.key}`;
    expect(events).toEqual([{ contact_id: null }]);
  });
});
