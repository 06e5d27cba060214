// Generates the capture trigger for one (table, operation): a function in
// schema nudge and a trigger on the user's table, shared by every feature that
// needs that table and operation. The SQL here is what runs inside the user's
// writes, so it is written for two things above all:
//
// * It never fails the write. The whole body runs in an exception block; on
//   any error the rows are written to nudge.failed_events instead, and if even
//   that fails the trigger only raises a WARNING. The write commits.
// * It is cheap. INSERT and DELETE use statement-level triggers with
//   transition tables: one INSERT ... SELECT per statement, however many rows.
//   UPDATE uses a row-level trigger, because a statement-level one cannot pair
//   old and new rows reliably (a primary key may change); it is exact. So do
//   INSERT and DELETE on a partitioned table: a statement-level trigger there
//   does not fire for rows written into a partition directly.
//
// * It copies no credentials, and only what features read (columns.ts): the
//   rows are built column by column, never as the whole row.
//
// Functions are SECURITY DEFINER (owned by the deploying role) so that writes
// made as `authenticated` through PostgREST are captured although that role
// has no access to schema nudge. Every identifier is quoted; values that must
// be inlined in DDL are escaped literals.
import { createHash } from 'node:crypto';
import { dollarQuote, ident, literal } from '../db/quote.js';
import { formatTableName, type TableName } from '../source/names.js';
import {
  type CaptureColumns,
  type ColumnReads,
  captureColumns,
  columnOf,
  type ExcludedColumns,
  presentRowJson,
  rowJson,
  wholeRowJson,
} from './columns.js';
import { outboxBody } from './transports/outbox/body.js';
import {
  ROW_META,
  type RowsTable,
  remakeRowsTableSql,
  rowsTableFor,
  rowsTableSql,
  typedRowsBody,
} from './transports/outbox/typed-rows.js';
import type { TriggerBody, TriggerBodySpec } from './transports/port.js';

export { captureConstants } from './transports/fallback.js';
export { CHUNK_ROWS } from './transports/outbox/body.js';
export {
  dropRowsTableSql,
  metadataRepair,
  ROW_META,
  ROWS_MARKER_PREFIX,
  type RowsShape,
  rowsTableChanges,
  rowsTableFor,
} from './transports/outbox/typed-rows.js';
export type { TriggerBody, TriggerBodySpec } from './transports/port.js';

export type Operation = 'insert' | 'update' | 'delete';
export const OPERATIONS: readonly Operation[] = ['insert', 'update', 'delete'];

/** How generated SQL refers to a column of the new or old row. */
export interface RowRefs {
  new: (column: string) => string;
  old: (column: string) => string;
}

/** A join resolved at trigger time (see nudge.enrich and nudge.enrichment_map). */
export interface Enrichment {
  name: string;
  target: TableName;
  targetColumn: string;
  /** format_type() of the target column, e.g. `uuid`. */
  targetType: string;
  /** Field of the captured row whose value is looked up. */
  sourceField: string;
  columns?: string[];
}

/** One reason to capture a (table, operation): a feature, or a sync. */
export interface CaptureNeed {
  table: TableName;
  operation: Operation;
  /** Who needs it, e.g. `welcome-drip`. */
  by: string;
  /** A SQL predicate over the row; undefined captures every row. */
  filter?: (row: RowRefs) => string;
  enrichments?: Enrichment[];
  /**
   * The table's columns, from the catalog (every caller in the product gives
   * them). With them a capture copies only what its needs read, and an INSERT
   * or DELETE capture copies typed rows into its own rows table (see
   * typedBody) when nothing needs JSON at trigger time. Without them it
   * writes the whole row, less credentials, as JSON to nudge.event_log.
   */
  columns?: CapturedColumn[];
  /** The table's primary key: always captured. */
  primaryKey?: string[];
  /** The columns this need reads (default: all capturable, "reads whole rows"). */
  reads?: ColumnReads;
  /**
   * A partitioned table: its INSERT and DELETE captures are row-level too. A
   * statement-level trigger on it fires only for statements naming it, not
   * for rows written into a partition directly; a row-level one is cloned to
   * every partition, present and future.
   */
  partitioned?: boolean;
}

