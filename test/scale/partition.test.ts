// Shard locality, on real PostgreSQL as a stand-in for a store distributed by
// contact: every hot statement of src/engine/sql/, src/contacts/sql/ and
// src/actions/sql/ runs, through its own function and with realistic values,
// against an engine store whose hot tables are hash-partitioned by contact
// (partitioned-store.ts). The text and parameters the function sent are
// EXPLAIN ANALYZEd in the same transaction; the partitions it touched are
// those its plan executed a scan of, or whose rows it changed (the
// transaction's own statistics). Statements about one contact must touch one
// partition; batched ones, only the partitions of the contacts they name.
// Statements that cross partitions are asserted as they are, with the reason
// docs/scale.md gives: a redesign makes their test fail and the document
// changes with it. The outbox pump's statements
// (src/capture/transports/outbox/sql/) run on the source database and are
// set aside. SCALE_PLANS=1 prints each plan.
import { readdirSync } from 'node:fs';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueRuns } from '../../src/actions/sql/enqueue-runs.js';
import { insertRuns } from '../../src/actions/sql/insert-runs.js';
import { lockRuns } from '../../src/actions/sql/lock-runs.js';
import { markDead } from '../../src/actions/sql/mark-dead.js';
import { markSucceeded } from '../../src/actions/sql/mark-succeeded.js';
import { markWithheld } from '../../src/actions/sql/mark-withheld.js';
import { recoverRuns } from '../../src/actions/sql/recover-runs.js';
import { replayRuns } from '../../src/actions/sql/replay-runs.js';
import { scheduleAttempt } from '../../src/actions/sql/schedule-attempt.js';
import type { NewActionRun } from '../../src/actions/types.js';
import { attachUsersByEmail } from '../../src/contacts/sql/attach-users-by-email.js';
import { fillContact } from '../../src/contacts/sql/fill-contact.js';
import { findContact } from '../../src/contacts/sql/find-contact.js';
import { findContacts } from '../../src/contacts/sql/find-contacts.js';
import { insertContact } from '../../src/contacts/sql/insert-contact.js';
import { insertContacts } from '../../src/contacts/sql/insert-contacts.js';
import { mergeAttributes } from '../../src/contacts/sql/merge-attributes.js';
import { readContacts } from '../../src/contacts/sql/read-contacts.js';
import { upsertUserContacts } from '../../src/contacts/sql/upsert-user-contacts.js';
import type { ContactKeys } from '../../src/contacts/store.js';
import type { Decision, JourneyRow } from '../../src/engine/journeys/machine.js';
import { announceInbox } from '../../src/engine/sql/announce-inbox.js';
import { claimTimers } from '../../src/engine/sql/claim-timers.js';
import { countEmails } from '../../src/engine/sql/count-emails.js';
import { endJourney } from '../../src/engine/sql/end-journey.js';
import { insertDecisions } from '../../src/engine/sql/insert-decisions.js';
import { insertInboxRows } from '../../src/engine/sql/insert-inbox-rows.js';
import { laneWaiting } from '../../src/engine/sql/lane-waiting.js';
import { lockActiveJourneys } from '../../src/engine/sql/lock-active-journeys.js';
import { lockJourney } from '../../src/engine/sql/lock-journey.js';
import { lockJourneys } from '../../src/engine/sql/lock-journeys.js';
import { markProcessed } from '../../src/engine/sql/mark-processed.js';
import { moveLane } from '../../src/engine/sql/move-lane.js';
import { readLanes } from '../../src/engine/sql/read-lanes.js';
import { strandedLanes } from '../../src/engine/sql/stranded-lanes.js';
import { takeLanes } from '../../src/engine/sql/take-lanes.js';
import { timersDue } from '../../src/engine/sql/timers-due.js';
import { upsertJourneys } from '../../src/engine/sql/upsert-journeys.js';
import { useDatabase } from '../harness/db.js';
import { PARTITIONS, partitionActivity, partitionedStore } from './partitioned-store.js';

const db = useDatabase();

/** What each statement function sent, from postgres.js's debug hook. */
const sent: { query: string; parameters: unknown[] }[] = [];
let sql: postgres.Sql;

