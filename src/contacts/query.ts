// PostgREST query strings over the contact book — `plan=eq.pro&mrr=gt.100&
// or=(a.eq.1,b.gt.2)&order=mrr.desc&select=email,plan&limit=10` — parsed into
// the condition language (each filter is a condition on `contact.<field>`)
// and compiled to parameterized SQL over nudge_engine.contacts AS c.
//
// Fields are the identity columns (id, email, created_at, ...) or attributes,
// typed as nudge.yaml declares them (contacts.attributes; undeclared ones are
// the text of their value, which gt/gte/lt/lte refuse to order, as a
// feature's conditions do). Full-text operators (fts, plfts, phfts, wfts), which the condition
// language does not have, are handled here: a top-level one is ANDed in
// directly, where the GIN index of migrations 002/004 can serve it; one inside
// an or=/and= group becomes a synthetic boolean test whose column is the
// match expression, so the condition compiler still owns the logic.

import {
  type Condition,
  ConditionError,
  compileSql,
  type FieldRef,
  fieldsOf,
  numberedParams,
  type ParamSink,
  parseCondition,
  parseField,
  suggestedType,
  testsOf,
  type ValueType,
} from '../conditions/index.js';
import { ident } from '../db/quote.js';
/** Declared attribute types (nudge.yaml contacts.attributes). */
import type { AttributeTypes } from '../features/types.js';
import { afterSql, decodeCursor, encodeCursor } from './sql/after-cursor.js';

export type { AttributeTypes };

/** A query parameter the user wrote wrong; `param` names it. */
export class QueryError extends Error {
  override name = 'QueryError';
  constructor(
    readonly param: string,
    readonly problem: string,
  ) {
    super(`${param}: ${problem}`);
  }
}

export const IDENTITY_COLUMNS: Readonly<Record<string, ValueType>> = {
  id: 'uuid',
  auth_user_id: 'uuid',
  email: 'text',
  phone: 'text',
  external_id: 'text',
  attributes: 'jsonb',
  created_at: 'timestamptz',
  updated_at: 'timestamptz',
  deleted_at: 'timestamptz',
  last_event_at: 'timestamptz',
};

/** A contact as the API returns it (over contacts AS c). */
export const CONTACT_JSON = `jsonb_build_object('id', c.id, 'email', c.email, 'phone', c.phone,
  'auth_user_id', c.auth_user_id, 'external_id', c.external_id, 'attributes', c.attributes,
  'created_at', c.created_at, 'updated_at', c.updated_at, 'last_event_at', c.last_event_at,
  'deleted_at', c.deleted_at)`;

const SCOPES = ['contact'];
const GROUPS = new Set(['or', 'and', 'not.or', 'not.and']);
const VIEW_PARAMS = new Set(['select', 'order', 'limit', 'offset', 'after']);
const TSQUERY = {
  fts: 'to_tsquery',
  plfts: 'plainto_tsquery',
  phfts: 'phraseto_tsquery',
  wfts: 'websearch_to_tsquery',
} as const;
const FTS_FILTER = /^(not\.)?(fts|plfts|phfts|wfts)(?:\(([^)]*)\))?\.([\s\S]*)$/;
/** Synthetic columns of full-text tests inside groups; no user field may contain \u0001. */
const SEARCH_TOKEN = 'fts\u0001';

export interface TextSearch {
  param: string;
  field: 'email' | { attribute: string };
  op: keyof typeof TSQUERY;
  language: string;
  query: string;
  negated: boolean;
}

export interface OrderItem {
  field: FieldRef;
  descending: boolean;
  nulls?: 'first' | 'last';
}

export interface SelectItem {
  key: string;
  /** undefined: the whole contact (`*`). */
  field?: FieldRef;
}

export interface ContactQuery {
  /** ANDed; each keeps the parameter it came from, for errors. */
  filters: { param: string; condition: Condition }[];
  /** Top-level full-text tests, ANDed. */
  searches: TextSearch[];
  /** Full-text tests inside groups, by synthetic column. */
  groupSearches: Map<string, TextSearch>;
  order: OrderItem[];
  select?: SelectItem[];
  limit?: number;
  offset?: number;
  /** The cursor of the page before (`after=`): rows after its last (sql/after-cursor.ts). */
  after?: string;
}