/** A column of a captured table; `type` is its format_type(), which names the rows table. */
export interface CapturedColumn {
  name: string;
  type: string;
}

/** The columns and primary key of a catalog table (and whether it is partitioned), as a need carries them. */
export function capturedColumns(table: {
  columns: CapturedColumn[];
  primaryKey: string[];
  kind?: string;
}): Pick<CaptureNeed, 'columns' | 'primaryKey' | 'partitioned'> {
  return {
    columns: table.columns.map(({ name, type }) => ({ name, type })),
    primaryKey: [...table.primaryKey],
    ...(table.kind === 'partitioned table' ? { partitioned: true } : {}),
  };
}

/** The capture objects for one (table, operation), as they should be deployed. */
export interface CaptureObject {
  table: TableName;
  operation: Operation;
  level: 'statement' | 'row';
  functionName: string;
  triggerName: string;
  /** The function body; its sha256 is the marker hash. */
  body: string;
  hash: string;
  usedBy: string[];
  enrichments: Enrichment[];
  /** How the trigger hands rows over, when not the outbox (e.g. `webhook via pg_net`). */
  transport?: string;
  /** The typed rows table in schema nudge the trigger copies rows into, with the columns it copies. */
  rows?: RowsTable;
  /** The columns the trigger copies, and those it leaves in the table and why. */
  columns: CaptureColumns;
  /** The table is partitioned (CaptureNeed.partitioned). */
  partitioned?: true;
}

export const MARKER_PREFIX = 'nudge:capture ';
const NEW_ROWS = 'nudge_new_rows';
const OLD_ROWS = 'nudge_old_rows';

/** The transition table a statement-level trigger of this operation reads. */
function transitionOf(operation: Operation): string {
  return operation === 'insert' ? NEW_ROWS : OLD_ROWS;
}

/** The transition tables a capture's trigger declares (REFERENCING), as pg_trigger names them. */
export function transitionTables(object: Pick<CaptureObject, 'operation' | 'level'>): {
  newTable: string | null;
  oldTable: string | null;
} {
  const statement = object.level === 'statement';
  return {
    newTable: statement && object.operation === 'insert' ? NEW_ROWS : null,
    oldTable: statement && object.operation !== 'insert' ? OLD_ROWS : null,
  };
}

/** The function's SET clauses as pg_proc.proconfig holds them (createCaptureSql). */
export const FUNCTION_SETTINGS = ['search_path=pg_catalog, pg_temp'];

export interface Marker {
  v: 1;
  schema: string;
  table: string;
  operation: Operation;
  level: 'statement' | 'row';
  hash: string;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function captureKey(table: TableName, operation: Operation): string {
  return JSON.stringify([table.schema, table.table, operation]);
}

/** Deterministic, readable, and unique per (schema, table, operation). */
export function functionNameFor(table: TableName, operation: Operation): string {
  const readable = table.table
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '');
  const suffix = sha256(JSON.stringify([table.schema, table.table])).slice(0, 8);
  return `capture_${readable.slice(0, 30) || 'table'}_${operation}_${suffix}`;
}

export function triggerNameFor(operation: Operation): string {
  return `nudge_capture_${operation}`;
}

export interface CaptureOptions {
  /** A trigger body of its own (capture: webhook); by default the outbox's, JSON or typed rows. */
  body?: TriggerBody;
  /** capture.exclude_columns from nudge.yaml; credentials are excluded whatever it says. */
  exclude?: ExcludedColumns;
}