interface Contact {
  id: string;
  auth_user_id: string;
  email: string;
  /** The remainder of its partition: contacts_p<r>, journeys_p<r>, decisions_p<r>. */
  r: number;
}
let contacts: Contact[];
/** Contact id → the id of its seeded action run (in action_runs_p<r>, r its contact's). */
const runs = new Map<string, number>();
/** Lane → the remainder of its inbox partition, and its pending event ids. */
const lanes = new Map<number, { r: number; ids: number[] }>();
const LANES = 4;
/** Enough rows that the planner reaches rows by their indexes, as on a store in use. */
const CONTACTS = 20_000;
const now = new Date();
const later = new Date(now.getTime() + 86_400_000);

beforeAll(async () => {
  await partitionedStore(db.sql, db.url);
  sql = postgres(db.url, {
    onnotice: () => {},
    max: 1,
    debug: (_connection, query, parameters) => {
      sent.push({ query, parameters: parameters as unknown[] });
    },
  });
  const remainder = (part: string) => Number(/_p(\d+)$/.exec(part)![1]);
  contacts = (
    await sql<(Omit<Contact, 'r'> & { part: string })[]>`
      insert into nudge_engine.contacts (auth_user_id, email)
      select gen_random_uuid(), 'c' || g || '@example.com' from generate_series(1, ${CONTACTS}) g
      returning id, auth_user_id, email, tableoid::regclass::text as part`
  ).map(({ part, ...c }) => ({ ...c, r: remainder(part) }));
  // Every contact: an active journey waiting a day, a completed one, three emails decided.
  await sql`
    insert into nudge_engine.journeys (feature, contact_id, status, stage, entries, entered_at, wake_at)
    select f, c.id, case f when 'welcome' then 'active' else 'completed' end, 'first', 1, ${now},
           case f when 'welcome' then ${later}::timestamptz end
      from nudge_engine.contacts c cross join unnest(array['welcome', 'drip']) f`;
  await sql`
    insert into nudge_engine.decisions (at, feature, contact_id, outcome, reason, detail)
    select ${now}, 'welcome', c.id, 'action', 'stage first', '{"kind": "email"}'
      from nudge_engine.contacts c cross join generate_series(1, 3)`;
  // Every contact: one action run; one in 50 dead, one in 50 pending and untouched for an hour.
  const seeded = await sql<{ id: string; contact_id: string }[]>`
    insert into nudge_engine.action_runs (key, feature, contact_id, stage, kind, params, status, updated_at)
    select 'welcome:' || c.id || ':1:first:0', 'welcome', c.id, 'first', 'track', '{"event": "x"}',
           case c.n % 50 when 0 then 'dead' when 1 then 'pending' else 'succeeded' end,
           ${now}::timestamptz - interval '1 hour'
      from (select id, row_number() over (order by id) as n from nudge_engine.contacts) c
    returning id, contact_id`;
  for (const run of seeded) runs.set(run.contact_id, Number(run.id));
  const inbox = await sql<{ id: string; partition: number; part: string }[]>`
    insert into nudge_engine.inbox (source, source_key, occurred_at, partition)
    select 'api', 'k-' || l || '-' || g, ${now}, l from generate_series(0, ${LANES - 1}) l, generate_series(1, 10) g
    returning id, partition, tableoid::regclass::text as part`;
  for (const row of inbox) {
    const lane = lanes.get(row.partition) ?? { r: remainder(row.part), ids: [] };
    lane.ids.push(Number(row.id));
    lanes.set(row.partition, lane);
  }
  await sql`analyze`;
});

afterAll(async () => {
  await sql?.end();
});

class Undone {
  constructor(readonly value: { partitions: string[]; plan: unknown }) {}
}

/**
 * Runs `statement` (one call of a statement function) in a savepoint that is
 * undone, then EXPLAIN ANALYZEs the text and parameters it sent, in a
 * transaction that is undone too; returns the partitions that EXPLAIN touched.
 */
