// A contact's timeline, newest first: events, journeys (by their last move),
// decisions and action runs, merged and paged by a cursor over (at, kind,
// key) so a page never repeats or skips an item when new ones arrive. A page
// reads one item more than it shows and pageOf cuts it, as every list does
// (keyset.ts): `next` is given only when an older item is there.
import type postgres from 'postgres';
import { HttpError } from '../http-error.js';
import { pageOf } from './keyset.js';

export interface TimelineItem {
  kind: 'event' | 'journey' | 'decision' | 'action';
  at: string;
  [field: string]: unknown;
}

export interface TimelinePage {
  items: TimelineItem[];
  /** Pass as `before` for the next (older) page; null at the end. */
  next: string | null;
}

type Cursor = [at: string, kind: string, key: string];

export function parseCursor(text: string | undefined): Cursor | null {
  // Empty, as a form sends it, is not given (as every list's before).
  if (text === undefined || text === '') return null;
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(value) &&
      value.length === 3 &&
      value.every((part) => typeof part === 'string') &&
      AT_FORMAT.test(value[0] as string) &&
      !Number.isNaN(Date.parse(value[0] as string))
    ) {
      return value as Cursor;
    }
  } catch {
    // fall through
  }
  throw new HttpError(400, 'bad_query', 'before: not a cursor this API returned (timeline.next)');
}

/** The times a cursor holds, as AT_TEXT writes them (a year PostgreSQL cannot hold is no cursor of ours). */
const AT_FORMAT = /^(?!0000)\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

const AT_TEXT = `to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export async function timelineOf(
  sql: postgres.Sql,
  contactId: string,
  limit: number,
  before: Cursor | null,
): Promise<TimelinePage> {
  const [at, kind, cursorKey] = before ?? [null, null, null];
  // Rows of one time are ordered by id; the key is the id padded so that text
  // order is number order (a journey's key is its feature). A cursor made
  // before ids were padded is padded here (a padded one stays as it is).
  const key = kind !== 'journey' && cursorKey ? cursorKey.padStart(20, '0') : cursorKey;
  const idKey = (alias: string) => `lpad(${alias}.id::text, 20, '0')`;
  // Each branch takes at most `limit` + 1 of its own newest rows, through its
  // (contact_id, time) index; the merge then keeps the newest `limit` + 1:
  // the page, and whether anything is older.
  const read = limit + 1;
  // The cursor's time goes as text, cast in SQL: a parameter typed
  // timestamptz would pass through a JavaScript Date, which keeps
  // milliseconds, and skip the rows of the cursor's own millisecond.
  const older = (column: string, kindName: string, keyColumn: string) =>
    sql`(${at}::text is null or (${sql.unsafe(column)}, ${kindName}::text, ${sql.unsafe(keyColumn)}) < (${at}::text::timestamptz, ${kind}::text, ${key}::text))`;
  const rows = await sql<
    { kind: TimelineItem['kind']; at_text: string; key: string; item: object }[]
  >`
    select kind, ${sql.unsafe(AT_TEXT)} as at_text, key, item from (
      (select 'event' as kind, e.occurred_at as at, ${sql.unsafe(idKey('e'))} as key,
              jsonb_build_object('id', e.id, 'name', e.name, 'properties', e.properties,
                                 'source', e.source, 'received_at', e.received_at) as item
         from nudge_engine.events e
        where e.contact_id = ${contactId} and ${older('e.occurred_at', 'event', idKey('e'))}
        order by e.occurred_at desc, e.id desc limit ${read})
      union all
      (select 'journey', j.updated_at, j.feature,
              jsonb_build_object('feature', j.feature, 'status', j.status, 'stage', j.stage,
                                 'entries', j.entries, 'entered_at', j.entered_at,
                                 'ended_at', j.ended_at, 'wake_at', j.wake_at)
         from nudge_engine.journeys j
        where j.contact_id = ${contactId} and ${older('j.updated_at', 'journey', 'j.feature')}
        order by j.updated_at desc, j.feature desc limit ${read})
      union all
      (select 'decision', d.at, ${sql.unsafe(idKey('d'))},
              jsonb_build_object('id', d.id, 'feature', d.feature, 'outcome', d.outcome,
                                 'reason', d.reason, 'detail', d.detail)
         from nudge_engine.decisions d
        where d.contact_id = ${contactId} and ${older('d.at', 'decision', idKey('d'))}
        order by d.at desc, d.id desc limit ${read})
      union all
      (select 'action', r.created_at, ${sql.unsafe(idKey('r'))},
              jsonb_build_object('id', r.id, 'key', r.key, 'feature', r.feature, 'stage', r.stage,
                                 'action', r.kind, 'status', r.status, 'attempts', r.attempts,
                                 'last_error', r.last_error, 'completed_at', r.completed_at)
         from nudge_engine.action_runs r
        where r.contact_id = ${contactId} and ${older('r.created_at', 'action', idKey('r'))}
        order by r.created_at desc, r.id desc limit ${read})
    ) t
    order by at desc, kind desc, key desc
    limit ${read}`;
  const { page, next } = pageOf(rows, limit, (last) =>
    Buffer.from(JSON.stringify([last.at_text, last.kind, last.key])).toString('base64url'),
  );
  return { items: page.map((row) => ({ kind: row.kind, at: row.at_text, ...row.item })), next };
}
