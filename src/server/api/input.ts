// Reading what a /v1 request sends: the JSON body (size-capped while it
// streams, 400 when it is not JSON, 422 naming the first wrong field, an
// unknown one with the field it likely is), query parameters in order, and
// the mapping of query errors to 400.
import type { Context, MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { durationProblem, parseDuration } from '../../config/duration-text.js';
import { type ContactQuery, QueryError, queryStringEntries } from '../../contacts/query.js';
import { didYouMean } from '../../suggest.js';
import { keysAt } from '../../zod-words.js';
import { fieldOf, issueMessage, parseJson, readCapped } from '../body.js';
import { HttpError } from '../http-error.js';

/** The body as JSON, whatever its Content-Type says; undefined when there is none. */
export async function readJson(c: Context, limit: number): Promise<unknown> {
  const text = await readCapped(c.req.raw, limit);
  if (text.trim() === '') return undefined;
  return parseJson(text, c.req.header('content-type'));
}

/**
 * Every /v1 route: a path segment or query parameter holding U+0000 is a 400
 * (PostgreSQL text cannot hold it; it would fail in the database as a 500).
 */
export const refuseNulInUrl: MiddlewareHandler = async (c, next) => {
  const url = new URL(c.req.url);
  const parts = [...url.pathname.split('/').map(decodedOrRaw), ...[...url.searchParams].flat()];
  if (parts.some((part) => part.includes('\u0000'))) {
    throw new HttpError(400, 'invalid_text', 'the URL holds U+0000 (NUL), which cannot be stored');
  }
  await next();
};

function decodedOrRaw(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * Validates a body; the first problem becomes a 422 naming its field. An
 * unknown field comes first: a misspelt `evnt` also leaves `event` missing,
 * and the typo is what to fix.
 */
export function validate<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const { issues } = result.error;
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const key = issue.keys[0] ?? '';
    const field = fieldOf([...issue.path, key === '' ? '(a field with no name)' : key]);
    throw invalid(field, `unknown field${fieldsHint(key, keysAt(schema, issue.path))}`);
  }
  const issue = issues[0];
  throw invalid(fieldOf(issue?.path ?? []), issue ? issueMessage(issue, value) : 'invalid');
}

/**
 * Names other tracking APIs (Segment, Customer.io, PostHog) give a field
 * that is spelt too differently here for a did-you-mean to find it.
 */
const CALLED_ELSEWHERE: Record<string, string> = {
  name: 'event',
  event_name: 'event',
  type: 'event',
  timestamp: 'occurred_at',
  time: 'occurred_at',
  data: 'properties',
  attributes: 'properties',
  user_id: 'external_id',
  userId: 'external_id',
};

/**
 * After "unknown field": the field it likely is, in nudge.yaml's words
 * (` (did you mean "email"?)`), or else the fields there are.
 */
function fieldsHint(key: string, fields: string[]): string {
  const guess = key === '' ? '' : didYouMean(key, fields);
  if (guess) return guess;
  const called = CALLED_ELSEWHERE[key];
  if (called && fields.includes(called)) return ` (did you mean "${called}"?)`;
  return fields.length > 0 ? `; expected ${fields.join(', ')}` : '; expected no fields';
}

/** For z.strictObject(..., { error }): the message for a non-object, zod's own otherwise. */
export function expectedObject(message: string) {
  return (issue: { code?: string }) => (issue.code === 'invalid_type' ? message : undefined);
}

/**
 * The body of a route that takes nothing (a feature's pause and resume, the
 * clock's reset): no body, or `{}`. A field is refused rather than ignored,
 * as every route's unknown field is: `{ "reason": "…" }` would otherwise
 * look kept, and a body that is not JSON would look understood.
 */
export const noBody = z
  .strictObject({}, { error: expectedObject('expected no body, or {}') })
  .optional();

export function invalid(field: string, problem: string): HttpError {
  return new HttpError(422, 'invalid_body', `${field}: ${problem}`);
}

/**
 * Query parameters in the order written (repeats kept), `+` read as PostgREST
 * reads it; an escape that is no UTF-8 text (`?%ff=eq.1`) is a 400 naming
 * the parameter, not a filter on a field named U+FFFD (queryStringEntries).
 */
export function queryEntries(c: Context): [string, string][] {
  try {
    return queryStringEntries(new URL(c.req.url).search);
  } catch (error) {
    badQuery(error);
  }
}

