// Which columns of a captured row leave the user's table. Two rules, applied
// inside the trigger itself so that nothing else ever sees the rest:
//
// * Credentials never leave. auth.users' password hash and token columns, any
//   column of schema `auth` whose name says it holds a token, a secret, a
//   password or a code (auth.flow_state's auth_code, auth.mfa_challenges'
//   otp_code; newer Auth versions add such tables and columns), and every
//   column the user names in `capture.exclude_columns`. No feature, sync or
//   setting can bring them back: a feature that refers to one is an error.
// * A capture copies what its features read, where that can be worked out
//   (conditions, contact mapping, enrichment sources, Liquid variables, the
//   primary key); where it cannot, every column the first rule leaves, and
//   the plan says why.
import { ident, literal } from '../db/quote.js';
import { formatTableName, type TableName } from '../source/names.js';

/** auth.users columns that hold credentials (the Auth service's names). */
export const AUTH_USER_CREDENTIALS: ReadonlySet<string> = new Set([
  'encrypted_password',
  'confirmation_token',
  'recovery_token',
  'email_change_token_new',
  'email_change_token_current',
  'phone_change_token',
  'reauthentication_token',
]);

/**
 * Names in schema auth that hold credentials, whatever the table
 * (one_time_tokens, mfa_factors, flow_state's auth_code and code_challenge,
 * mfa_challenges' otp_code, ...). A few harmless columns go with them
 * (auth_code_issued_at, code_challenge_method): better than a code let out.
 */
const AUTH_CREDENTIAL_SQL = 'token|secret|password|passphrase|code';
const AUTH_CREDENTIAL_NAME = new RegExp(AUTH_CREDENTIAL_SQL, 'i');

/** Columns the user excludes, by table (`"public.profiles"` → names), from nudge.yaml. */
export type ExcludedColumns = Readonly<Record<string, readonly string[]>>;

/** Why a column of a table is never captured, or undefined when it may be. */
export function exclusionOf(
  table: TableName,
  column: string,
  excluded: ExcludedColumns = {},
): string | undefined {
  if (table.schema === 'auth') {
    if (table.table === 'users' && AUTH_USER_CREDENTIALS.has(column)) return 'credential';
    if (AUTH_CREDENTIAL_NAME.test(column)) return 'credential';
  }
  if (excludedByConfig(table, excluded).includes(column)) return 'capture.exclude_columns';
  return undefined;
}

/** The columns nudge.yaml excludes for a table, however its name was written there. */
function excludedByConfig(table: TableName, excluded: ExcludedColumns): readonly string[] {
  const name = formatTableName(table);
  return Object.entries(excluded).flatMap(([key, columns]) =>
    key === name || (table.schema === 'public' && key === table.table) ? columns : [],
  );
}

/** The columns of a table that may leave it, in the table's order. */
export function capturable(
  table: TableName,
  columns: readonly string[],
  excluded: ExcludedColumns = {},
): string[] {
  return columns.filter((column) => exclusionOf(table, column, excluded) === undefined);
}

/**
 * What a reader of captured rows needs: some columns, or every capturable
 * one (with the reason, shown by `nudge plan`).
 */
export type ColumnReads = { columns: string[] } | { all: string };

/** The columns a capture copies, and what it leaves out and why. */
export interface CaptureColumns {
  copied: string[];
  excluded: { column: string; reason: string }[];
  /** Set when every capturable column is copied: the reason. */
  all?: string;
}

/**
 * Merges what the readers of one (table, operation) need into the columns its
 * trigger copies: the union of what they read, the primary key always, never
 * an excluded column; everything capturable when any reader needs all.
 */
