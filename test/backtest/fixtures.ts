// What the backtest tests set up: events kept in the engine's inbox as the
// engine leaves them (processed, received when they occurred), and projects.
import type postgres from 'postgres';
import { expect } from 'vitest';
import type { BacktestReport } from '../../src/backtest/index.js';
import { backtest } from '../../src/cli/backtest.js';
import { memoryIo } from '../../src/cli/io.js';
import { type InboxEvent, insertInbox } from '../../src/engine/intake/inbox.js';
import { tempProject } from '../harness/project.js';

const DAY = 86_400_000;
const now = Date.now();
/** `n` days before the time the test file was loaded: one now for all its tests. */
export const daysAgo = (n: number) => new Date(now - n * DAY);

/** Keeps `events` (from the outbox) in the inbox, processed and received when they occurred. */
export async function keep(sql: postgres.Sql, events: Omit<InboxEvent, 'source'>[]): Promise<void> {
  await insertInbox(
    sql,
    events.map((e) => ({ source: 'outbox' as const, ...e })),
  );
  await sql`update nudge_engine.inbox set processed_at = occurred_at, received_at = occurred_at
             where processed_at is null`;
}

/** A project's files for tempProject (test/harness/project.ts): nudge.yaml and these feature files. */
export function projectFiles(
  config: string,
  features: Record<string, string>,
): Record<string, string> {
  const files: Record<string, string> = { 'nudge.yaml': config };
  for (const [file, text] of Object.entries(features)) files[`nudge/features/${file}`] = text;
  return files;
}

/** `nudge backtest <feature> --json` over a project of this nudge.yaml and these feature files. */
export async function backtestJson(
  url: string,
  config: string,
  features: Record<string, string>,
  feature: string,
  window: { since?: string; from?: string; to?: string },
): Promise<BacktestReport> {
  const cwd = await tempProject(projectFiles(config, features), 'nudge-backtest-');
  const out = memoryIo({ cwd, env: { DATABASE_URL: url } });
  expect(await backtest([feature], { ...window, json: true }, out.io)).toBe(0);
  return JSON.parse(out.stdout()) as BacktestReport;
}

/** A feature file of a feature on inserts into public.<table>, its contact by new.email, one stage. */
export function insertFeature(f: {
  name: string;
  table: string;
  when?: string;
  stage: string;
  action: string;
}): string {
  return `name: ${f.name}
trigger: { table: public.${f.table}, on: insert${f.when ? `, when: ${f.when}` : ''} }
contact: { email: new.email }
stages:
  - name: ${f.stage}
    do: [${f.action}]
`;
}