async function touched(
  statement: (tx: postgres.TransactionSql) => Promise<unknown>,
): Promise<string[]> {
  const undo = Symbol('undo');
  try {
    await sql.begin(async (tx) => {
      sent.length = 0;
      await tx
        .savepoint(async (sp) => {
          await statement(sp);
          throw undo;
        })
        .catch((error) => {
          if (error !== undo) throw error;
        });
      const statements = sent.filter((s) => !/^\s*(savepoint|rollback|release)\b/i.test(s.query));
      expect(statements, 'one statement per function call').toHaveLength(1);
      const { query, parameters } = statements[0]!;
      const before = await partitionActivity(tx);
      const [explained] = await tx.unsafe(
        `explain (analyze, format json) ${query}`,
        parameters as postgres.ParameterOrJSON<never>[],
      );
      const after = await partitionActivity(tx);
      const partitions = new Set<string>();
      for (const [name, n] of after) if (n !== (before.get(name) ?? 0)) partitions.add(name);
      const plan = explained!['QUERY PLAN'];
      for (const name of executedScans(plan)) partitions.add(name);
      if (process.env.SCALE_PLANS) console.log(query, JSON.stringify(plan, null, 1));
      throw new Undone({ partitions: [...partitions].sort(), plan });
    });
  } catch (error) {
    if (error instanceof Undone) return error.value.partitions;
    throw error;
  }
  throw new Error('unreachable');
}

/** Partitions (`<table>_p<r>`) the plan executed a node on (actual loops > 0). */
function executedScans(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(executedScans);
  if (typeof node !== 'object' || node === null) return [];
  const n = node as Record<string, unknown>;
  const own =
    typeof n['Relation Name'] === 'string' &&
    /_p\d+$/.test(n['Relation Name']) &&
    Number(n['Actual Loops']) > 0
      ? [n['Relation Name']]
      : [];
  return [...own, ...Object.values(n).flatMap(executedScans)];
}

const all = (table: string) => Array.from({ length: PARTITIONS }, (_, r) => `${table}_p${r}`);
/** Two contacts of one partition and one of another: a batch touches exactly those two. */
function batch(): { contacts: Contact[]; partitions: number[] } {
  const first = contacts[0]!;
  const same = contacts.find((c) => c !== first && c.r === first.r)!;
  const other = contacts.find((c) => c.r !== first.r)!;
  return { contacts: [first, same, other], partitions: [first.r, other.r].sort() };
}
const journey = (feature: string, c: Contact): JourneyRow => ({
  feature,
  contact_id: c.id,
  status: 'active',
  stage: 'second',
  entries: 1,
  entered_at: now,
  stage_entered_at: now,
  ended_at: null,
  wake_at: later,
  context: {},
});
/** An identity that names no seeded contact. */
const newKeys = (n: number): ContactKeys => ({
  authUserId: null,
  email: `new-${n}@example.com`,
  phone: null,
  externalId: null,
});
/** An auth user as the users upsert reads one: (id, email, phone, attributes, deleted_at). */
const user = (tx: postgres.TransactionSql, c: Contact) =>
  tx`select ${c.auth_user_id}::uuid as id, ${c.email}::text as email, null::text as phone,
            '{}'::jsonb as attributes, null::timestamptz as deleted_at`;
const runOf = (c: Contact) => runs.get(c.id)!;
const newRun = (n: number, c: Contact): NewActionRun => ({
  key: `welcome:${c.id}:2:second:${n}`,
  feature: 'welcome',
  contactId: c.id,
  stage: 'second',
  action: { kind: 'track', params: { event: 'x' } },
  context: { contact: null } as NewActionRun['context'],
});
const decision = (c: Contact | null): Decision => ({
  at: now,
  inboxId: 1,
  feature: 'welcome',
  contactId: c?.id ?? null,
  outcome: 'action',
  reason: 'stage second',
  detail: { kind: 'email' },
});