export function captureColumns(
  table: TableName,
  columns: readonly string[],
  primaryKey: readonly string[],
  reads: ColumnReads[],
  excluded: ExcludedColumns = {},
): CaptureColumns {
  const reasons = columns.map((column) => ({
    column,
    reason: exclusionOf(table, column, excluded),
  }));
  const left = reasons.filter((c): c is { column: string; reason: string } => !!c.reason);
  const allowed = reasons.filter((c) => !c.reason).map((c) => c.column);
  const all = reads.find((r): r is { all: string } => 'all' in r);
  if (all) return { copied: allowed, excluded: left, all: all.all };
  const wanted = new Set([
    ...primaryKey,
    ...reads.flatMap((r) => ('columns' in r ? r.columns : [])),
  ]);
  const copied = allowed.filter((column) => wanted.has(column));
  const unused = allowed
    .filter((column) => !wanted.has(column))
    .map((column) => ({ column, reason: 'not used' }));
  return { copied, excluded: [...left, ...unused] };
}

/** Arguments one json_build_object call may take (PostgreSQL allows 100). */
const MAX_PAIRS = 50;

/**
 * SQL building one captured row as JSON from its columns, e.g.
 * `json_build_object('id', n."id", 'email', n."email")`. Past 50 columns the
 * pieces are joined as jsonb (key order then follows jsonb's, not the
 * table's). `jsonb: true` gives jsonb.
 */
export function rowJson(
  ref: (column: string) => string,
  columns: readonly string[],
  options: { jsonb?: boolean } = {},
): string {
  const pairs = (part: readonly string[]) =>
    part.map((column) => `${literal(column)}::text, ${ref(column)}`).join(', ');
  if (columns.length <= MAX_PAIRS) {
    return `${options.jsonb ? 'jsonb' : 'json'}_build_object(${pairs(columns)})`;
  }
  const parts: string[] = [];
  for (let i = 0; i < columns.length; i += MAX_PAIRS) {
    parts.push(`jsonb_build_object(${pairs(columns.slice(i, i + MAX_PAIRS))})`);
  }
  const joined = `(${parts.join(' || ')})`;
  return options.jsonb ? joined : `${joined}::json`;
}

/**
 * The same row as rowJson builds, read by name from the row as it is now: a
 * column dropped since the deploy is left out instead of failing. Slower (the
 * whole row becomes jsonb first), so only the fallbacks that must not fail
 * use it: the JSON copy of a typed capture whose copy failed, and the rows
 * recorded in nudge.failed_events.
 */
export function presentRowJson(
  alias: string,
  columns: readonly string[],
  options: { jsonb?: boolean } = {},
): string {
  const row = alias === 'n' ? 'n.*' : alias;
  const list = `ARRAY[${columns.map(literal).join(', ')}]::text[]`;
  const json = `(SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}') FROM jsonb_each(to_jsonb(${row})) AS e
          WHERE e.key = ANY (${list}))`;
  return options.jsonb ? json : `${json}::json`;
}

/**
 * SQL building a whole row as JSON when its columns are not known at plan
 * time (only callers that pass no catalog, such as tests): the same two rules
 * applied to the row's keys, in SQL. `alias` is `n` (statement level) or
 * `NEW` / `OLD`.
 */
export function wholeRowJson(
  alias: string,
  table: TableName,
  excluded: ExcludedColumns = {},
  options: { jsonb?: boolean } = {},
): string {
  const row = alias === 'n' ? 'n.*' : alias;
  const names = [
    ...(table.schema === 'auth' && table.table === 'users' ? AUTH_USER_CREDENTIALS : []),
    ...excludedByConfig(table, excluded),
  ];
  if (table.schema !== 'auth' && names.length === 0) {
    return `${options.jsonb ? 'to_jsonb' : 'row_to_json'}(${row})`;
  }
  const list = `ARRAY[${names.map(literal).join(', ')}]::text[]`;
  const filtered =
    table.schema === 'auth'
      ? `(SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}') FROM jsonb_each(to_jsonb(${row})) AS e
          WHERE e.key !~* ${literal(AUTH_CREDENTIAL_SQL)} AND e.key <> ALL (${list}))`
      : `(to_jsonb(${row}) - ${list})`;
  return options.jsonb ? filtered : `${filtered}::json`;
}

/** How generated SQL names a column of an aliased row, e.g. `n."Order Id"`. */
export const columnOf =
  (alias: string) =>
  (column: string): string =>
    `${alias}.${ident(column)}`;