/**
 * Parses query parameters in order. `filtersOnly` (segments, adding to a list
 * by condition) refuses select/order/limit/offset/after.
 */
export function parseContactQuery(
  entries: Iterable<readonly [string, string]>,
  options: { filtersOnly?: boolean } = {},
): ContactQuery {
  const query: ContactQuery = { filters: [], searches: [], groupSearches: new Map(), order: [] };
  for (const [param, value] of entries) {
    if (VIEW_PARAMS.has(param)) {
      if (options.filtersOnly) throw new QueryError(param, 'only filters are allowed here');
      if (param === 'select') query.select = parseSelect(value);
      else if (param === 'order') query.order.push(...parseOrder(value));
      else if (param === 'after') {
        if (query.after !== undefined)
          throw new QueryError(param, 'given more than once; give it once');
        query.after = value;
      } else query[param as 'limit' | 'offset'] = nonNegative(param, value);
      continue;
    }
    if (param.includes('\u0001')) throw new QueryError(param, 'control characters in a name');
    if (GROUPS.has(param)) {
      if (value.includes('\u0001')) throw new QueryError(param, 'control characters in a filter');
      const tree = rewriteGroup(value, param, query.groupSearches);
      query.filters.push({ param, condition: emailsLowerCased(parseGroup(param, tree)) });
      continue;
    }
    const search = textSearch(param, param, value);
    if (search) query.searches.push(search);
    else if (param === '')
      throw new QueryError(
        '(filter)',
        `no field before "=${value}": write <field>=<op>.<value>, e.g. plan=eq.pro`,
      );
    else
      query.filters.push({
        param,
        condition: emailsLowerCased(parse(param, { [`contact.${param}`]: value })),
      });
  }
  return query;
}

/**
 * The parameters of a query string (a URL's, or a segment's saved one) in
 * the order written, repeats kept, `+` read as a space and escapes decoded
 * as UTF-8, as URLSearchParams reads them — except an escape whose bytes are
 * not UTF-8 (`%ff`, or `%ad` of a like pattern `%ada%` written unescaped):
 * URLSearchParams reads it as U+FFFD, a field or value nobody wrote, and the
 * query would answer nothing, or everything, without a word. It is a
 * QueryError naming the parameter as written instead. A `%` not followed by
 * two hex digits stays as it is.
 */
export function queryStringEntries(text: string): [string, string][] {
  const entries: [string, string][] = [];
  for (const part of text.replace(/^\?/, '').split('&')) {
    if (part === '') continue;
    const equals = part.indexOf('=');
    const [name, value] = equals < 0 ? [part, ''] : [part.slice(0, equals), part.slice(equals + 1)];
    const decoded = percentDecoded(name, name);
    entries.push([decoded, percentDecoded(value, decoded)]);
  }
  return entries;
}

/** A saved segment's query string as a contact query (filters only). */
export function segmentQuery(query: string): ContactQuery {
  return parseContactQuery(queryStringEntries(query), { filtersOnly: true });
}

/**
 * Why a saved segment's query, as saved or parsed (segmentQuery), no longer
 * compiles with these attribute types (saved before a rule refused it:
 * ordering an attribute nudge.yaml does not declare); undefined when it
 * compiles. `nudge doctor` lists them.
 */
export function segmentProblem(
  query: string | ContactQuery,
  attributes: AttributeTypes,
): string | undefined {
  try {
    const segment = typeof query === 'string' ? segmentQuery(query) : query;
    compileWhere([segment], { attributes, params: numberedParams() });
    return undefined;
  } catch (error) {
    if (error instanceof QueryError) return error.message;
    throw error;
  }
}

/** Percent-escapes decoded as UTF-8; a `%` not followed by two hex digits is a `%`. */
function percentDecoded(text: string, param: string): string {
  const plain = text.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(plain.replace(/%(?![0-9a-fA-F]{2})/g, '%25'));
  } catch {
    // URIError: escapes whose bytes are no UTF-8 text.
    const shown = param === '' ? '(a parameter with no name)' : param;
    throw new QueryError(
      shown,
      `"${text}" holds a percent-escape that is no UTF-8 text; write a literal % as %25 (a like pattern takes * too)`,
    );
  }
}