describe('statements about one contact touch its partition only', () => {
  it('the seeded rows of a contact share one remainder in every table', async () => {
    const c = contacts[5]!;
    const parts = await sql<{ part: string }[]>`
      select tableoid::regclass::text as part from nudge_engine.journeys where contact_id = ${c.id}
      union select tableoid::regclass::text from nudge_engine.decisions where contact_id = ${c.id}`;
    expect(parts.map((p) => p.part.replace('nudge_engine.', '')).sort()).toEqual([
      `decisions_p${c.r}`,
      `journeys_p${c.r}`,
    ]);
    expect(new Set(contacts.map((x) => x.r)).size).toBe(PARTITIONS);
  });

  it('count-emails: the frequency cap of one contact', async () => {
    const c = contacts[1]!;
    expect(await touched((tx) => countEmails(tx, c.id, new Date(now.getTime() - 1000)))).toEqual([
      `decisions_p${c.r}`,
    ]);
  });

  it('end-journey', async () => {
    const c = contacts[2]!;
    expect(await touched((tx) => endJourney(tx, 'welcome', c.id, now))).toEqual([
      `journeys_p${c.r}`,
    ]);
  });

  it('lock-journey', async () => {
    const c = contacts[3]!;
    expect(await touched((tx) => lockJourney(tx, 'welcome', c.id))).toEqual([`journeys_p${c.r}`]);
  });

  it('lock-active-journeys', async () => {
    const c = contacts[4]!;
    expect(await touched((tx) => lockActiveJourneys(tx, c.id, ['welcome', 'drip']))).toEqual([
      `journeys_p${c.r}`,
    ]);
  });

  it('lock-journeys, one contact', async () => {
    const c = contacts[6]!;
    const pairs = ['welcome', 'drip'].map((feature) => ({ feature, contactId: c.id }));
    expect(await touched((tx) => lockJourneys(tx, pairs))).toEqual([`journeys_p${c.r}`]);
  });

  it('upsert-journeys, one contact (an update and an insert)', async () => {
    const c = contacts[7]!;
    const rows = [journey('welcome', c), journey('new-feature', c)].map((row) => ({
      row,
      at: now,
    }));
    expect(await touched((tx) => upsertJourneys(tx, rows))).toEqual([`journeys_p${c.r}`]);
  });

  it('insert-decisions, one contact', async () => {
    const c = contacts[8]!;
    expect(await touched(async (tx) => insertDecisions(tx, [decision(c), decision(c)]))).toEqual([
      `decisions_p${c.r}`,
    ]);
  });

  it('read-lanes and lane-waiting: one lane, one inbox partition', async () => {
    for (const [lane, { r }] of lanes) {
      expect(await touched((tx) => readLanes(tx, [lane], 200))).toEqual([`inbox_p${r}`]);
      expect(await touched((tx) => laneWaiting(tx as unknown as postgres.Sql, lane))).toEqual([
        `inbox_p${r}`,
      ]);
    }
  });

  it('take-lanes touches no table (advisory locks only)', async () => {
    expect(await touched((tx) => takeLanes(tx, [0, 1, 2, 3], { flush: false }))).toEqual([]);
  });

  it('announce-inbox touches no table (a notification)', async () => {
    expect(await touched(async (tx) => announceInbox(tx, 'test', [0, 1]))).toEqual([]);
  });

  it('fill-contact: the found contact', async () => {
    const c = contacts[10]!;
    const keys = { ...newKeys(0), email: c.email, phone: '+15550100' };
    expect(await touched(async (tx) => fillContact(tx, c.id, keys, { plan: 'pro' }))).toEqual([
      `contacts_p${c.r}`,
    ]);
  });

  it('merge-attributes', async () => {
    const c = contacts[12]!;
    expect(await touched((tx) => mergeAttributes(tx, c.id, { plan: 'pro' }))).toEqual([
      `contacts_p${c.r}`,
    ]);
  });

  it("insert-contact: the new contact's partition", async () => {
    const partitions = await touched((tx) => insertContact(tx, newKeys(1), {}));
    expect(partitions).toHaveLength(1);
    expect(all('contacts')).toContain(partitions[0]);
  });
});

