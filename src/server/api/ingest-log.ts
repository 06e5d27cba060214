// GET /v1/ingest: the raw ingest log — every captured change and tracked
// event as it reached the engine's inbox (whatever brought it: the outbox
// pump, the webhook ingest, the API), newest first, keyset-paged on the
// inbox id, filtered by source, table or event, and time received; with
// when it was processed and in which lane.
import { Hono } from 'hono';
import type postgres from 'postgres';
import { INGEST_SOURCES, type IngestPage, type IngestRecord } from '../../client/dashboard.js';
import { HttpError } from '../http-error.js';
import type { ApiEnv } from './auth.js';
import { timeOf } from './decisions.js';
import { takes } from './input.js';
import { limitOf, pageOf, wholeNumber } from './keyset.js';

const DEFAULT_LIMIT = 50;

type Row = Omit<IngestRecord, 'occurred_at' | 'received_at' | 'processed_at'> & {
  occurred_at: Date;
  received_at: Date;
  processed_at: Date | null;
};

export function ingestLogRoutes(options: { sql: postgres.Sql }): Hono<ApiEnv> {
  const { sql } = options;
  const api = new Hono<ApiEnv>();
  api.get('/', takes('source', 'subject', 'from', 'to', 'before', 'limit'), async (c) => {
    const before = wholeNumber(c.req.query('before'), 'before');
    const limit = limitOf(c.req.query('limit'), DEFAULT_LIMIT);
    const from = timeOf(c.req.query('from'), 'from');
    const to = timeOf(c.req.query('to'), 'to');
    const source = c.req.query('source') || undefined;
    if (source && !(INGEST_SOURCES as readonly string[]).includes(source)) {
      throw new HttpError(
        400,
        'bad_query',
        `source: expected one of ${INGEST_SOURCES.join(', ')}, got "${source}"`,
      );
    }
    // `public.orders` (a table), or an event name (`order_placed`, `user.signed_up`).
    const subject = c.req.query('subject')?.trim() || undefined;
    const dot = subject?.indexOf('.') ?? -1;
    const rows = await sql<Row[]>`
      select i.id::float8 as id, i.source, i.source_key, i.schema_name, i.table_name, i.operation,
             i.event_name, i.new_row, i.old_row, i.occurred_at, i.received_at, i.processed_at,
             i.partition::int as lane
        from nudge_engine.inbox i
       where true
         ${source ? sql`and i.source = ${source}` : sql``}
         ${
           subject
             ? dot > 0
               ? sql`and ((i.schema_name = ${subject.slice(0, dot)} and i.table_name = ${subject.slice(dot + 1)})
                          or i.event_name = ${subject})`
               : sql`and (i.event_name = ${subject} or i.table_name = ${subject})`
             : sql``
         }
         ${from ? sql`and i.received_at >= ${from}` : sql``}
         ${to ? sql`and i.received_at < ${to}` : sql``}
         ${before !== undefined ? sql`and i.id < ${before}` : sql``}
       order by i.id desc limit ${limit + 1}`;
    const { page, next } = pageOf(rows, limit);
    return c.json({
      items: page.map((row) => ({
        ...row,
        occurred_at: row.occurred_at.toISOString(),
        received_at: row.received_at.toISOString(),
        processed_at: row.processed_at ? row.processed_at.toISOString() : null,
      })),
      next,
    } satisfies IngestPage);
  });
  return api;
}