/**
 * Emails are stored lower-cased (store.ts normalizeEmail), so a test of
 * `email` compares with its value lower-cased too: `email=eq.Ada@Example.com`
 * finds the contact GET /v1/contacts/Ada@Example.com and a list's `emails`
 * find, where compared as written it could match no one (and `neq` everyone).
 */
function emailsLowerCased(condition: Condition): Condition {
  for (const test of testsOf(condition)) {
    if (test.field.column !== 'email' || test.field.jsonPath.length > 0) continue;
    if (test.op === 'in') test.value = test.value.map((item) => item.toLowerCase());
    else if (test.op !== 'is') test.value = test.value.toLowerCase();
  }
  return condition;
}

function parse(param: string, value: Record<string, string>): Condition {
  try {
    return parseCondition(value, { scopes: SCOPES });
  } catch (error) {
    throw asQueryError(param, error);
  }
}

/**
 * A group as rewriteGroup left it, whose structure it has checked: what the
 * parser can still find wrong is in one of its filters, which it quotes as
 * rewritten (`in "contact.plan.eqq.pro": …`); said as sent (`in "plan.eqq.pro"`).
 */
function parseGroup(param: string, tree: string): Condition {
  try {
    return parseCondition({ [param]: tree }, { scopes: SCOPES });
  } catch (error) {
    if (!(error instanceof ConditionError)) throw error;
    throw new QueryError(param, error.message.replace(/^in "contact\./, 'in "'));
  }
}

function asQueryError(param: string, error: unknown): unknown {
  return error instanceof ConditionError ? new QueryError(param, error.message) : error;
}

/** The largest limit= and offset= taken (nine digits; paging.ts caps an answer at MAX_ROWS). */
const MAX_WINDOW = 999_999_999;

/** limit= or offset=, 0 to MAX_WINDOW. */
function nonNegative(param: string, value: string): number {
  const problem = outOfRange(value, 0, MAX_WINDOW);
  if (problem) throw new QueryError(param, problem);
  return Number(value);
}

/**
 * Why `text` is no whole number from `min` to `max`, or undefined when it is
 * one. Any other value is refused with the range, whatever is wrong with it:
 * -1 is a whole number, so "expected a whole number" would not say what to
 * send. Every ranged number of the API says it so (limit= and offset= here,
 * the lists' limit in server/api/keyset.ts).
 */
export function outOfRange(text: string, min: number, max: number): string | undefined {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (value >= min && value <= max) return undefined;
  return `expected a whole number from ${min} to ${max}, got "${text}"`;
}

/** `bio` + `not.wfts(english).cats -dogs` → a full-text test, or undefined for other filters. */
function textSearch(param: string, field: string, filter: string): TextSearch | undefined {
  const match = FTS_FILTER.exec(filter);
  if (!match) return undefined;
  const language = match[3] ?? 'simple';
  if (!/^[a-z_]{1,63}$/.test(language)) {
    throw new QueryError(
      param,
      `expected a text search language such as fts(english), got "${language}"`,
    );
  }
  if (field.includes('->')) {
    throw new QueryError(param, `${match[2]} works on email and text attributes, not JSON paths`);
  }
  if (field !== 'email' && Object.hasOwn(IDENTITY_COLUMNS, field)) {
    throw new QueryError(param, `${match[2]} works on email and text attributes, not ${field}`);
  }
  const query = match[4] ?? '';
  if (query.trim() === '')
    throw new QueryError(param, `${match[2]} needs search terms after the dot`);
  if (query.includes('\0')) throw new QueryError(param, 'search terms cannot contain NUL');
  return {
    param,
    field: field === 'email' ? 'email' : { attribute: field },
    op: match[2] as TextSearch['op'],
    language,
    query,
    negated: !!match[1],
  };
}

/**
 * Prefixes each leaf of a PostgREST group string with `contact.` and swaps
 * full-text leaves for synthetic tests. The errors of its structure are
 * found here, quoting what was sent: the condition parser would quote the
 * rewritten text, which the user never typed.
 */
function rewriteGroup(text: string, param: string, searches: Map<string, TextSearch>): string {
  if (!text.trimStart().startsWith('(')) {
    throw new QueryError(
      param,
      `expected "(<filter>,<filter>,...)", e.g. "(plan.eq.pro,mrr.gt.100)", got "${text}"`,
    );
  }
  let out = '';
  let itemStart = false;
  // Open groups; -1 before the first "(", 0 once the outer group is closed.
  let depth = -1;
  for (let i = 0; i < text.length; ) {
    const char = text[i]!;
    if (depth === 0 && char !== ' ') {
      throw new QueryError(
        param,
        `unexpected text after the closing parenthesis: "${text.slice(i)}"`,
      );
    }
    if (itemStart && char !== ' ') {
      const group = /^(not\.)?(and|or)\(/.exec(text.slice(i));
      if (group) {
        out += group[0];
        i += group[0].length;
        depth++;
        continue;
      }
      const end = leafEnd(text, i, param);
      out += rewriteLeaf(text.slice(i, end), param, searches);
      i = end;
      itemStart = false;
      continue;
    }
    if (char === '(') depth = Math.max(depth, 0) + 1;
    else if (char === ')') depth--;
    if (char === '(' || char === ',') itemStart = true;
    out += char;
    i++;
  }
  if (depth > 0) throw new QueryError(param, `missing ")" at the end of "${text}"`);
  return out;
}

/** Where a leaf ends: at "," or ")" outside quotes and in-lists. */
function leafEnd(text: string, start: number, param: string): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (char === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (i >= text.length) throw new QueryError(param, `unterminated quote in "${text}"`);
    } else if (char === '(') depth++;
    else if (char === ')') {
      if (depth === 0) return i;
      depth--;
    } else if (char === ',' && depth === 0) return i;
  }
  return text.length;
}

function rewriteLeaf(leaf: string, param: string, searches: Map<string, TextSearch>): string {
  const dot = leaf.indexOf('.');
  if (dot <= 0) {
    throw new QueryError(
      param,
      `expected "<field>.<op>.<value>", e.g. "plan.eq.pro", got "${leaf}"`,
    );
  }
  const field = leaf.slice(0, dot);
  const filter = leaf.slice(dot + 1);
  let search: TextSearch | undefined;
  try {
    search = textSearch(param, field, filter);
  } catch (error) {
    throw error instanceof QueryError
      ? new QueryError(param, `in "${leaf}": ${error.problem}`)
      : error;
  }
  if (!search) return `contact.${leaf}`;
  const column = `${SEARCH_TOKEN}${searches.size}`;
  searches.set(column, { ...search, query: unquote(search.query), negated: false });
  return `contact.${column}.${search.negated ? 'not.' : ''}is.true`;
}

function unquote(value: string): string {
  if (!value.startsWith('"') || !value.endsWith('"') || value.length < 2) return value;
  return value.slice(1, -1).replace(/\\(.)/g, '$1');
}

/** `mrr.desc.nullslast,created_at` */
function parseOrder(value: string): OrderItem[] {
  return value.split(',').map((raw) => {
    const parts = raw.trim().split('.');
    let nulls: OrderItem['nulls'];
    let descending = false;
    const last = parts[parts.length - 1];
    if (last === 'nullsfirst' || last === 'nullslast') {
      nulls = last === 'nullsfirst' ? 'first' : 'last';
      parts.pop();
    }
    const direction = parts[parts.length - 1];
    if (direction === 'asc' || direction === 'desc') {
      descending = direction === 'desc';
      parts.pop();
    }
    const name = parts.join('.');
    if (name === '' || name.includes('.')) {
      throw new QueryError(
        'order',
        `expected "<field>[.asc|.desc][.nullsfirst|.nullslast]", got "${raw}"`,
      );
    }
    return { field: field('order', name), descending, ...(nulls ? { nulls } : {}) };
  });
}

/** `email,name:full_name,address->>city,*` */
function parseSelect(value: string): SelectItem[] {
  return value.split(',').map((raw) => {
    const item = raw.trim();
    if (item === '*') return { key: '*' };
    if (item.includes('('))
      throw new QueryError('select', `embedding resources is not supported ("${item}")`);
    if (item.includes('::')) throw new QueryError('select', `casts are not supported ("${item}")`);
    const colon = item.indexOf(':');
    const alias = colon > 0 ? item.slice(0, colon) : undefined;
    const name = colon > 0 ? item.slice(colon + 1) : item;
    if (name === '') throw new QueryError('select', `empty field in "${value}"`);
    const ref = field('select', name);
    return { key: alias ?? ref.jsonPath[ref.jsonPath.length - 1] ?? ref.column, field: ref };
  });
}

function field(param: string, name: string): FieldRef {
  if (name.includes('\u0001')) throw new QueryError(param, 'control characters in a name');
  try {
    return parseField(`contact.${name}`, SCOPES, [param]);
  } catch (error) {
    throw asQueryError(param, error);
  }
}

// Compiling ------------------------------------------------------------------

export interface CompileContext {
  attributes: AttributeTypes;
  params: ParamSink;
}

/**
 * The WHERE expression of contact queries ANDed together (a segment's and the
 * request's, say). Deleted contacts are left out unless a filter names
 * deleted_at.
 */
export function compileWhere(queries: ContactQuery[], ctx: CompileContext): string {
  const parts: string[] = [];
  const namesDeleted = queries.some((q) =>
    q.filters.some((f) => fieldsOf(f.condition).some((ref) => ref.column === 'deleted_at')),
  );
  if (!namesDeleted) parts.push('c.deleted_at IS NULL');
  for (const query of queries) {
    for (const search of query.searches) parts.push(searchSql(search, ctx, true));
    for (const { param, condition } of query.filters) {
      try {
        parts.push(
          compileSql(condition, {
            column: (ref) => {
              const search = query.groupSearches.get(ref.column);
              if (search) return { sql: searchSql(search, ctx, false), type: 'boolean' };
              return fieldSql(ref, ctx);
            },
            ...ctx.params,
          }),
        );
      } catch (error) {
        throw withHint(asQueryError(param, error), condition, ctx.attributes);
      }
      refuseUndeclaredOrder(param, condition, ctx.attributes);
    }
  }
  return parts.length > 0 ? parts.join(' AND ') : 'TRUE';
}

const ORDERING = new Set(['gt', 'gte', 'lt', 'lte']);

/** An attribute nudge.yaml does not declare (not a contact's own field, no JSON path). */
function undeclared(ref: FieldRef, attributes: AttributeTypes): boolean {
  return (
    !Object.hasOwn(IDENTITY_COLUMNS, ref.column) &&
    !attributes[ref.column] &&
    ref.jsonPath.length === 0 &&
    !ref.column.includes('\u0001')
  );
}

/**
 * An undeclared attribute compares as the text of its value, so an order of
 * it would put 90 after 100 (`mrr=gt.100` matching 90) without a word; a
 * feature's condition refuses the same test (its type is `unknown`:
 * features/types.ts), so the API does too, saying what to declare. eq, neq,
 * in, like, ilike and is.null compare the text, alike on both sides.
 */
function refuseUndeclaredOrder(param: string, condition: Condition, attributes: AttributeTypes) {
  const test = testsOf(condition).find(
    (t) => ORDERING.has(t.op) && undeclared(t.field, attributes),
  );
  if (!test) return;
  throw new QueryError(
    param,
    `${test.op} cannot order contact.${test.field.column}: nudge.yaml does not declare its type, and an attribute compared as text would put "90" after "100"; ${declareHint(test.field.column, suggestedType(test) ?? 'text')}`,
  );
}

function declareHint(attribute: string, type: ValueType): string {
  return `declare the attribute in nudge.yaml: contacts: { attributes: { ${attribute}: ${type} } }`;
}

function withHint(error: unknown, condition: Condition, attributes: AttributeTypes): unknown {
  if (!(error instanceof QueryError) || !/needs a boolean/.test(error.problem)) return error;
  const field = fieldsOf(condition).find((ref) => undeclared(ref, attributes));
  if (!field) return error;
  return new QueryError(error.param, `${error.problem}; ${declareHint(field.column, 'boolean')}`);
}

/** A field typed for comparison and ordering. */
export function fieldSql(ref: FieldRef, ctx: CompileContext): { sql: string; type: ValueType } {
  const identity = IDENTITY_COLUMNS[ref.column];
  if (identity) return { sql: `c.${ident(ref.column)}`, type: identity };
  if (ref.column.includes('\u0001')) throw new Error(`unexpected synthetic column ${ref.raw}`);
  const key = ctx.params.param(ref.column, 'text');
  const value = `c.attributes -> ${key}`;
  // JSON paths continue from the attribute's value (compileSql appends them).
  if (ref.jsonPath.length > 0) return { sql: `(${value})`, type: 'jsonb' };
  const type = ctx.attributes[ref.column] ?? 'text';
  switch (type) {
    case 'integer':
    case 'numeric':
      return { sql: `nudge_engine.attribute_numeric(${value})`, type };
    case 'boolean':
    case 'uuid':
    case 'timestamptz':
    case 'date':
      return { sql: `nudge_engine.attribute_${type}(${value})`, type };
    case 'jsonb':
      return { sql: `(${value})`, type };
    default:
      // Text, declared or not: a number as the engine reads it (migration
      // 028); given the attributes and the name, it reads the value once
      // for most values (029).
      return { sql: `nudge_engine.attribute_text(c.attributes, ${key})`, type: 'text' };
  }
}

/**
 * `vector @@ query` for one attribute (or email), checked exactly. When the
 * test stands alone (top level, not negated), uses the `simple` configuration
 * the index is built from, cannot be fooled by what other attributes hold (no
 * negation in the query) and has no digit (the index leaves numbers out) or
 * only ANDs its terms and keeps a word besides numbers, the
 * contacts whose whole-contact document matches (or whose document the
 * indexer has not caught up with) are ANDed in first: the GIN index finds
 * candidates with it, the exact test rechecks them.
 */
function searchSql(search: TextSearch, ctx: CompileContext, standalone: boolean): string {
  const declared = search.field === 'email' ? 'text' : ctx.attributes[search.field.attribute];
  if (declared && declared !== 'text') {
    throw new QueryError(
      search.param,
      `${search.op} needs a text attribute; ${(search.field as { attribute: string }).attribute} is ${declared}`,
    );
  }
  const language = `${ctx.params.param(search.language, 'text')}::regconfig`;
  const terms = ctx.params.param(search.query, 'text');
  const text =
    search.field === 'email'
      ? `coalesce(c.email, '')`
      : (() => {
          const key = ctx.params.param(search.field.attribute, 'text');
          return `coalesce(CASE WHEN jsonb_typeof(c.attributes -> ${key}) = 'string' THEN c.attributes ->> ${key} END, '')`;
        })();
  const fn = TSQUERY[search.op];
  const exact = `to_tsvector(${language}, ${text}) @@ ${fn}(${language}, ${terms})`;
  if (search.negated) return `NOT (${exact})`;
  const digits = /[0-9]/.test(search.query);
  if (
    !standalone ||
    search.language !== 'simple' ||
    !monotone(search) ||
    (digits && !(conjunctive(search) && hasWord(search.query)))
  )
    return exact;
  // The document leaves number tokens out (migration 004); a query without a
  // digit has none, so it is the same query under the document's configuration.
  // A query with digits whose terms are only ANDed loses just its number terms
  // under that configuration, and asks for fewer words: still a superset, as
  // long as a word is left (a term with a letter that is not 1e5).
  // Contacts still queued for the indexer (migration 005) may have no document
  // or an old one: they are all candidates.
  const prefilter = `c.id IN (SELECT s.contact_id FROM nudge_engine.contact_search s
     WHERE s.document @@ ${fn}('nudge_engine.search'::regconfig, ${terms})
     UNION ALL SELECT q.contact_id FROM nudge_engine.contact_search_queue q)`;
  return `(${prefilter} AND ${exact})`;
}

/** A term with a letter, which the parser cannot read as a number (1e5 it can). */
function hasWord(query: string): boolean {
  return query
    .split(/[\s&!()':*]+/)
    .some((term) => /\p{L}/u.test(term) && !/^[+-]?[\d.]+e[+-]?\d+$/i.test(term));
}

/** Terms only ANDed: no `or` / `|`, no phrase (`"..."`, `<->`, phfts). */
function conjunctive(search: TextSearch): boolean {
  if (search.op === 'plfts') return true;
  if (search.op === 'fts') return !/[|<]/.test(search.query);
  if (search.op === 'wfts') return !/["]|(^|\s)or(\s|$)/i.test(search.query);
  return false;
}

/** No negation in the query: a match in one attribute implies one in the whole contact. */
function monotone(search: TextSearch): boolean {
  if (search.op === 'fts') return !search.query.includes('!');
  if (search.op === 'wfts') return !/(^|[\s"(])-/.test(search.query);
  return true;
}

// Order and paging after a cursor --------------------------------------------

/**
 * The keys a contacts answer is ordered by: order= (created_at when none),
 * then the id unless order= names it, so the order is total and a cursor
 * names one place in it. Without an order, oldest first, deliberately not
 * indexed (an index on created_at slows every contact write by a quarter,
 * docs/benchmarks.md): a page is a top-N sort of the matching rows.
 */
function orderKeys(query: ContactQuery): OrderItem[] {
  const keys: OrderItem[] =
    query.order.length > 0
      ? [...query.order]
      : [{ field: field('order', 'created_at'), descending: false }];
  if (!query.order.some((item) => item.field.column === 'id' && item.field.jsonPath.length === 0)) {
    keys.push({ field: field('order', 'id'), descending: false });
  }
  return keys;
}

/** Text compares in the "C" collation, in ORDER BY and after a cursor alike. */
function collated(sql: string, type: ValueType): string {
  return type === 'text' ? `(${sql}) COLLATE "C"` : sql;
}

/**
 * The ORDER BY list of a contacts answer, and its cursor column: each order
 * key's typed value in one jsonb array, which the cursor of a page's last
 * row carries (cursorOf) and afterSql reads back as the same type.
 */
export function orderSql(
  query: ContactQuery,
  ctx: CompileContext,
): { orderBy: string; cursor: string } {
  const keys = orderKeys(query).map((key) => ({ key, ...fieldSql(key.field, ctx) }));
  const orderBy = keys.map(({ key, sql, type }) => {
    const nulls = key.nulls ? ` NULLS ${key.nulls.toUpperCase()}` : '';
    return `${collated(sql, type)} ${key.descending ? 'DESC' : 'ASC'}${nulls}`;
  });
  // A jsonb key goes in an array of its own, so a missing value (SQL NULL,
  // JSON null in the cursor) and a JSON null read back apart (afterCondition).
  const values = keys.map(({ sql, type }) =>
    type === 'jsonb'
      ? `CASE WHEN ${sql} IS NULL THEN NULL ELSE jsonb_build_array(${sql}) END`
      : sql,
  );
  return { orderBy: orderBy.join(', '), cursor: `jsonb_build_array(${values.join(', ')})` };
}

/** PostgreSQL's default: nulls sort as larger than any value. */
function nullsLast(key: OrderItem): boolean {
  return key.nulls ? key.nulls === 'last' : !key.descending;
}

/** `mrr.desc.nullsfirst,id.asc.nullslast`: what a cursor's fingerprint is made of. */
function orderText(keys: OrderItem[]): string {
  return keys
    .map((key) => {
      const name = key.field.raw.replace(/^contact\./, '');
      return `${name}.${key.descending ? 'desc' : 'asc'}.nulls${nullsLast(key) ? 'last' : 'first'}`;
    })
    .join(',');
}

/** The `after=` cursor of a row, from its cursor column (orderSql). */
export function cursorOf(query: ContactQuery): (values: unknown[]) => string {
  const order = orderText(orderKeys(query));
  return (values) => encodeCursor(order, values);
}

/**
 * The rows after the query's `after=` cursor, undefined without one: each
 * key over the row and over the cursor's value read back as the type the
 * cursor column wrote it in, text in the "C" collation, as ORDER BY has it.
 */
export function afterCondition(query: ContactQuery, ctx: CompileContext): string | undefined {
  if (query.after === undefined) return undefined;
  const keys = orderKeys(query);
  const decoded = decodeCursor(query.after, orderText(keys), keys.length);
  if (typeof decoded === 'string') throw new QueryError('after', decoded);
  const values = ctx.params.param(decoded.values, 'jsonb');
  return afterSql(
    keys.map((key, i) => {
      const row = fieldSql(key.field, ctx);
      // attribute_numeric reads an integer attribute as numeric.
      const type = row.type === 'integer' ? 'numeric' : row.type;
      const value =
        type === 'jsonb'
          ? `(nullif(${values} -> ${i}, 'null') -> 0)`
          : `((${values} ->> ${i})::${type})`;
      return {
        row: collated(row.sql, row.type),
        cursor: collated(value, row.type),
        descending: key.descending,
        nullsLast: nullsLast(key),
      };
    }),
  );
}