/** Merges every need for one (table, operation) into the object to deploy. */
export function buildCaptureObject(
  needs: CaptureNeed[],
  options: CaptureOptions = {},
): CaptureObject {
  const first = needs[0];
  if (!first) throw new Error('buildCaptureObject needs at least one need');
  const { table, operation } = first;
  const partitioned = needs.some((need) => need.partitioned);
  const level = operation === 'update' || partitioned ? 'row' : 'statement';
  const enrichments = mergeEnrichments(needs);
  // A row an operation does not have reads as NULL (as OLD in an INSERT trigger).
  const row = level === 'row' ? { new: 'NEW', old: 'OLD' } : { new: 'n', old: 'n' };
  const refs: RowRefs = {
    new: (c) => (operation === 'delete' ? 'NULL' : `${row.new}.${ident(c)}`),
    old: (c) => (operation === 'insert' ? 'NULL' : `${row.old}.${ident(c)}`),
  };
  // Any need without a filter takes every row; otherwise keep rows any need wants.
  const filter = needs.every((need) => need.filter)
    ? needs.map((need) => `(${need.filter!(refs)})`).join(`\n      OR `)
    : undefined;
  const own = options.body;
  const functionName = functionNameFor(table, operation);
  const catalog = needs.find((need) => need.columns)?.columns;
  const captured: CaptureColumns = catalog
    ? captureColumns(
        table,
        catalog.map((c) => c.name),
        needs.find((need) => need.primaryKey)?.primaryKey ?? [],
        needs.map((need) => need.reads ?? { all: `${need.by} reads whole rows` }),
        options.exclude,
      )
    : { copied: [], excluded: [], all: 'the table’s columns were not given' };
  const copied = (catalog ?? []).filter((c) => captured.copied.includes(c.name));
  const json: TriggerBodySpec['json'] = (alias, jsonOptions = {}) =>
    !catalog
      ? wholeRowJson(alias, table, options.exclude, jsonOptions)
      : jsonOptions.present
        ? presentRowJson(alias, captured.copied, jsonOptions)
        : rowJson(columnOf(alias), captured.copied, jsonOptions);
  // Typed rows when nothing needs JSON at trigger time: no body of its own, no
  // enrichment, a statement-level trigger, and columns to copy.
  const rows =
    !own &&
    level === 'statement' &&
    enrichments.length === 0 &&
    copied.length &&
    !copied.some((column) => ROW_META.includes(column.name))
      ? { table: rowsTableFor(table, operation, copied), columns: copied.map((c) => c.name) }
      : undefined;
  const spec: TriggerBodySpec = {
    table,
    operation,
    level,
    rows: transitionOf(operation),
    filter,
    enrich: enrichments.length > 0,
    json,
  };
  const body = (own ?? (rows ? typedRowsBody(rows) : outboxBody)).body(spec);
  return {
    table,
    operation,
    level,
    functionName,
    triggerName: triggerNameFor(operation),
    body,
    hash: sha256(body),
    usedBy: [...new Set(needs.map((need) => need.by))].sort(),
    enrichments,
    ...(own?.label ? { transport: own.label } : {}),
    ...(rows ? { rows } : {}),
    columns: captured,
    ...(partitioned ? { partitioned: true as const } : {}),
  };
}