describe('batched statements touch only the partitions of the contacts they name', () => {
  const names = (table: string, rs: number[]) => rs.map((r) => `${table}_p${r}`);

  it('lock-journeys', async () => {
    const { contacts: cs, partitions } = batch();
    const pairs = cs.map((c) => ({ feature: 'welcome', contactId: c.id }));
    expect(await touched((tx) => lockJourneys(tx, pairs))).toEqual(names('journeys', partitions));
  });

  it('upsert-journeys', async () => {
    const { contacts: cs, partitions } = batch();
    const rows = cs.map((c) => ({ row: journey('welcome', c), at: now }));
    expect(await touched((tx) => upsertJourneys(tx, rows))).toEqual(names('journeys', partitions));
  });

  it('insert-decisions', async () => {
    const { contacts: cs, partitions } = batch();
    expect(await touched(async (tx) => insertDecisions(tx, cs.map(decision)))).toEqual(
      names('decisions', partitions),
    );
  });

  it('read-contacts', async () => {
    const { contacts: cs, partitions } = batch();
    const ids = cs.map((c) => c.id);
    expect(await touched((tx) => readContacts(tx, ids))).toEqual(names('contacts', partitions));
  });

  it('insert-contacts: at most the partitions of the new contacts', async () => {
    const partitions = await touched((tx) => insertContacts(tx, [newKeys(2), newKeys(3)]));
    expect(partitions.length).toBeGreaterThan(0);
    expect(partitions.length).toBeLessThanOrEqual(2);
    for (const partition of partitions) expect(all('contacts')).toContain(partition);
  });

  it('move-lane: the two lanes it names', async () => {
    const [from, to] = [lanes.get(3)!, lanes.get(1)!];
    expect(await touched((tx) => moveLane(tx, 3, 1))).toEqual(
      [...new Set([`inbox_p${from.r}`, `inbox_p${to.r}`])].sort(),
    );
  });

  it('mark-processed: the events of one lane, its one inbox partition; of two lanes, their two', async () => {
    const events = (lane: number) => lanes.get(lane)!.ids.map((id) => ({ id, partition: lane }));
    const { r } = lanes.get(2)!;
    expect(await touched((tx) => markProcessed(tx, events(2), now))).toEqual([`inbox_p${r}`]);
    const [a, b] = [lanes.get(0)!, lanes.get(1)!];
    expect(await touched((tx) => markProcessed(tx, [...events(0), ...events(1)], now))).toEqual(
      [...new Set([`inbox_p${a.r}`, `inbox_p${b.r}`])].sort(),
    );
  });

  it('read-lanes, two lanes', async () => {
    const [a, b] = [lanes.get(0)!, lanes.get(1)!];
    expect(await touched((tx) => readLanes(tx, [0, 1], 200))).toEqual(
      [...new Set([`inbox_p${a.r}`, `inbox_p${b.r}`])].sort(),
    );
  });
});

// Each of these crosses partitions today; docs/scale.md says why and what
// would make it local.
describe('statements that cross partitions (docs/scale.md)', () => {
  it('find-contacts looks a contact up by identity, not by id: every contacts partition', async () => {
    const c = contacts[9]!;
    expect(
      await touched((tx) => findContacts(tx, [{ authUserId: c.auth_user_id, email: c.email }])),
    ).toEqual(all('contacts'));
  });

  it('find-contact, like find-contacts: every contacts partition', async () => {
    const c = contacts[11]!;
    const keys = { ...newKeys(4), authUserId: c.auth_user_id, email: c.email };
    expect(await touched((tx) => findContact(tx, keys))).toEqual(all('contacts'));
  });

  it('attach-users-by-email looks for contacts known only by email: every contacts partition', async () => {
    const c = contacts[13]!;
    expect(await touched((tx) => attachUsersByEmail(tx, user(tx, c)))).toEqual(all('contacts'));
  });

  it('upsert-user-contacts cannot run: its conflict target (auth_user_id) has no contact id', async () => {
    const c = contacts[14]!;
    await expect(touched((tx) => upsertUserContacts(tx, user(tx, c), false))).rejects.toMatchObject(
      { code: '42P10' },
    );
  });

  it('stranded-lanes asks for lanes above a count, which hash partitions cannot prune: every inbox partition', async () => {
    expect(await touched((tx) => strandedLanes(tx as unknown as postgres.Sql, 2))).toEqual(
      all('inbox'),
    );
  });

  it('claim-timers and timers-due look at every journeys partition', async () => {
    expect(await touched((tx) => claimTimers(tx, now, 100))).toEqual(all('journeys'));
    expect(await touched((tx) => timersDue(tx as unknown as postgres.Sql, now))).toEqual(
      all('journeys'),
    );
  });

  it('insert-inbox-rows cannot run: its conflict target (source, source_key) has no lane', async () => {
    const event = { source: 'api' as const, sourceKey: 'new-1', eventName: 'x', occurredAt: now };
    await expect(touched((tx) => insertInboxRows(tx, [event], () => 1))).rejects.toMatchObject({
      code: '42P10',
    });
  });
});

