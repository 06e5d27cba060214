// The Logs page's reads: GET /v1/ingest (the raw ingest log, filtered and
// keyset-paged), GET /v1/decisions with a time window and the features
// paused live (since when, by whom), each pause and resume as a decision of
// its own (by whom, on the engine clock, filtered by outcome), and each
// action attempt in the decision log with its result and its time in the
// provider (a webhook that fails once, then succeeds, against a local recorder).
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DecisionPage,
  INGEST_SOURCES,
  type IngestPage,
  OUTCOMES,
} from '../../src/client/index.js';
import { TRANSPORTS } from '../../src/config/schema.js';
import { ENGINE_DOORS } from '../../src/engine/intake/inbox.js';
import { pauseFeature, resumeFeature, SWITCH_OUTCOMES } from '../../src/engine/match/pauses.js';
import {
  enqueue,
  makeEnv,
  makeProject,
  newRun,
  startWorker,
  uniqueKey,
  waitForRun,
} from '../actions/setup.js';
import { useDatabase } from '../harness/db.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';
import { type DashboardServer, dashboardServer } from './dashboard-server.js';

const db = useDatabase();
let get: DashboardServer['get'];

beforeAll(async () => {
  ({ get } = await dashboardServer(db));
});

describe("the Ingest page's source filter", () => {
  it("names every door into the inbox: each transport and the engine's own", () => {
    expect([...INGEST_SOURCES].sort()).toEqual([...TRANSPORTS, ...ENGINE_DOORS].sort());
  });
});

describe('GET /v1/ingest', () => {
  beforeAll(async () => {
    // 120 records: orders inserts and updates from the outbox, sign-up events
    // from the API; one an hour old, the newest still waiting.
    await db.sql`
      insert into nudge_engine.inbox (source, source_key, schema_name, table_name, operation, event_name,
                                      new_row, occurred_at, received_at, partition, processed_at)
      select case when g % 3 = 0 then 'api' else 'outbox' end, 'k' || g,
             case when g % 3 = 0 then null else 'public' end, case when g % 3 = 0 then null else 'orders' end,
             case when g % 3 = 0 then null else (array['insert', 'update'])[1 + g % 2] end,
             case when g % 3 = 0 then 'signed_up' end,
             jsonb_build_object('id', g), now() - make_interval(secs => 120 - g),
             case when g = 1 then now() - interval '1 hour' else now() - make_interval(secs => 120 - g) end,
             g % 2, case when g < 120 then now() end
        from generate_series(1, 120) g`;
  });

  it('lists records newest first, pages back, and filters by source, table or event, and time', async () => {
    const first = await get<IngestPage>('/v1/ingest?limit=50');
    expect(first.items).toHaveLength(50);
    expect(first.items[0]).toMatchObject({
      source: 'api',
      event_name: 'signed_up',
      new_row: { id: 120 },
      processed_at: null,
      lane: 0,
    });
    const ids: number[] = first.items.map((i) => i.id);
    let next = first.next;
    while (next) {
      const page = await get<IngestPage>(`/v1/ingest?limit=50&before=${next}`);
      ids.push(...page.items.map((i) => i.id));
      next = page.next;
    }
    expect(ids).toHaveLength(120);
    expect([...ids].sort((a, b) => b - a)).toEqual(ids);

    const orders = await get<IngestPage>('/v1/ingest?subject=public.orders&limit=200');
    expect(orders.items).toHaveLength(80);
    expect(orders.items.every((i) => i.table_name === 'orders')).toBe(true);
    const api = await get<IngestPage>('/v1/ingest?source=api&subject=signed_up&limit=200');
    expect(api.items).toHaveLength(40);
    // An event name with a dot, as /v1/events takes one, is found by its name too.
    await db.sql`
      insert into nudge_engine.inbox (source, source_key, event_name, occurred_at, partition, processed_at)
      values ('api', 'dotted', 'order.placed', now(), 0, now())`;
    const dotted = await get<IngestPage>('/v1/ingest?subject=order.placed');
    expect(dotted.items.map((i) => i.source_key)).toEqual(['dotted']);
    await db.sql`delete from nudge_engine.inbox where source_key = 'dotted'`;
    const from = new Date(Date.now() - 30 * 60_000).toISOString();
    const recent = await get<IngestPage>(`/v1/ingest?limit=200&from=${from}`);
    expect(recent.items).toHaveLength(119);
    const old = await get<IngestPage>(`/v1/ingest?limit=200&to=${from}`);
    expect(old.items.map((i) => i.source_key)).toEqual(['k1']);
  });

  it('names a bad time', async () => {
    const body = await get<{ detail: string }>('/v1/ingest?from=yesterday', 400);
    expect(body.detail).toBe(
      'from: expected an ISO 8601 time such as 2026-03-01T09:00:00Z, got "yesterday"',
    );
  });
});

