// How the decision log stores what it says. Every candidate feature of every
// event gets its outcome and reason, but the features an event skipped before
// a contact was looked up (trigger condition false, paused, no contact value)
// share one row: on a table with 20 features, one row per event instead of
// 19, which was most of the log's write cost (docs/architecture.md). The
// readers (nudge logs, nudge dev) show that row as one line per feature.
// A paused feature's skip is the exception: its contact is looked up (never
// created, event.ts), and one the contact book has makes the skip a row
// of its own with that contact_id, so every reader finds it by contact. For
// one the book lacks, the skip stays on the shared row and names whom its
// event was for as the event's row gives it (detail.contacts), the way the
// readers name a contact on every other line.
// An attempt made after its run was replayed is known by its number
// starting again (replaysOf), and said to be one by every reader.

import type postgres from 'postgres';
import { type ContactIdentity, normalizeEmail } from '../../contacts/store.js';
import type { Decision } from '../journeys/machine.js';
import { engineNowSql } from '../wiring/clock.js';

/** The features skipped together, feature → reason, in a row's detail. */
export interface SkippedDetail {
  skipped: Record<string, string>;
}

/**
 * Whom paused features' skips were for, feature → contact, as the event's row
 * names them (contactNamed): those whose contact the book lacks.
 */
export type SkippedFor = { contacts?: Record<string, string> };

/**
 * A contact as the readers name one (readDecisions' `contact`): its email,
 * else its external id, else its auth user id — here from the identity an
 * event's row gives, before any contact is looked up —, else its phone.
 */
export function contactNamed(identity: ContactIdentity): string | undefined {
  return (
    normalizeEmail(identity.email) ??
    (identity.externalId || identity.authUserId || identity.phone || undefined)
  );
}

/**
 * One decision for the features `skips` names, feature → reason (a plain one
 * when it is a single feature), with `contacts`, feature → the contact it was
 * for, where known (a paused feature's whose contact the book lacks, as its
 * contact mapping reads the event): the readers name that contact on its
 * line, and the event on the others.
 */
export function skippedTogether(
  at: Date,
  inboxId: number,
  skips: Map<string, string>,
  contacts?: Record<string, string>,
): Decision {
  const whom: SkippedFor | undefined =
    contacts && Object.keys(contacts).length ? { contacts } : undefined;
  if (skips.size === 1) {
    const [feature, reason] = [...skips][0]!;
    return {
      at,
      inboxId,
      feature,
      contactId: null,
      outcome: 'skipped',
      reason,
      ...(whom ? { detail: whom } : {}),
    };
  }
  return {
    at,
    inboxId,
    feature: null,
    contactId: null,
    outcome: 'skipped',
    reason: `${skips.size} features skipped`,
    detail: { skipped: Object.fromEntries(skips), ...whom } satisfies SkippedDetail & SkippedFor,
  };
}

/**
 * A stored decision as the lines it stands for: a row of skips becomes one
 * line per feature (only `feature`'s when given), each naming the contact it
 * was for when the row knows it (a row read with a `contact`), any other row
 * itself.
 */
export function decisionLines<
  T extends { feature: string | null; reason: string; detail?: unknown },
>(row: T, feature?: string): T[] {
  const detail = row.detail as (Partial<SkippedDetail> & SkippedFor) | null | undefined;
  const skipped = detail?.skipped;
  if (row.feature !== null || !skipped || typeof skipped !== 'object') return [row];
  return Object.entries(skipped)
    .filter(([name]) => feature === undefined || name === feature)
    .map(([name, reason]) => {
      const contact = 'contact' in row && detail?.contacts?.[name];
      return { ...row, feature: name, reason, detail: null, ...(contact ? { contact } : {}) };
    });
}

/** A stored decision as the readers show it: the contact by email, the action run's state. */
export interface DecisionRow {
  id: number;
  at: Date;
  feature: string | null;
  contact_id: string | null;
  /**
   * The contact's email, else its external id, else its auth user id, else
   * its id; for a paused feature's skip of a contact the book lacks, the one
   * its event named (SkippedFor); a row of skips names each on its line (decisionLines).
   */
  contact: string | null;
  outcome: string;
  reason: string;
  detail: Record<string, unknown> | null;
  status: string | null;
  attempts: number | null;
  last_error: string | null;
  /** The event decided on: `insert on auth.users`, `event order_placed`, `backfill: insert on auth.users`; null once the inbox row is gone. */
  event: string | null;
}

