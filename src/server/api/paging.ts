// Contact queries as PostgREST answers them: rows as a JSON array, the window
// from limit/offset and the Range header (intersected, capped at MAX_ROWS),
// Content-Range on every answer, the total with `Prefer: count=exact`, and
// 206 / 416 when the total says the answer is partial / past the end, and
// the next page's `after=` cursor in x-nudge-next. Its select= and order=
// name only fields the contact book has (known-fields.ts).
import type { Context } from 'hono';
import type postgres from 'postgres';
import { numberedParams } from '../../conditions/index.js';
import {
  type AttributeTypes,
  afterCondition,
  type ContactQuery,
  compileWhere,
  cursorOf,
} from '../../contacts/query.js';
import { HttpError } from '../http-error.js';
import { badQuery, searchError } from './input.js';
import { pageOf as keysetPage } from './keyset.js';
import { checkViewFields } from './known-fields.js';
import { compileView } from './view.js';

/** Hosted PostgREST's default cap, which Supabase users know. */
export const MAX_ROWS = 1000;

export interface Page {
  offset: number;
  limit: number;
  count: boolean;
}

/** The window a request asks for. */
export function pageOf(c: Context, query: ContactQuery): Page {
  let from = query.offset ?? 0;
  let to = query.limit === undefined ? Number.POSITIVE_INFINITY : from + query.limit - 1;
  const range = c.req.header('range');
  if (range !== undefined) {
    const match = /^\s*(?:items=)?(\d{1,12})-(\d{0,12})\s*$/.exec(range);
    if (!match) {
      throw new HttpError(
        400,
        'bad_range',
        `Range: expected "0-24" (items, inclusive), got "${range}"`,
      );
    }
    const start = Number(match[1]);
    const end = match[2] ? Number(match[2]) : Number.POSITIVE_INFINITY;
    if (end < start) throw new HttpError(400, 'bad_range', `Range: ${range} ends before it starts`);
    from = Math.max(from, start);
    to = Math.min(to, end);
  }
  to = Math.min(to, from + MAX_ROWS - 1);
  const prefer = c.req.header('prefer') ?? '';
  return {
    offset: from,
    limit: Math.max(0, to - from + 1),
    count: /(^|[,\s])count=(exact|planned|estimated)\b/.test(prefer),
  };
}

export interface ContactsRequest {
  /** ANDed: e.g. a segment's query and the request's. */
  filters: ContactQuery[];
  /** select, order and after come from here. */
  view: ContactQuery;
  /** Only members of this static list. */
  listId?: string;
  attributes: AttributeTypes;
  page: Page;
}

/** The statements of a contacts request: rows (the page) and count (every match). */
export function contactsSql(request: ContactsRequest): {
  rows: { text: string; values: unknown[] };
  count: { text: string; values: unknown[] };
} {
  const params = numberedParams();
  const ctx = { attributes: request.attributes, params };
  let where = compileWhere(request.filters, ctx);
  if (request.listId) {
    where += ` AND EXISTS (SELECT 1 FROM nudge_engine.list_members m
      WHERE m.list_id = ${params.param(request.listId, 'uuid')} AND m.contact_id = c.id)`;
  }
  // The rows after the cursor, counted too: the total is of those left.
  const after = afterCondition(request.view, ctx);
  if (after !== undefined) where += ` AND ${after}`;
  const count = {
    text: `SELECT count(*) AS total FROM nudge_engine.contacts c WHERE ${where}`,
    values: [...params.values],
  };
  const view = compileView(request.view, ctx);
  const limit = params.param(String(request.page.limit), 'integer');
  const offset = params.param(String(request.page.offset), 'integer');
  const rows = {
    text: `SELECT ${view.projection} AS row, ${view.cursor} AS cursor FROM nudge_engine.contacts c
      WHERE ${where} ORDER BY ${view.orderBy} LIMIT ${limit} OFFSET ${offset}`,
    values: params.values,
  };
  return { rows, count };
}

/** A row of a contacts answer, and its order keys' values for a cursor (orderSql). */
interface ContactRow {
  row: unknown;
  cursor: unknown[];
}