describe('GET /v1/decisions with a time window', () => {
  it('keeps decisions at or after from and before to', async () => {
    await db.sql`
      insert into nudge_engine.decisions (at, feature, outcome, reason)
      select now() - make_interval(mins => g), 'drip', 'matched', 'minute ' || g
        from generate_series(0, 59) g`;
    const from = new Date(Date.now() - 30.5 * 60_000).toISOString();
    const to = new Date(Date.now() - 9.5 * 60_000).toISOString();
    const page = await get<DecisionPage>(
      `/v1/decisions?feature=drip&from=${from}&to=${to}&limit=200`,
    );
    expect(page.items.map((i) => i.reason)).toEqual(
      Array.from({ length: 21 }, (_, i) => `minute ${30 - i}`),
    );
  });
});

describe('GET /v1/decisions and the features paused live', () => {
  it('says which are paused now, since when and by whom, only the filtered one’s; none once resumed', async () => {
    // `drip` has decisions (above): a filter by it is taken with no feature file.
    await pauseFeature(db.sql, 'drip', 'cli');
    await pauseFeature(db.sql, 'other', 'api key ci');
    const [pause] = await db.sql<{ at: Date }[]>`
      select paused_at as at from nudge_engine.feature_pauses where feature = 'drip'`;
    expect((await get<DecisionPage>('/v1/decisions?limit=1')).paused).toEqual([
      { feature: 'drip', at: pause!.at.toISOString(), by: 'cli' },
      { feature: 'other', at: expect.any(String), by: 'api key ci' },
    ]);
    expect((await get<DecisionPage>('/v1/decisions?feature=drip&limit=1')).paused).toEqual([
      { feature: 'drip', at: pause!.at.toISOString(), by: 'cli' },
    ]);
    await resumeFeature(db.sql, 'drip', 'cli');
    await resumeFeature(db.sql, 'other', 'api key ci');
    expect((await get<DecisionPage>('/v1/decisions?limit=1')).paused).toEqual([]);
  });
});

