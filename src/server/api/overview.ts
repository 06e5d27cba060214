// GET /v1/overview: what the dashboard's first page shows — the source
// database (host, version, role; never its credentials), access mode, the
// capture transport and schema, the last deployment, the lag (captured rows
// not consumed yet and the age of the oldest; rows a trigger could not
// capture, waiting for `nudge capture retry`), the engine's backlog, actions
// retrying or dead, the engine clock, the engine processes and the lanes,
// events per minute over the last hour, action attempts done and failed per
// minute over the engine clock's last hour, and the transport's own part
// under its name (capture: replication: the slot's health;
// transports/port.ts Transport.overview). Each part is
// read on its own, so a source that does not answer still leaves the rest of
// the page. GET /v1/overview/checks answers the checks of `nudge doctor`
// (the last run; ?fresh runs them now).
import { Hono } from 'hono';
import type postgres from 'postgres';
import { latestGroup, readFailures } from '../../capture/failures/summary.js';
import { readSchemaState } from '../../capture/schema.js';
import {
  oldestPendingInSource,
  pendingInSource,
  TRANSPORTS,
} from '../../capture/transports/index.js';
import type { DoctorCheck, DoctorChecks, Overview, Unreadable } from '../../client/dashboard.js';
import type { LoadedConfig } from '../../config/load.js';
import { runDoctor } from '../../doctor/checks.js';
import { featurePauses } from '../../engine/match/pauses.js';
import { engineNowSql } from '../../engine/wiring/clock.js';
import type { Feature } from '../../features/load.js';
import { formatTableName } from '../../source/names.js';
import type { ApiEnv } from './auth.js';
import { takes } from './input.js';

export interface OverviewApiOptions {
  sql: postgres.Sql;
  /** The user's database. */
  source: postgres.Sql;
  sourceUrl: string;
  project: LoadedConfig;
  features: Feature[];
  /** Where the engine keeps its state, in words (EngineStore.describe). */
  store: string;
}

export function overviewRoutes(options: OverviewApiOptions): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();
  api.get('/', takes(), async (c) => {
    const name = options.project.config.capture.transport;
    const transport = TRANSPORTS[name];
    const [source, capture, engine, activity, own] = await Promise.all([
      part(() => sourceFacts(options)),
      part(() => captureFacts(options.source)),
      part(() => engineFacts(options)),
      part(() => activityFacts(options.sql)),
      part(async () => transport.overview?.({ source: options.source, project: options.project })),
    ]);
    return c.json({
      access: options.project.config.access,
      transport: transportOf(options.project.config.capture),
      store: options.store,
      source,
      capture,
      ...(own ? { [name]: own } : {}),
      engine,
      activity,
    } satisfies Overview);
  });

  // The checks of `nudge doctor`, in the order it prints them (see doctorChecks below).
  const checks = doctorChecks(() => runChecks(options.project));
  api.get('/checks', takes('fresh'), async (c) =>
    c.json(await checks(c.req.query('fresh') !== undefined)),
  );
  return api;
}

/** How old the last run of the checks may be before a read starts the next (ms). */
const CHECKS_REFRESH_MS = 30_000;

/**
 * The checks are a connection test, not a query: new connections to both
 * databases, the catalog, the features' plan — a few hundred milliseconds,
 * and work for the user's database. So a read answers the last run (its `at`
 * says when) and, when that run is older than CHECKS_REFRESH_MS, starts the
 * next in the background for the following read; at most one runs at a time.
 * The first read waits for a run, and so does a `fresh` one (the page's
 * "Check again"), which gets a run that started after it asked.
 */