function mergeEnrichments(needs: CaptureNeed[]): Enrichment[] {
  const byName = new Map<string, Enrichment>();
  for (const need of needs) {
    for (const enrichment of need.enrichments ?? []) {
      const existing = byName.get(enrichment.name);
      if (existing && JSON.stringify(existing) !== JSON.stringify(enrichment)) {
        throw new Error(
          `enrichment "${enrichment.name}" on ${formatTableName(need.table)} is defined differently by two features`,
        );
      }
      byName.set(enrichment.name, enrichment);
    }
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function markerOf(object: CaptureObject): Marker {
  return {
    v: 1,
    schema: object.table.schema,
    table: object.table.table,
    operation: object.operation,
    level: object.level,
    hash: object.hash,
  };
}

export function parseMarker(comment: string | null): Marker | undefined {
  return parseMarkerComment<Marker>(MARKER_PREFIX, comment);
}

/** A version-1 marker after `prefix` in an object's comment (captures, publications), or undefined. */
export function parseMarkerComment<T extends { v: number }>(
  prefix: string,
  comment: string | null,
): T | undefined {
  if (!comment?.startsWith(prefix)) return undefined;
  try {
    const marker = JSON.parse(comment.slice(prefix.length)) as T;
    return marker.v === 1 ? marker : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Creates or replaces the function, its marker and its trigger (and its rows
 * table). `remakeRows`: the rows table was altered by hand, and is made
 * again (remakeRowsTableSql).
 */
export function createCaptureSql(
  object: CaptureObject,
  options: { remakeRows?: boolean } = {},
): string[] {
  const fn = ident('nudge', object.functionName);
  const table = ident(object.table.schema, object.table.table);
  const event = object.operation.toUpperCase();
  const referencing =
    object.level === 'row'
      ? ''
      : `\n  REFERENCING ${object.operation === 'insert' ? `NEW TABLE AS ${NEW_ROWS}` : `OLD TABLE AS ${OLD_ROWS}`}`;
  return [
    // The user's table first, as DROP TRIGGER would: a writer there that
    // then waited for the rows table would deadlock with this deploy.
    ...(object.rows
      ? [
          `LOCK TABLE ${table} IN SHARE ROW EXCLUSIVE MODE`,
          ...(options.remakeRows ? [remakeRowsTableSql(object.rows.table)] : []),
          ...rowsTableSql(object.table, object.operation, object.rows),
        ]
      : []),
    `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS ${dollarQuote(object.body, 'nudge')}`,
    `COMMENT ON FUNCTION ${fn}() IS ${literal(MARKER_PREFIX + JSON.stringify(markerOf(object)))}`,
    `REVOKE ALL ON FUNCTION ${fn}() FROM PUBLIC`,
    `DROP TRIGGER IF EXISTS ${ident(object.triggerName)} ON ${table}`,
    `CREATE TRIGGER ${ident(object.triggerName)} AFTER ${event} ON ${table}${referencing}
  FOR EACH ${object.level === 'row' ? 'ROW' : 'STATEMENT'} EXECUTE FUNCTION ${fn}()`,
  ];
}

/** Drops a deployed capture: the trigger (if its table still exists) and the function. */
export function dropCaptureSql(deployed: {
  functionName: string;
  triggers: { schema: string; table: string; name: string }[];
}): string[] {
  return [
    ...deployed.triggers.map(
      (t) => `DROP TRIGGER IF EXISTS ${ident(t.name)} ON ${ident(t.schema, t.table)}`,
    ),
    `DROP FUNCTION IF EXISTS ${ident('nudge', deployed.functionName)}()`,
  ];
}

/** Rows of nudge.enrichment_map for a table, as INSERT statements. */
export function enrichmentRowSql(table: TableName, enrichment: Enrichment): string {
  const columns = enrichment.columns
    ? `ARRAY[${enrichment.columns.map(literal).join(', ')}]::text[]`
    : 'NULL';
  return `INSERT INTO nudge.enrichment_map
  (schema_name, table_name, name, target_schema, target_table, target_column, target_type, source_field, columns)
VALUES (${literal(table.schema)}, ${literal(table.table)}, ${literal(enrichment.name)}, ${literal(enrichment.target.schema)},
  ${literal(enrichment.target.table)}, ${literal(enrichment.targetColumn)}, ${literal(enrichment.targetType)}::regtype,
  ${literal(enrichment.sourceField)}, ${columns})`;
}

/** One capture object per (table, operation) that any need asks for, in a stable order. */
export function buildCaptureObjects(
  needs: CaptureNeed[],
  options: CaptureOptions = {},
): CaptureObject[] {
  const groups = new Map<string, CaptureNeed[]>();
  for (const need of needs) {
    const key = captureKey(need.table, need.operation);
    groups.set(key, [...(groups.get(key) ?? []), need]);
  }
  return [...groups.values()]
    .map((group) => buildCaptureObject(group, options))
    .sort(
      (a, b) =>
        a.table.schema.localeCompare(b.table.schema) ||
        a.table.table.localeCompare(b.table.table) ||
        OPERATIONS.indexOf(a.operation) - OPERATIONS.indexOf(b.operation),
    );
}
