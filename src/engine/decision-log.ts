// How the decision log stores what it says. Every candidate feature of every
// event gets its outcome and reason, but the features an event skipped before
// a contact was looked up (trigger condition false, paused, no contact value)
// share one row: on a table with 20 features, one row per event instead of
// 19, which was most of the log's write cost (docs/architecture.md). The
// readers (nudge logs, nudge dev) show that row as one line per feature.

import type postgres from 'postgres';
import type { Decision } from './journeys/machine.js';

/** The features skipped together, feature → reason, in a row's detail. */
export interface SkippedDetail {
  skipped: Record<string, string>;
}

/** One decision for the features `skips` names (a plain one when it is a single feature). */
export function skippedTogether(at: Date, inboxId: number, skips: Map<string, string>): Decision {
  if (skips.size === 1) {
    const [feature, reason] = [...skips][0]!;
    return { at, inboxId, feature, contactId: null, outcome: 'skipped', reason };
  }
  return {
    at,
    inboxId,
    feature: null,
    contactId: null,
    outcome: 'skipped',
    reason: `${skips.size} features skipped`,
    detail: { skipped: Object.fromEntries(skips) } satisfies SkippedDetail,
  };
}

/**
 * A stored decision as the lines it stands for: a row of skips becomes one
 * line per feature (only `feature`'s when given), any other row itself.
 */
export function decisionLines<
  T extends { feature: string | null; reason: string; detail?: unknown },
>(row: T, feature?: string): T[] {
  const skipped = (row.detail as Partial<SkippedDetail> | null | undefined)?.skipped;
  if (row.feature !== null || !skipped || typeof skipped !== 'object') return [row];
  return Object.entries(skipped)
    .filter(([name]) => feature === undefined || name === feature)
    .map(([name, reason]) => ({ ...row, feature: name, reason, detail: null }));
}

/** A stored decision as the readers show it: the contact by email, the action run's state. */
export interface DecisionRow {
  id: number;
  at: Date;
  feature: string | null;
  contact_id: string | null;
  /** The contact's email, else its auth user id, else its id. */
  contact: string | null;
  outcome: string;
  reason: string;
  detail: Record<string, unknown> | null;
  status: string | null;
  attempts: number | null;
  last_error: string | null;
  /** The event decided on: `insert on auth.users`, `event order_placed`; null once the inbox row is gone. */
  event: string | null;
}

export interface DecisionFilter {
  /** A feature's decisions, its share of rows of skips included. */
  feature?: string;
  /** A contact by email, id or auth user id. */
  contact?: string;
  outcome?: string;
  /** Decided within the last this many milliseconds. */
  sinceMs?: number;
}

/**
 * Decisions matching `filter`, keyset-paged on id: the `limit` newest below
 * `before` (newest first), or every one above `after` (oldest first).
 */
export function readDecisions(
  sql: postgres.Sql,
  filter: DecisionFilter,
  page: { before?: number; limit: number } | { after: number },
): Promise<DecisionRow[]> {
  const contact = filter.contact?.trim();
  return sql<DecisionRow[]>`
    select d.id::int as id, d.at, d.feature, d.contact_id,
           coalesce(c.email, c.auth_user_id::text, d.contact_id::text) as contact,
           d.outcome, d.reason, d.detail, r.status, r.attempts, r.last_error,
           case when i.table_name is not null
                then i.operation || ' on ' || i.schema_name || '.' || i.table_name
                when i.event_name is not null then 'event ' || i.event_name end as event
      from nudge_engine.decisions d
      left join nudge_engine.contacts c on c.id = d.contact_id
      left join nudge_engine.action_runs r on r.key = d.detail ->> 'key'
      left join nudge_engine.inbox i on i.id = d.inbox_id
     where true
       ${
         filter.feature
           ? sql`and (d.feature = ${filter.feature}
                      or (d.feature is null and d.detail -> 'skipped' ? ${filter.feature}))`
           : sql``
       }
       ${
         contact
           ? UUID.test(contact)
             ? sql`and (d.contact_id = ${contact}::uuid or c.auth_user_id = ${contact}::uuid)`
             : sql`and c.email = ${contact.toLowerCase()}`
           : sql``
       }
       ${filter.outcome ? sql`and d.outcome = ${filter.outcome}` : sql``}
       ${filter.sinceMs !== undefined ? sql`and d.at > now() - ${filter.sinceMs / 1000} * interval '1 second'` : sql``}
       ${
         'after' in page
           ? sql`and d.id > ${page.after} order by d.id`
           : sql`${page.before !== undefined ? sql`and d.id < ${page.before}` : sql``}
                 order by d.id desc limit ${page.limit}`
       }`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