// The action queue's statements (src/actions/sql/). A run is named by its id
// (jobs and attempts carry no contact), and none of them is local today;
// docs/scale.md says what would make them local.
describe('statements that cross partitions: the action queue (docs/scale.md)', () => {
  it('insert-runs cannot run: its conflict target (key) has no contact id', async () => {
    const c = contacts[15]!;
    await expect(touched(async (tx) => insertRuns(tx, [newRun(0, c)], null))).rejects.toMatchObject(
      { code: '42P10' },
    );
  });

  it('enqueue-runs cannot run: it inserts with insert-runs (42P10)', async () => {
    const c = contacts[16]!;
    await expect(touched((tx) => enqueueRuns(tx, [newRun(1, c)], null))).rejects.toMatchObject({
      code: '42P10',
    });
  });

  it('lock-runs locks runs by id, which carries no contact: every action_runs partition', async () => {
    const { contacts: cs } = batch();
    expect(await touched((tx) => lockRuns(tx, cs.map(runOf)))).toEqual(all('action_runs'));
  });

  it('mark-dead marks a run by its id: every action_runs partition', async () => {
    const c = contacts[17]!;
    expect(await touched(async (tx) => markDead(tx, runOf(c), 5, 'gone'))).toEqual(
      all('action_runs'),
    );
  });

  it('schedule-attempt marks a run by its id: every action_runs partition (its job: nudge_worker)', async () => {
    const c = contacts[18]!;
    expect(await touched(async (tx) => scheduleAttempt(tx, runOf(c), 1000))).toEqual(
      all('action_runs'),
    );
    expect(
      await touched(async (tx) =>
        scheduleAttempt(tx, runOf(c), 1000, { attempts: 1, error: 'timeout' }),
      ),
    ).toEqual(all('action_runs'));
  });

  it("mark-succeeded and mark-withheld mark runs by id: every action_runs partition, and their decisions the contacts' own", async () => {
    const { contacts: cs, partitions } = batch();
    const expected = [...all('action_runs'), ...partitions.map((r) => `decisions_p${r}`)].sort();
    const logged = (tx: postgres.TransactionSql) => insertDecisions(tx, cs.map(decision))!;
    expect(
      await touched(async (tx) =>
        markSucceeded(
          tx,
          cs.map((c) => ({ id: runOf(c), result: null })),
          now,
          logged(tx),
        ),
      ),
    ).toEqual(expected);
    expect(
      await touched(async (tx) =>
        markWithheld(
          tx,
          cs.map((c) => ({ id: runOf(c), reason: 'unsubscribed' })),
          now,
          logged(tx),
        ),
      ),
    ).toEqual(expected);
  });

  it('replay-runs picks runs by key, or dead ones by status, not by contact: every action_runs partition', async () => {
    const c = contacts[19]!;
    const [key] = await sql<{ key: string }[]>`
      select key from nudge_engine.action_runs where id = ${runOf(c)}`;
    const filter = { key: null, feature: null, since: null, until: null };
    expect(await touched((tx) => replayRuns(tx, { ...filter, key: key!.key }))).toEqual(
      all('action_runs'),
    );
    expect(await touched((tx) => replayRuns(tx, { ...filter, feature: 'welcome' }))).toEqual(
      all('action_runs'),
    );
  });

  it('recover-runs, a periodic reclaim of runs without a job across contacts: every action_runs partition', async () => {
    expect(await touched((tx) => recoverRuns(tx, 60_000))).toEqual(all('action_runs'));
  });
});