export interface DecisionFilter {
  /** A feature's decisions, its share of rows of skips included. */
  feature?: string;
  /** A contact by email, external id, id or auth user id. */
  contact?: string;
  outcome?: string;
  /** Decided within the last this many milliseconds. */
  sinceMs?: number;
  /** Decided at or after this time. */
  from?: Date;
  /** Decided before this time. */
  to?: Date;
}

type Page = { before?: number; limit: number } | { after: number };

/**
 * Decisions matching `filter`, keyset-paged on id: the `limit` newest below
 * `before` (newest first), or every one above `after` (oldest first).
 *
 * A feature's page (without a contact, which its own index finds faster) is
 * read from the index on (feature, outcome, id): one short backwards scan
 * per outcome the feature has (found by skipping through the index), merged;
 * then the rows of skips that name the feature (feature null, outcome
 * skipped), only as far back as that page reaches. Walking the primary key
 * instead reads every newer decision of other features first.
 */
export async function readDecisions(
  sql: postgres.Sql,
  filter: DecisionFilter,
  page: Page,
): Promise<DecisionRow[]> {
  const ids =
    filter.feature && !filter.contact?.trim() && !('after' in page)
      ? await featurePage(sql, filter.feature, filter, page)
      : undefined;
  return sql<DecisionRow[]>`
    select d.id::float8 as id, d.at, d.feature, d.contact_id,
           coalesce(c.email, c.external_id, c.auth_user_id::text, d.contact_id::text,
                    d.detail -> 'contacts' ->> d.feature) as contact,
           d.outcome, d.reason, d.detail, r.status, r.attempts, r.last_error,
           case when i.source = 'backfill' then 'backfill: ' else '' end ||
           case when i.table_name is not null
                then i.operation || ' on ' || i.schema_name || '.' || i.table_name
                when i.event_name is not null then 'event ' || i.event_name end as event
      from nudge_engine.decisions d
      left join nudge_engine.contacts c on c.id = d.contact_id
      left join nudge_engine.action_runs r on r.key = d.detail ->> 'key'
      left join nudge_engine.inbox i on i.id = d.inbox_id
     where ${ids ? sql`d.id = any(${ids}::bigint[])` : matching(sql, filter)}
       ${
         ids
           ? sql`order by d.id desc`
           : 'after' in page
             ? sql`and d.id > ${page.after} order by d.id`
             : sql`${page.before !== undefined ? sql`and d.id < ${page.before}` : sql``}
                 order by d.id desc limit ${page.limit}`
       }`;
}

/** The ids of a feature's page, newest first (see readDecisions). */
async function featurePage(
  sql: postgres.Sql,
  feature: string,
  filter: DecisionFilter,
  page: { before?: number; limit: number },
): Promise<string[]> {
  const below = page.before !== undefined ? sql`and d.id < ${page.before}` : sql``;
  const shared = filter.outcome === undefined || filter.outcome === 'skipped';
  const rows = await sql<{ id: string }[]>`
    with recursive outcomes (outcome) as (
      ${
        filter.outcome
          ? sql`select ${filter.outcome}::text`
          : sql`select min(outcome) from nudge_engine.decisions where feature = ${feature}
                union all
                select (select min(d.outcome) from nudge_engine.decisions d
                         where d.feature = ${feature} and d.outcome > o.outcome)
                  from outcomes o where o.outcome is not null`
      }
    ), own as (
      select p.id from outcomes o cross join lateral (
        select d.id from nudge_engine.decisions d
         where d.feature = ${feature} and d.outcome = o.outcome ${below} ${times(sql, filter)}
         order by d.id desc limit ${page.limit}) p
       where o.outcome is not null
       order by p.id desc limit ${page.limit}
    ), reach as (
      select case when count(*) = ${page.limit} then min(id) else 0 end as id from own
    )
    select id from own
    ${
      shared
        ? sql`union all
              (select d.id from nudge_engine.decisions d
                where d.feature is null and d.outcome = 'skipped' and d.detail -> 'skipped' ? ${feature}
                  and d.id > (select id from reach) ${below} ${times(sql, filter)}
                order by d.id desc limit ${page.limit})`
        : sql``
    }
    order by 1 desc`;
  return rows.slice(0, page.limit).map((row) => row.id);
}

