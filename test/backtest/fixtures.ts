// What the backtest tests set up: events kept in the engine's inbox as the
// engine leaves them (processed, received when they occurred), and projects.
import type postgres from 'postgres';
import { type InboxEvent, insertInbox } from '../../src/engine/intake/inbox.js';

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
