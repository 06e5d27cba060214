// What is waiting in nudge.failed_events: the rows a capture trigger could not
// capture (stage 'capture'; the webhook transport's dispatch failures are the
// reconciler's, webhook/delivery.ts), how many on which table and operation,
// since when, and the latest error. `nudge doctor` ("Capture failures") and
// GET /v1/overview both read it here; `nudge capture retry` (retry.ts)
// delivers them.
import type postgres from 'postgres';
import { formatTableName } from '../../source/names.js';
import type { Operation } from '../triggers.js';

/** The rows of one (table, operation) a trigger could not capture. */
export interface FailureGroup {
  schema: string;
  table: string;
  operation: Operation;
  rows: number;
  /** When the first of them failed (the writing transaction's start). */
  since: Date;
  /** The latest of them: its error as recorded (a retry that failed records its own). */
  latest: FailureError;
}

export interface FailureError {
  at: Date;
  sqlstate: string | null;
  message: string | null;
  /** PostgreSQL's context of the error: the statements it was raised in, innermost first. */
  context?: string | null;
}

export type FailureSummary =
  /** nudge.failed_events exists: what it holds (no groups: nothing failed). */
  | { table: true; rows: number; groups: FailureGroup[] }
  /** It does not: `deployed` says whether a deploy made the schema (then it was dropped by hand). */
  | { table: false; deployed: boolean };

/** The rows capture triggers could not capture, by table and operation, the oldest failure first. */
export async function readFailures(sql: postgres.Sql): Promise<FailureSummary> {
  const [where] = await sql<{ table: boolean; deployed: boolean }[]>`
    select to_regclass('nudge.failed_events') is not null as table,
           to_regclass('nudge.schema_migrations') is not null as deployed`;
  if (!where?.table) return { table: false, deployed: where?.deployed ?? false };
  const groups = await sql<
    {
      schema_name: string;
      table_name: string;
      operation: Operation;
      rows: number;
      since: Date;
      latest_at: Date;
      sqlstate: string | null;
      message: string | null;
      context: string | null;
    }[]
  >`
    select g.schema_name, g.table_name, g.operation, g.rows, g.since,
           l.failed_at as latest_at, l.sqlstate, l.message, l.context
      from (select schema_name, table_name, operation, count(*)::int as rows,
                   min(failed_at) as since, max(id) as latest_id
              from nudge.failed_events
             where stage = 'capture' and resolved_at is null
             group by schema_name, table_name, operation) as g
      join nudge.failed_events as l on l.id = g.latest_id
     order by g.since, g.schema_name, g.table_name, g.operation`;
  return {
    table: true,
    rows: groups.reduce((sum, g) => sum + g.rows, 0),
    groups: groups.map((g) => ({
      schema: g.schema_name,
      table: g.table_name,
      operation: g.operation,
      rows: g.rows,
      since: g.since,
      latest: { at: g.latest_at, sqlstate: g.sqlstate, message: g.message, context: g.context },
    })),
  };
}

/** The group whose failure is the most recent: the error to show first. */
export function latestGroup(groups: FailureGroup[]): FailureGroup | undefined {
  let latest: FailureGroup | undefined;
  for (const group of groups) {
    if (!latest || group.latest.at > latest.latest.at) latest = group;
  }
  return latest;
}

/** `23514 value for domain ... violates check constraint "..."`: the error as one line. */
export function errorText(error: Pick<FailureError, 'sqlstate' | 'message'>): string {
  const message = (error.message ?? 'no message recorded').split('\n')[0]!;
  return error.sqlstate ? `${error.sqlstate} ${message}` : message;
}

/**
 * Where the error was raised, from its context, when that says more than the
 * message: the enrichment whose query failed (`in the enrichment reading
 * public.accounts by ref`), else the innermost statement that is not the
 * capture's own write. Undefined when the context names nothing else.
 */
export function failurePlace(context: string | null | undefined): string | undefined {
  if (!context) return undefined;
  const statements = [...context.matchAll(/SQL statement "([\s\S]*?)"\n/g)].map((m) => m[1]!);
  const inner = statements[0];
  if (!inner || /^\s*INSERT INTO nudge\./i.test(inner)) return undefined;
  if (context.includes('nudge.enrich(')) {
    const read = /FROM (.+?) AS t WHERE t\.(.+?) = /.exec(inner);
    if (read) return `in the enrichment reading ${read[1]} by ${read[2]}`;
    return `in an enrichment: ${short(inner)}`;
  }
  return `in: ${short(inner)}`;
}

function short(statement: string): string {
  const line = statement.replace(/\s+/g, ' ').trim();
  return line.length > 100 ? `${line.slice(0, 99)}…` : line;
}

/** `public.orders update`: a capture, as doctor, the engine's log and `nudge capture retry` name it. */
export function captureName(failure: { schema: string; table: string; operation: string }): string {
  return `${formatTableName(failure)} ${failure.operation}`;
}

/** A group's latest error and where it was raised: `22012 division by zero (in the enrichment reading public.accounts by ref)`. */
export function latestErrorText(group: FailureGroup): string {
  const place = failurePlace(group.latest.context);
  return `${errorText(group.latest)}${place ? ` (${place})` : ''}`;
}

/** "2026-03-01 09:00:00 UTC": a failure's time as doctor and the CLI print it, the same wherever they run. */
export function failedAtText(at: Date): string {
  return `${at.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