/**
 * The query parameters a route takes, as middleware: a name it does not take,
 * or one given twice, is a 400 naming it — read as nothing, a typo of a
 * filter (`?featur=drip`) would answer everything, unfiltered, and a repeat
 * would answer by one of the two values. (The PostgREST routes read every
 * other name as a filter on a field instead: contactQueryEntries.)
 */
export function takes(...names: string[]): MiddlewareHandler {
  const known = new Set(names);
  const taken = names.length > 0 ? `it takes ${names.join(', ')}` : 'it takes none';
  return async (c, next) => {
    const entries = queryEntries(c);
    for (const [name] of entries) {
      if (!known.has(name)) {
        throw new HttpError(
          400,
          'bad_query',
          `${shownName(name)}: not a parameter of ${c.req.method} ${c.req.path}; ${taken}`,
        );
      }
    }
    refuseRepeats(entries, () => false);
    await next();
  };
}

/**
 * The parameters of a contact query that take one value: the window and the
 * fields shown. Every other name may come again — a filter on a field
 * (`created_at=gte.…&created_at=lt.…`) or a group (`or=`) is ANDed with the
 * others, and a second `order` adds its keys after the first's, as
 * `order=a,b` does (what PostgREST clients that send one `order` per key mean).
 */
const ONE_VALUE_IN_A_CONTACT_QUERY = new Set(['select', 'limit', 'offset']);

/**
 * The parameters of a contact query (GET /v1/contacts, a list's members) in
 * order, as queryEntries reads them; `select`, `limit` or `offset` given
 * twice is a 400 naming it, as any parameter of the other routes is (takes).
 */
export function contactQueryEntries(c: Context): [string, string][] {
  const entries = queryEntries(c);
  refuseRepeats(entries, (name) => !ONE_VALUE_IN_A_CONTACT_QUERY.has(name));
  return entries;
}

/**
 * The one rule for a repeated parameter, on every /v1 route that reads the
 * query: one that takes a single value, given more than once, is a 400
 * naming it. Taking the first or the last would answer a request the caller
 * may not have meant (`limit=5&limit=500`), without a word.
 */
function refuseRepeats(entries: [string, string][], repeatable: (name: string) => boolean): void {
  const seen = new Set<string>();
  for (const [name] of entries) {
    if (seen.has(name) && !repeatable(name)) {
      throw new HttpError(
        400,
        'bad_query',
        `${shownName(name)}: given more than once; give it once`,
      );
    }
    seen.add(name);
  }
}

function shownName(name: string): string {
  return name === '' ? '(a parameter with no name)' : name;
}

/** Runs `fn`, turning a QueryError into 400 bad_query naming the parameter. */
export function badQuery(error: unknown): never {
  if (error instanceof QueryError) throw new HttpError(400, 'bad_query', error.message);
  throw error;
}

/**
 * PostgreSQL's own complaint about the full-text terms of contact queries —
 * tsquery syntax (42601), an unknown text search language (42704), a bad
 * value for a type (22P02) — as one sentence; undefined for any other error,
 * or when no query carries full-text terms (then those codes mean a fault of
 * ours, not of the request).
 */
export function searchRefusal(queries: ContactQuery[], error: unknown): string | undefined {
  if (!queries.some((q) => q.searches.length > 0 || q.groupSearches.size > 0)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (code !== '42601' && code !== '42704' && code !== '22P02') return undefined;
  return `full-text search: ${(error as Error).message}`;
}

/** searchRefusal as a 400 bad_query; any other error as it is. */
export function searchError(queries: ContactQuery[], error: unknown): never {
  const refusal = searchRefusal(queries, error);
  if (refusal) throw new HttpError(400, 'bad_query', refusal);
  throw error;
}

/**
 * A duration query parameter (`2h`, `7d`) in ms, or undefined when absent;
 * 400 naming it otherwise, and past 36500d (`since=99999999999w` reaches
 * back before the earliest date there is: a 500 in the database), in the
 * CLI's words (config/duration-text.ts).
 */
export function durationQuery(text: string | undefined, name: string): number | undefined {
  if (text === undefined || text === '') return undefined;
  const problem = durationProblem(text);
  if (problem) throw new HttpError(400, 'bad_query', `${name}: ${problem}, got "${text}"`);
  return parseDuration(text);
}