/**
 * The page and the total. With a total, both are read in one read-only
 * transaction, so they come from one snapshot (the total counts the rows the
 * page was cut from), and without a parallel plan: a count is one scan of
 * the contact book, and a worker to help with it costs more to start than it
 * saves at the sizes this serves — measured at 100k contacts, the Lists
 * page's live count took 45 ms with the worker PostgreSQL chose and 28 ms
 * without (docs/benchmarks.md). A page alone is one statement.
 */
export async function runContacts(
  sql: postgres.Sql,
  request: ContactsRequest,
): Promise<{ rows: ContactRow[]; total: number | null }> {
  let statements: ReturnType<typeof contactsSql>;
  try {
    statements = contactsSql(request);
  } catch (error) {
    badQuery(error);
  }
  await checkViewFields(sql, request.view, request.attributes);
  const read = async (db: postgres.Sql | postgres.TransactionSql) => {
    const run = <T extends object>(statement: { text: string; values: unknown[] }) =>
      db.unsafe<T[]>(statement.text, statement.values as never[]);
    const rows = request.page.limit === 0 ? [] : await run<ContactRow>(statements.rows);
    let total: number | null = null;
    if (request.page.count) {
      const [counted] = await run<{ total: string }>(statements.count);
      total = Number(counted?.total ?? 0);
    }
    return { rows, total };
  };
  try {
    if (!request.page.count) return await read(sql);
    return await sql.begin('read only', async (tx) => {
      await tx.unsafe('SET LOCAL max_parallel_workers_per_gather = 0');
      return read(tx);
    });
  } catch (error) {
    searchError(request.filters, error);
  }
}

/** The header a contacts answer gives the next page's `after=` cursor in; absent on the last page. */
const NEXT_HEADER = 'x-nudge-next';

/**
 * A page of contacts as PostgREST answers it, read one row past the window:
 * when that row is there, the cursor of the page's last row goes in
 * NEXT_HEADER. With `after=`, the rows are those after the cursor, so
 * Content-Range counts from it (`0-24/*` on every page) and a total with
 * `Prefer: count=exact` is of the contacts left from the cursor on.
 */
export async function respondContacts(
  c: Context,
  sql: postgres.Sql,
  request: ContactsRequest,
  warnings: Promise<string[]> | string[] = [],
): Promise<Response> {
  const { view, page } = request;
  const [result, told] = await Promise.all([
    runContacts(sql, { ...request, page: { ...page, limit: page.limit + 1 } }),
    warnings,
  ]);
  const cursor = cursorOf(view);
  const cut = keysetPage(result.rows, page.limit, (last) => cursor(last.cursor));
  if (cut.next !== null) c.header(NEXT_HEADER, cut.next);
  const rows = cut.page.map((r) => r.row);
  return respondPage(c, page, { rows, total: result.total }, told);
}

/** The header a contacts answer names its warnings in: a counted query (conditionWarnings), an upsert (identitiesKept). */
export const WARNINGS_HEADER = 'x-nudge-warnings';

/** Warnings as WARNINGS_HEADER carries them: a JSON array of strings, in ASCII (\u escapes: a header carries no other text). */
export function warningsHeader(warnings: string[]): string {
  return JSON.stringify(warnings).replace(
    /[^\x20-\x7e]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * The JSON array with Content-Range (and 206/416 when the total is known);
 * `warnings`, when there are any, in WARNINGS_HEADER (warningsHeader).
 */
export function respondPage(
  c: Context,
  page: Page,
  result: { rows: unknown[]; total: number | null },
  warnings: string[] = [],
): Response {
  const { rows, total } = result;
  const totalText = total === null ? '*' : String(total);
  const headers: Record<string, string> = { 'range-unit': 'items' };
  if (warnings.length > 0) headers[WARNINGS_HEADER] = warningsHeader(warnings);
  if (page.count) headers['preference-applied'] = 'count=exact';
  if (total !== null && page.offset > total) {
    headers['content-range'] = `*/${totalText}`;
    return c.json(
      {
        error: 'range_not_satisfiable',
        detail: `offset ${page.offset} is past the last of ${total} contacts`,
      },
      416,
      headers,
    );
  }
  headers['content-range'] =
    rows.length === 0
      ? `*/${totalText}`
      : `${page.offset}-${page.offset + rows.length - 1}/${totalText}`;
  const partial = total !== null && rows.length < total;
  return c.json(rows, partial ? 206 : 200, headers);
}
