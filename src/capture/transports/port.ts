// The port a capture transport implements: given what one (table, operation)
// captures, write the body of its trigger function. Three implementations,
// one file each: the outbox (JSON into nudge.event_log), typed rows (a rows
// table per capture) and the webhook (pg_net). Adding a transport is one file
// here and one line where triggers.ts picks it. Every body keeps the rule of
// plpgsql.ts: it never fails the user's write.
import type { TableName } from '../../source/names.js';
import type { Operation } from '../triggers.js';

export interface CaptureTransport {
  /** Shown in the plan after the trigger's level, e.g. `webhook via pg_net`; none for the outbox. */
  label?: string;
  body(spec: TriggerBodySpec): string;
}

/** What a transport is told about the capture it writes a body for. */
export interface TriggerBodySpec {
  table: TableName;
  operation: Operation;
  level: 'statement' | 'row';
  /** The transition table a statement-level body reads (alias it `n`: filters refer to n.*). */
  rows: string;
  /** A SQL predicate over NEW/OLD (row level) or n (statement level); undefined keeps every row. */
  filter: string | undefined;
  enrich: boolean;
  /**
   * The captured row as JSON (jsonb when asked), from a row alias: `n`, `NEW`
   * or `OLD`: only the columns the capture copies (columns.ts). `present`:
   * read them by name from the row as it is now, so a column dropped since
   * the deploy cannot make it fail (for fallbacks).
   */
  json(alias: string, options?: { jsonb?: boolean; present?: boolean }): string;
}