const statementFiles = (dir: string) =>
  readdirSync(new URL(dir, import.meta.url))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))
    .sort();

it('every file of src/actions/sql/ is covered above or set aside with its reason', () => {
  const covered = [
    'insert-runs',
    'enqueue-runs',
    'lock-runs',
    'mark-dead',
    'schedule-attempt',
    'mark-succeeded',
    'mark-withheld',
    'replay-runs',
    'recover-runs',
  ];
  const setAside = {
    // graphile-worker's schema (nudge_worker) only: the queue is
    // coordinator-local (docs/scale.md). Both are parts of enqueue-runs,
    // replay-runs and recover-runs, which run above.
    'batch-job-specs': 'nudge_worker only (job specs)',
    'keyed-jobs': 'nudge_worker only (add_jobs)',
    // The task name, not a statement.
    'action-task': 'not a statement',
  };
  expect(statementFiles('../../src/actions/sql/')).toEqual(
    [...covered, ...Object.keys(setAside)].sort(),
  );
});

it('every file of src/engine/sql/ is covered above or set aside with its reason', () => {
  const covered = [
    'count-emails',
    'end-journey',
    'lock-journey',
    'lock-active-journeys',
    'lock-journeys',
    'upsert-journeys',
    'insert-decisions',
    'read-lanes',
    'lane-waiting',
    'take-lanes',
    'claim-timers',
    'timers-due',
    'mark-processed',
    'insert-inbox-rows',
    'announce-inbox',
    'move-lane',
    'stranded-lanes',
  ];
  const setAside = {
    // experiment_entries is not among the tables partitioned here
    // (partitioned-store.ts); docs/scale.md co-locates it by contact_id.
    'insert-experiment-entry': 'experiment_entries not partitioned here',
    'open-experiment-entries': 'experiment_entries not partitioned here',
    'convert-experiment-entries': 'experiment_entries not partitioned here',
    'sweep-experiment-entries': 'experiment_entries not partitioned here',
    // A column list, not a statement.
    'journey-columns': 'not a statement',
  };
  expect(statementFiles('../../src/engine/sql/')).toEqual(
    [...covered, ...Object.keys(setAside)].sort(),
  );
});

it('every file of src/capture/transports/outbox/sql/ is set aside with its reason', () => {
  const setAside = {
    // The outbox pump's statements run on the source database
    // (nudge.event_log, the rows tables, nudge.deployments), not the engine store.
    'claim-captures': 'source database',
    'consume-captures': 'source database',
    'count-captures': 'source database',
    'latest-deployment': 'source database',
    'oldest-capture': 'source database',
    'outbox-waiting': 'source database',
  };
  expect(statementFiles('../../src/capture/transports/outbox/sql/')).toEqual(
    Object.keys(setAside).sort(),
  );
});

it('every file of src/contacts/sql/ is covered above or set aside with its reason', () => {
  const setAside = {
    // Runs only when an upsert of users hit a unique address held by an
    // email-only contact (addresses.ts), never on an event's path: it moves
    // one contact's events, list memberships and preferences to another by
    // their two contact ids, and reads experiment_entries, not partitioned here.
    'merge-contacts': 'only on an address conflict; two contacts by id',
    // Also only on an address conflict: who holds an email or a phone, and
    // the users' own contacts by auth_user_id — lookups that, like
    // find-contacts below, no contact id prunes (every contacts partition).
    'address-holders': 'only on an address conflict; by email, phone, auth_user_id',
    // No statement of its own: the WHERE fragment that pages a contact list
    // after a cursor (GET /v1/contacts?after=), a read of the whole book
    // in an order a user picks, which no contact id prunes.
    'after-cursor': 'a fragment of the contact list query; the whole book in any order',
  };
  const covered = [
    'fill-contact',
    'merge-attributes',
    'insert-contact',
    'read-contacts',
    'insert-contacts',
    'find-contacts',
    'find-contact',
    'attach-users-by-email',
    'upsert-user-contacts',
  ];
  expect(statementFiles('../../src/contacts/sql/')).toEqual(
    [...covered, ...Object.keys(setAside)].sort(),
  );
});
