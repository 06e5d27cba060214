// Shared set-up for the action tests: a project loaded from a nudge.yaml in a
// temp dir, an ActionEnv that records its log, a graphile-worker runner, and
// waiting on a run's status or reading its next job (no sleeps).
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Runner, run } from 'graphile-worker';
import type postgres from 'postgres';
import { expect } from 'vitest';
import { enqueueActions } from '../../src/actions/queue.js';
import { actionTasks } from '../../src/actions/task.js';
import type { ActionEnv, NewActionRun, TemplateContext } from '../../src/actions/types.js';
import { type LoadedConfig, loadConfig } from '../../src/config/load.js';
import { quietLogger, WORKER_SCHEMA } from '../../src/db/migrate.js';
import { manualClock } from '../../src/engine/wiring/clock.js';
import { workerPool } from '../../src/engine/wiring/job-runner.js';
import type { Action } from '../../src/features/schema.js';

/** Secrets the tests hand to the config through ${ENV}; none may reach a log or last_error. */
export const SECRETS = {
  RESEND_API_KEY: `re_${randomBytes(12).toString('hex')}`,
  WEBHOOK_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
  SERVICE_ROLE_KEY: `service-${randomBytes(12).toString('hex')}`,
  SMTP_PASSWORD: `smtp-${randomBytes(8).toString('hex')}`,
};

export async function makeProject(
  yaml: string,
  templates: Record<string, string> = {},
): Promise<LoadedConfig> {
  const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-actions-'));
  await writeFile(path.join(cwd, 'nudge.yaml'), yaml);
  for (const [name, text] of Object.entries(templates)) {
    const file = path.join(cwd, 'nudge/templates', name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, text);
  }
  return loadConfig({ cwd, env: { ...SECRETS } });
}

export interface LogLine {
  level: string;
  message: string;
  fields?: Record<string, unknown>;
}

export function makeEnv(sql: postgres.Sql, project: LoadedConfig) {
  const logs: LogLine[] = [];
  const env: ActionEnv & { logs: LogLine[] } = {
    sql,
    project,
    clock: manualClock(new Date('2026-03-01T12:00:00Z')),
    log: (level, message, fields) => logs.push({ level, message, ...(fields ? { fields } : {}) }),
    logs,
  };
  return env;
}

/** A job runner for the actions, on a pool of its own that stop() ends too. */
export async function startWorker(url: string, env: ActionEnv): Promise<Runner> {
  const pool = workerPool(url, 4, () => {});
  const runner = await run({
    pgPool: pool,
    schema: WORKER_SCHEMA,
    taskList: actionTasks(env),
    concurrency: 2,
    pollInterval: 100,
    noHandleSignals: true,
    logger: quietLogger(),
  });
  const stop = runner.stop.bind(runner);
  return Object.assign(runner, {
    stop: async () => {
      await stop();
      await pool.end();
    },
  });
}

let serial = 0;
export function uniqueKey(label: string): string {
  serial += 1;
  return `test:${label}:${serial}:${randomBytes(3).toString('hex')}`;
}

export function newRun(
  key: string,
  action: Action,
  context: Partial<TemplateContext> = {},
  contactId: string | null = null,
): NewActionRun {
  return {
    key,
    feature: 'test-feature',
    contactId,
    stage: 'first',
    action,
    context: { contact: null, ...context },
  };
}

export function enqueue(sql: postgres.Sql, runs: NewActionRun[], options?: { runAt?: Date }) {
  return sql.begin((tx) => enqueueActions(tx, runs, options));
}

export interface RunRow {
  id: string;
  key: string;
  status: string;
  attempts: number;
  last_error: string | null;
  result: unknown;
  completed_at: Date | null;
  updated_at: Date;
}

/** Polls the run until its status is one of `statuses`; fails with the last row seen. */
export async function waitForRun(
  sql: postgres.Sql,
  key: string,
  statuses: string[],
  timeoutMs = 15_000,
): Promise<RunRow> {
  const deadline = Date.now() + timeoutMs;
  let last: RunRow | undefined;
  for (;;) {
    [last] = await sql<RunRow[]>`
      select id, key, status, attempts, last_error, result, completed_at, updated_at
        from nudge_engine.action_runs where key = ${key}`;
    if (last && statuses.includes(last.status)) return last;
    if (Date.now() > deadline) {
      throw new Error(`run ${key} did not reach ${statuses.join('/')}: ${JSON.stringify(last)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface Schedule {
  /** The next job's run_at minus the run's updated_at (when the failure was recorded). */
  delayMs: number;
  attempts: number;
  lastError: string | null;
  runAt: Date;
}

/** The job that will make (or is making) the run's next attempt, against the failure it follows. */
export async function nextAttempt(sql: postgres.Sql, key: string): Promise<Schedule> {
  const [row] = await sql<
    { delay_ms: number; attempts: number; last_error: string | null; run_at: Date }[]
  >`
    select (extract(epoch from j.run_at - r.updated_at) * 1000)::float8 as delay_ms,
           r.attempts, r.last_error, j.run_at
      from nudge_engine.action_runs r
      join ${sql(WORKER_SCHEMA)}.jobs j on j.key = 'action:' || r.key
     where r.key = ${key}`;
  if (!row) throw new Error(`no job for run ${key}`);
  return {
    delayMs: row.delay_ms,
    attempts: row.attempts,
    lastError: row.last_error,
    runAt: row.run_at,
  };
}

/** No log line and no run's last_error or result contains a secret. */
export async function expectNoSecretLeaks(sql: postgres.Sql, logs: LogLine[]) {
  const [row] = await sql<{ text: string }[]>`
    select coalesce(string_agg(coalesce(last_error, '') || ' ' || coalesce(result::text, ''), ' '), '') as text
      from nudge_engine.action_runs`;
  const text = row?.text ?? '';
  const logged = JSON.stringify(logs);
  for (const secret of Object.values(SECRETS)) {
    expect(logged).not.toContain(secret);
    expect(text).not.toContain(secret);
  }
}