describe('a pause and a resume in the decision log', () => {
  it('logs each move of the switch once, by whom, and lists them by outcome', async () => {
    expect(await pauseFeature(db.sql, 'signups', 'cli')).toBe(true);
    // Paused already, not paused: the switch does not move, nothing is logged.
    expect(await pauseFeature(db.sql, 'signups', 'dashboard')).toBe(false);
    expect(await resumeFeature(db.sql, 'signups', 'api key ci')).toBe(true);
    expect(await resumeFeature(db.sql, 'signups', 'cli')).toBe(false);
    expect(
      await db.sql`
        select feature, contact_id, inbox_id, outcome, reason, detail
          from nudge_engine.decisions where feature = 'signups' order by id`,
    ).toEqual([
      {
        feature: 'signups',
        contact_id: null,
        inbox_id: null,
        outcome: 'paused',
        reason: 'by cli: its events are skipped until it is resumed',
        detail: { by: 'cli' },
      },
      {
        feature: 'signups',
        contact_id: null,
        inbox_id: null,
        outcome: 'resumed',
        reason: 'by api key ci: its events are no longer skipped as paused',
        detail: { by: 'api key ci' },
      },
    ]);

    // Outcomes of their own, which the filter (and the Logs page's Outcome choice) offers.
    expect(OUTCOMES).toEqual(expect.arrayContaining([...SWITCH_OUTCOMES]));
    const line = (item: DecisionPage['items'][number]) =>
      [item.feature, item.outcome, item.reason, item.contact, item.event] as const;
    const paused = await get<DecisionPage>('/v1/decisions?feature=signups&outcome=paused');
    expect(paused.items.map(line)).toEqual([
      ['signups', 'paused', 'by cli: its events are skipped until it is resumed', null, null],
    ]);
    const both = await get<DecisionPage>('/v1/decisions?feature=signups');
    expect(both.items.map((item) => item.outcome)).toEqual(['resumed', 'paused']);
    // Without a feature: every resume, and only resumes.
    const resumed = await get<DecisionPage>('/v1/decisions?outcome=resumed&limit=200');
    expect(resumed.items.length).toBeGreaterThan(0);
    expect(resumed.items.every((item) => item.outcome === 'resumed')).toBe(true);
    expect(resumed.items.filter((item) => item.feature === 'signups').map(line)).toEqual([
      [
        'signups',
        'resumed',
        'by api key ci: its events are no longer skipped as paused',
        null,
        null,
      ],
    ]);
  });

  it('stamps the move on the engine clock, as every decision is; the pause itself in real time', async () => {
    await db.sql`update nudge_engine.clock set offset_ms = ${2 * 86_400_000}`;
    try {
      await pauseFeature(db.sql, 'clocked', 'cli');
      const [row] = await db.sql<{ at: Date; paused_at: Date }[]>`
        select d.at, p.paused_at from nudge_engine.decisions d
          join nudge_engine.feature_pauses p using (feature)
         where d.feature = 'clocked' and d.outcome = 'paused'`;
      expect(row!.at.getTime() - row!.paused_at.getTime()).toBe(2 * 86_400_000);
      // Found where the log's times put it: a day and more past real time now.
      const page = await get<DecisionPage>(
        `/v1/decisions?outcome=paused&from=${new Date(Date.now() + 86_400_000).toISOString()}`,
      );
      expect(page.items.map((item) => item.feature)).toEqual(['clocked']);
    } finally {
      await resumeFeature(db.sql, 'clocked', 'cli');
      await db.sql`update nudge_engine.clock set offset_ms = 0`;
    }
  });
});

describe('action attempts in the decision log', () => {
  let hooks: Recorder;
  let sql: postgres.Sql;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    sql = postgres(db.url, { onnotice: () => {}, max: 4 });
    hooks = await startRecorder();
    const project = await makeProject(`
webhooks:
  timeout_ms: 2000
actions:
  max_attempts: 3
  backoff_base_ms: 20
  backoff_max_ms: 40
`);
    const runner = await startWorker(db.url, makeEnv(sql, project));
    stop = () => runner.stop();
  });
  afterAll(async () => {
    await stop?.();
    await hooks?.close();
    await sql?.end();
  });

  it('shows each attempt with its result and its time in the provider', async () => {
    const runKey = uniqueKey('logs');
    hooks.route('POST', '/hook', () => ({ status: 200, body: { ok: true } }));
    hooks.failNext(1, 503);
    await enqueue(sql, [
      newRun(runKey, { kind: 'webhook', params: { url: `${hooks.url}/hook`, method: 'POST' } }),
    ]);
    await waitForRun(sql, runKey, ['succeeded', 'dead']);
    const page = await get<DecisionPage>('/v1/decisions?outcome=attempt&feature=test-feature');
    const attempts = page.items
      .filter((i) => i.attempt?.key === runKey)
      .map((i) => ({ number: i.attempt!.number, status: i.attempt!.status, ms: i.attempt!.ms }));
    expect(attempts).toEqual([
      { number: 2, status: 'succeeded', ms: expect.any(Number) },
      { number: 1, status: 'retrying', ms: expect.any(Number) },
    ]);
    expect(page.items.find((i) => i.attempt?.number === 1)?.reason).toContain(
      'webhook answered 503',
    );
  });
});