function doctorChecks(run: () => Promise<DoctorChecks>) {
  let last: DoctorChecks | undefined;
  let running: Promise<DoctorChecks> | undefined;
  const start = () => {
    running ??= run()
      .then((checks) => {
        last = checks;
        return checks;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  return async (fresh: boolean): Promise<DoctorChecks> => {
    if (fresh) {
      await running?.catch(() => {});
      return start();
    }
    if (!last) return start();
    if (Date.now() - Date.parse(last.at) > CHECKS_REFRESH_MS) start().catch(() => {});
    return last;
  };
}

/** Runs every check of `nudge doctor` now. */
async function runChecks(project: LoadedConfig): Promise<DoctorChecks> {
  const checks: DoctorCheck[] = [];
  let section = '';
  await runDoctor(project, {
    say: (outcome, label, message, fix, items) =>
      checks.push({
        section,
        outcome,
        label,
        message,
        ...(items?.length ? { items: [...items] } : {}),
        fix: fix && outcome !== 'ok' ? fix : null,
      }),
    section: (title) => {
      section = title;
    },
    skip: (message) => checks.push({ section, outcome: 'skipped', label: '', message, fix: null }),
    gap: () => {},
  });
  return { checks, at: new Date().toISOString() };
}

/** A part of the page, or the one-line reason it could not be read. */
async function part<T>(read: () => Promise<T>): Promise<T | { error: string }> {
  try {
    return await read();
  } catch (error) {
    return { error: (error as Error).message.split('\n')[0] ?? 'failed' };
  }
}

async function sourceFacts({ source, sourceUrl }: OverviewApiOptions) {
  const url = new URL(sourceUrl);
  const [facts] = await source<
    { role: string; version: string; wal_level: string; pg_net: boolean; database: string }[]
  >`
    select current_user as role, current_database() as database,
           current_setting('server_version') as version, current_setting('wal_level') as wal_level,
           exists (select from pg_extension where extname = 'pg_net') as pg_net`;
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : 5432,
    database: facts!.database,
    role: facts!.role,
    version: facts!.version,
    wal_level: facts!.wal_level,
    pg_net: facts!.pg_net,
  };
}

/** The capture's part: the nudge schema, the last deployment, the backlog in the source (also GET /metrics). */
export async function captureFacts(source: postgres.Sql) {
  const schema = await readSchemaState(source);
  if (!schema.exists) {
    return {
      schema,
      deployment: null,
      pending: 0,
      oldest_at: null,
      not_captured: { rows: 0, since: null, latest: null },
    };
  }
  const [deployment] = await source<{ id: number; at: Date; summary: unknown }[]>`
    select d.id::int as id, deployed_at as at, summary from nudge.deployments d order by d.id desc limit 1`;
  const oldest = await oldestPendingInSource(source);
  return {
    schema,
    deployment: deployment
      ? { id: deployment.id, at: deployment.at.toISOString(), summary: deployment.summary }
      : null,
    pending: await pendingInSource(source),
    oldest_at: oldest ? oldest.toISOString() : null,
    not_captured: await notCaptured(source),
  };
}

/** Rows capture triggers could not capture (as doctor's Capture failures counts them), and the latest. */
async function notCaptured(source: postgres.Sql): Promise<CaptureFacts['not_captured']> {
  const failures = await readFailures(source);
  if (!failures.table || failures.rows === 0) return { rows: 0, since: null, latest: null };
  const latest = latestGroup(failures.groups)!;
  return {
    rows: failures.rows,
    since: failures.groups[0]!.since.toISOString(),
    latest: {
      at: latest.latest.at.toISOString(),
      table: formatTableName(latest),
      operation: latest.operation,
      sqlstate: latest.latest.sqlstate,
      message: latest.latest.message,
    },
  };
}

/**
 * Events received, actions done and failed attempts per minute, the last 60
 * minutes, oldest first — on two clocks, each series on one. Events are
 * counted by when the inbox received them: real time, from `from`. Actions
 * and failures are the action attempts in the decision log (outcome
 * `attempt`, one row per attempt with its status), counted at the minute
 * each attempt was made: the engine clock (the demo moves it ahead), the
 * engine's last hour, from `engine_from`. A run's own row keeps only its
 * latest status, so counting runs would lose a failed attempt once a replay
 * or a retry succeeded. The attempts are read by an index of the log's
 * attempts alone (migration 024): the hour's attempts, not its decisions.
 */
async function activityFacts(sql: postgres.Sql) {
  const rows = await sql<
    {
      minute: Date;
      engine_minute: Date;
      events: number;
      actions: number;
      failures: number;
    }[]
  >`
    with starts as (
      select date_trunc('minute', now()) - interval '59 minutes' as real_from,
             date_trunc('minute', ${engineNowSql(sql)}) - interval '59 minutes' as engine_from
    ), minutes as (
      select i, real_from + i * interval '1 minute' as minute,
             engine_from + i * interval '1 minute' as engine_minute
        from starts, generate_series(0, 59) i
    ), received as (
      select date_trunc('minute', received_at) as minute, count(*)::int as n
        from nudge_engine.inbox
       where received_at >= (select real_from from starts)
       group by 1
    ), attempts as (
      select date_trunc('minute', at) as minute,
             count(*) filter (where detail ->> 'status' = 'succeeded')::int as done,
             count(*) filter (where detail ->> 'status' in ('retrying', 'dead'))::int as failed
        from nudge_engine.decisions
       where outcome = 'attempt'
         and at >= (select engine_from from starts)
         and at < (select engine_from + interval '60 minutes' from starts)
       group by 1
    )
    select m.minute, m.engine_minute, coalesce(r.n, 0) as events,
           coalesce(a.done, 0) as actions, coalesce(a.failed, 0) as failures
      from minutes m
      left join received r on r.minute = m.minute
      left join attempts a on a.minute = m.engine_minute
     order by m.i`;
  return {
    from: rows[0]!.minute.toISOString(),
    events: rows.map((r) => r.events),
    engine_from: rows[0]!.engine_minute.toISOString(),
    actions: rows.map((r) => r.actions),
    failures: rows.map((r) => r.failures),
  };
}

/** The engine's part: backlog, actions, features, clock, processes, lanes (also GET /metrics). */
export async function engineFacts({
  sql,
  features,
  project,
}: Pick<OverviewApiOptions, 'sql' | 'features' | 'project'>) {
  const [row] = await sql<
    {
      inbox: number;
      oldest: Date | null;
      retrying: number;
      dead: number;
      offset_ms: string | null;
    }[]
  >`
    select (select count(*) from nudge_engine.inbox where processed_at is null)::int as inbox,
           (select min(received_at) from nudge_engine.inbox where processed_at is null) as oldest,
           (select count(*) from nudge_engine.action_runs where status = 'retrying')::int as retrying,
           (select count(*) from nudge_engine.action_runs where status = 'dead')::int as dead,
           (select offset_ms::text from nudge_engine.clock limit 1) as offset_ms`;
  const paused = new Set((await featurePauses(sql)).map((p) => p.feature));
  const count = (status: string) =>
    features.filter((f) =>
      status === 'paused'
        ? f.status === 'paused' || (f.status === 'active' && paused.has(f.name))
        : status === 'active'
          ? f.status === 'active' && !paused.has(f.name)
          : f.status === status,
    ).length;
  const offset = Number(row?.offset_ms ?? 0);
  const processes = await sql<
    { host: string; pid: number; pools: number; started_at: Date; heartbeat_at: Date }[]
  >`
    select host, pid, count(*)::int as pools, min(started_at) as started_at,
           max(heartbeat_at) as heartbeat_at
      from nudge_engine.workers group by host, pid order by min(started_at)`;
  const partitions = project.config.engine?.partitions ?? 2;
  const waiting = await sql<{ lane: number; pending: number; oldest: Date }[]>`
    select partition::int as lane, count(*)::int as pending, min(received_at) as oldest
      from nudge_engine.inbox where processed_at is null group by partition`;
  const lanes = Array.from({ length: partitions }, (_, lane) => lane);
  for (const row of waiting) if (!lanes.includes(row.lane)) lanes.push(row.lane);
  return {
    processes: processes.map((p) => ({
      host: p.host,
      pid: p.pid,
      pools: p.pools,
      started_at: p.started_at.toISOString(),
      heartbeat_at: p.heartbeat_at.toISOString(),
    })),
    lanes: lanes.map((lane) => {
      const row = waiting.find((w) => w.lane === lane);
      return {
        lane,
        running: lane < partitions,
        pending: row?.pending ?? 0,
        oldest_at: row ? row.oldest.toISOString() : null,
      };
    }),
    inbox_pending: row?.inbox ?? 0,
    inbox_oldest_at: row?.oldest ? row.oldest.toISOString() : null,
    actions: { retrying: row?.retrying ?? 0, dead: row?.dead ?? 0 },
    features: { active: count('active'), paused: count('paused'), draft: count('draft') },
    clock: { now: new Date(Date.now() + offset).toISOString(), offset_ms: offset },
  };
}

type CaptureFacts = Exclude<Overview['capture'], Unreadable>;

/** `capture: outbox` or `capture: { transport: outbox, ... }`. */
function transportOf(capture: unknown): string {
  return typeof capture === 'string'
    ? capture
    : String((capture as { transport?: unknown } | undefined)?.transport ?? 'outbox');
}
