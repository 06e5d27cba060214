// GET /v1/overview's engine processes, lanes and per-minute activity,
// GET /v1/overview/checks (the checks of `nudge doctor`, each with its fix),
// and the same state on GET /metrics, in-process against a real database.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DoctorChecks, Overview } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/load.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { createApiKey } from '../../src/server/api/keys.js';
import { makeServer, type NudgeServer } from '../../src/server/index.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();
let key: string;

async function serverFor(env: Record<string, string>, source?: postgres.Sql): Promise<NudgeServer> {
  const project = await loadConfig({
    cwd: await mkdtemp(path.join(tmpdir(), 'nudge-overview-')),
    env,
  });
  project.config.engine = { ...project.config.engine, partitions: 3 };
  return makeServer({
    sql: db.sql,
    project,
    route: () => 0,
    log: pino({ level: 'silent' }),
    keys: { key: Buffer.alloc(32, 7) },
    dashboard: { features: [], sourceUrl: db.url, ...(source ? { source } : {}) },
  });
}

const get = async <T>(server: NudgeServer, url: string): Promise<T> => {
  const response = await server.app.request(`http://127.0.0.1${url}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as T;
};

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  ({ key } = await createApiKey(db.sql, 'overview', 'dashboard'));
  // Events: 3 received 10 minutes ago, 2 a minute ago (one waiting in lane 1,
  // one in lane 5, which this configuration does not run); action runs that
  // succeeded and failed, and their attempts.
  await db.sql`
    insert into nudge_engine.inbox (source, source_key, event_name, occurred_at, received_at, partition, processed_at)
    values ('api', 'a', 'x', now(), now() - interval '10 minutes', 0, now()),
           ('api', 'b', 'x', now(), now() - interval '10 minutes', 0, now()),
           ('api', 'c', 'x', now(), now() - interval '10 minutes', 0, now()),
           ('api', 'd', 'x', now(), now() - interval '1 minute', 1, null),
           ('api', 'e', 'x', now(), now() - interval '1 minute', 5, null),
           ('api', 'old', 'x', now(), now() - interval '2 hours', 0, now())`;
  await db.sql`
    insert into nudge_engine.action_runs (key, kind, params, status, updated_at)
    values ('k1', 'email', '{}', 'succeeded', now() - interval '10 minutes'),
           ('k2', 'email', '{}', 'succeeded', now() - interval '10 minutes'),
           ('k3', 'webhook', '{}', 'dead', now() - interval '10 minutes'),
           ('k4', 'webhook', '{}', 'retrying', now())`;
  // Their attempts, as the decision log keeps them (the charts count these).
  await db.sql`
    insert into nudge_engine.decisions (at, outcome, reason, detail)
    select at, 'attempt', kind || ' attempt 1', jsonb_build_object('kind', kind, 'key', key, 'attempt', 1, 'status', status)
      from (values ('k1', 'email', 'succeeded', now() - interval '10 minutes'),
                   ('k2', 'email', 'succeeded', now() - interval '10 minutes'),
                   ('k3', 'webhook', 'dead', now() - interval '10 minutes'),
                   ('k4', 'webhook', 'retrying', now())) a (key, kind, status, at)`;
  await db.sql`
    insert into nudge_engine.workers (id, host, pid, started_at, heartbeat_at)
    values ('pool-a', 'box', 4242, now() - interval '1 hour', now()),
           ('pool-b', 'box', 4242, now() - interval '30 minutes', now() - interval '5 seconds')`;
});

describe('GET /v1/overview', () => {
  it('shows engine processes, lanes and activity per minute', async () => {
    const server = await serverFor({ DATABASE_URL: db.url });
    const overview = await get<Overview>(server, '/v1/overview');
    if ('error' in overview.engine) throw new Error(overview.engine.error);
    expect(overview.engine.processes).toEqual([
      expect.objectContaining({ host: 'box', pid: 4242, pools: 2 }),
    ]);
    expect(overview.engine.lanes.map((l) => [l.lane, l.running, l.pending])).toEqual([
      [0, true, 0],
      [1, true, 1],
      [2, true, 0],
      [5, false, 1],
    ]);
    if ('error' in overview.activity) throw new Error(overview.activity.error);
    const { events, actions, failures } = overview.activity;
    expect(events).toHaveLength(60);
    expect(events.reduce((a, b) => a + b, 0)).toBe(5);
    expect(events.at(-11)).toBe(3);
    expect(actions.reduce((a, b) => a + b, 0)).toBe(2);
    expect(failures.reduce((a, b) => a + b, 0)).toBe(2);
    expect(failures.at(-1)).toBe(1);
  });
});

describe('GET /metrics', () => {
  const scrape = async (server: NudgeServer) => {
    const response = await server.app.request('http://127.0.0.1/metrics', {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(response.status).toBe(200);
    return response.text();
  };
  /** The value of one sample, e.g. `nudge_action_runs{status="dead"}`; undefined when absent. */
  const sample = (text: string, name: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.slice(name.length + 1));
  };

  it("reports the engine's state as the overview reads it, and the process's own", async () => {
    const text = await scrape(await serverFor({ DATABASE_URL: db.url }));
    expect(sample(text, 'nudge_inbox_pending')).toBe(2);
    // The oldest waiting event was received a minute ago.
    expect(sample(text, 'nudge_inbox_oldest_pending_age_seconds')).toBeGreaterThanOrEqual(59);
    expect(sample(text, 'nudge_inbox_oldest_pending_age_seconds')).toBeLessThan(3600);
    expect(sample(text, 'nudge_action_runs{status="retrying"}')).toBe(1);
    expect(sample(text, 'nudge_action_runs{status="dead"}')).toBe(1);
    expect(sample(text, 'nudge_engine_processes')).toBe(1);
    expect(sample(text, 'nudge_features{status="active"}')).toBe(0);
    // No nudge schema in this database: nothing captured, nothing waiting there.
    expect(sample(text, 'nudge_capture_pending')).toBe(0);
    expect(sample(text, 'nudge_capture_not_captured_rows')).toBe(0);
    expect(sample(text, 'nudge_metrics_read_ok{part="engine"}')).toBe(1);
    expect(sample(text, 'nudge_metrics_read_ok{part="capture"}')).toBe(1);
    // No replication gauges under capture: outbox.
    expect(text).not.toMatch(/^nudge_replication_/m);
    expect(sample(text, 'nudge_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(text).toMatch(/^nudge_nodejs_eventloop_lag_p99_seconds /m);
    expect(text).toMatch(/^# TYPE nudge_ingest_accepted_total counter$/m);
  });

  it('says which part it could not read, and shows no stale value for it', async () => {
    const down = postgres('postgres://nobody@127.0.0.1:1/none', {
      connect_timeout: 2,
      max: 1,
      onnotice: () => {},
    });
    try {
      const text = await scrape(await serverFor({ DATABASE_URL: db.url }, down));
      expect(sample(text, 'nudge_metrics_read_ok{part="capture"}')).toBe(0);
      expect(sample(text, 'nudge_capture_pending')).toBeUndefined();
      expect(sample(text, 'nudge_metrics_read_ok{part="engine"}')).toBe(1);
      expect(sample(text, 'nudge_inbox_pending')).toBe(2);
    } finally {
      await down.end({ timeout: 1 });
    }
  });
});

describe('GET /v1/overview/checks', () => {
  it('runs the checks of nudge doctor against the database', async () => {
    const server = await serverFor({ DATABASE_URL: db.url });
    const { checks } = await get<DoctorChecks>(server, '/v1/overview/checks');
    expect(checks).toContainEqual(
      expect.objectContaining({ section: 'Database', outcome: 'ok', label: 'Connection' }),
    );
    // The server stored its ingest secret with a key this project cannot
    // find: the check fails, and says what to do.
    expect(checks).toContainEqual(
      expect.objectContaining({
        section: 'Engine store',
        outcome: 'fail',
        label: 'Secrets',
        fix: expect.stringContaining('master key'),
      }),
    );
    // An ok line carries no fix; every warn and fail carries one.
    for (const check of checks) {
      if (check.outcome === 'ok') expect(check.fix).toBeNull();
      if (check.outcome === 'warn' || check.outcome === 'fail') expect(check.fix).toBeTruthy();
    }
  });

  it('answers the last run, and a run made after the request when asked for fresh checks', async () => {
    const server = await serverFor({ DATABASE_URL: db.url });
    const first = await get<DoctorChecks>(server, '/v1/overview/checks');
    const again = await get<DoctorChecks>(server, '/v1/overview/checks');
    expect(again.at).toBe(first.at);
    const asked = Date.now();
    const fresh = await get<DoctorChecks>(server, '/v1/overview/checks?fresh');
    expect(Date.parse(fresh.at)).toBeGreaterThanOrEqual(asked);
    expect(fresh.checks).toContainEqual(expect.objectContaining({ label: 'Connection' }));
    expect((await get<DoctorChecks>(server, '/v1/overview/checks')).at).toBe(fresh.at);
  });

  it('says what is wrong, and the fix, without a database', async () => {
    const server = await serverFor({});
    const { checks } = await get<DoctorChecks>(server, '/v1/overview/checks');
    expect(checks[0]).toEqual({
      section: 'Database',
      outcome: 'fail',
      label: 'Database',
      message: 'no database configured',
      fix: expect.stringContaining('nudge dev'),
    });
  });
});