function matching(sql: postgres.Sql, filter: DecisionFilter) {
  const contact = filter.contact?.trim();
  return sql`true
       ${
         filter.feature
           ? sql`and (d.feature = ${filter.feature}
                      or (d.feature is null and d.detail -> 'skipped' ? ${filter.feature}))`
           : sql``
       }
       ${
         contact
           ? UUID.test(contact)
             ? sql`and (d.contact_id = ${contact}::uuid or c.auth_user_id = ${contact}::uuid
                        or c.external_id = ${contact})`
             : sql`and (c.email = ${contact.toLowerCase()} or c.external_id = ${contact})`
           : sql``
       }
       ${filter.outcome ? sql`and d.outcome = ${filter.outcome}` : sql``}
       ${times(sql, filter)}`;
}

function times(sql: postgres.Sql, filter: DecisionFilter) {
  // Back from the engine clock's now: decisions are stamped on it (nudge clock moves it).
  return sql`${filter.sinceMs !== undefined ? sql`and d.at > ${engineNowSql(sql)} - ${filter.sinceMs / 1000} * interval '1 second'` : sql``}
       ${filter.from ? sql`and d.at >= ${filter.from}` : sql``}
       ${filter.to ? sql`and d.at < ${filter.to}` : sql``}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** "replayed", "replayed 2 times": as the dashboard's Actions page says it. */
export function replayedWords(times: number): string {
  return times === 1 ? 'replayed' : `replayed ${times} times`;
}

/** What replaysOf reads of a decision row. */
export type ReplayableRow = Pick<DecisionRow, 'id' | 'outcome' | 'feature'> & { detail: unknown };

/**
 * Which replay of its run each attempt among `rows` was made after, by
 * decision id (only those made after one). A replay resets the run's attempt
 * count, and each attempt's decision keeps the number it had
 * (actions/task.ts): in a run's attempts, in the order they were made, an
 * attempt numbered no higher than the one before it is the first after a
 * replay. Only runs replayed at all are looked at (action_runs.replays; most
 * pages have none, and cost one lookup by key), and their attempts are found
 * through their feature's decisions (the index on feature, outcome, id). An
 * attempt whose run's earlier attempts are past the decision log's retention
 * is not known to follow a replay.
 */
export async function replaysOf(
  sql: postgres.Sql,
  rows: ReplayableRow[],
): Promise<Map<number, number>> {
  const attempts = rows.flatMap((row) => {
    const key = (row.detail as { key?: unknown } | null)?.key;
    return row.outcome === 'attempt' && typeof key === 'string' ? [{ ...row, key }] : [];
  });
  if (attempts.length === 0) return new Map();
  const keys = [...new Set(attempts.map((row) => row.key))];
  const replayed = await sql<{ key: string }[]>`
    select key from nudge_engine.action_runs where key = any(${keys}::text[]) and replays > 0`;
  if (replayed.length === 0) return new Map();
  const ids = attempts.map((row) => row.id);
  const features = [...new Set(attempts.flatMap((row) => (row.feature ? [row.feature] : [])))];
  const featureless = attempts.some((row) => row.feature === null);
  const found = await sql<{ id: number; replay: number }[]>`
    with attempts as (
      select d.id, d.detail ->> 'key' as key,
             (d.detail ->> 'attempt')::int <= lag((d.detail ->> 'attempt')::int)
               over (partition by d.detail ->> 'key' order by d.id) as restarted
        from nudge_engine.decisions d
       where d.outcome = 'attempt'
         and (d.feature = any(${features}::text[]) ${featureless ? sql`or d.feature is null` : sql``})
         and d.detail ->> 'key' = any(${replayed.map((run) => run.key)}::text[])
         and d.id <= ${Math.max(...ids)}
    ), counted as (
      select id, count(*) filter (where restarted) over (partition by key order by id) as replay
        from attempts
    )
    select id::int as id, replay::int as replay from counted
     where id = any(${ids}::bigint[]) and replay > 0`;
  return new Map(found.map((row) => [row.id, row.replay]));
}

/** The newest decision's id (0 for none): where a tail of the log starts. */
export async function newestDecisionId(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<{ id: number }[]>`
    select coalesce(max(id), 0)::float8 as id from nudge_engine.decisions`;
  return row?.id ?? 0;
}
