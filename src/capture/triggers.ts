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
//   old and new rows reliably (a primary key may change); it is exact.
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
  type ExcludedColumns,
  presentRowJson,
  rowJson,
  wholeRowJson,
} from './columns.js';

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
}

/** A column of a captured table; `type` is its format_type(), which names the rows table. */
export interface CapturedColumn {
  name: string;
  type: string;
}

/** The columns and primary key of a catalog table, as a need carries them. */
export function capturedColumns(table: {
  columns: CapturedColumn[];
  primaryKey: string[];
}): Pick<CaptureNeed, 'columns' | 'primaryKey'> {
  return {
    columns: table.columns.map(({ name, type }) => ({ name, type })),
    primaryKey: [...table.primaryKey],
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
  rows?: { table: string; columns: string[] };
  /** The columns the trigger copies, and those it leaves in the table and why. */
  columns: CaptureColumns;
}

/**
 * Writes a trigger body that hands the rows to something other than the
 * outbox: the port a transport implements (see webhook.ts). The body must keep
 * the outbox's rule: never fail the user's write.
 */
export interface CaptureTransport {
  /** Shown in the plan, e.g. `webhook via pg_net`. */
  label: string;
  body(spec: TriggerBodySpec): string;
}

export interface TriggerBodySpec {
  table: TableName;
  operation: Operation;
  level: 'statement' | 'row';
  /** The transition table a statement-level body reads (alias it `n`: filters refer to n.*). */
  rows: string;
  /** A SQL predicate over NEW/OLD (row level) or n (statement level); undefined keeps every row. */
  filter: string | undefined;
  enrich: boolean;
  /**
   * The captured row as JSON (jsonb when asked), from a row alias: `n`, `NEW`
   * or `OLD`. `present`: read the columns by name from the row as it is now,
   * so a column dropped since the deploy cannot make it fail (for fallbacks).
   */
  json(alias: string, options?: { jsonb?: boolean; present?: boolean }): string;
}

export const MARKER_PREFIX = 'nudge:capture ';
const NEW_ROWS = 'nudge_new_rows';
const OLD_ROWS = 'nudge_old_rows';

/** The transition table a statement-level trigger of this operation reads. */
function transitionOf(operation: Operation): string {
  return operation === 'insert' ? NEW_ROWS : OLD_ROWS;
}

/** schema_name, table_name, operation as SQL literals, as outbox and failure rows start. */
export function captureConstants(table: TableName, operation: Operation): string {
  return `${literal(table.schema)}, ${literal(table.table)}, ${literal(operation)}`;
}

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
  transport?: CaptureTransport;
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
  const level = operation === 'update' ? 'row' : 'statement';
  const enrichments = mergeEnrichments(needs);
  const refs: RowRefs =
    level === 'row'
      ? { new: (c) => `NEW.${ident(c)}`, old: (c) => `OLD.${ident(c)}` }
      : operation === 'insert'
        ? { new: (c) => `n.${ident(c)}`, old: () => 'NULL' }
        : { new: () => 'NULL', old: (c) => `n.${ident(c)}` };
  // Any need without a filter takes every row; otherwise keep rows any need wants.
  const filter = needs.every((need) => need.filter)
    ? needs.map((need) => `(${need.filter!(refs)})`).join(`\n      OR `)
    : undefined;
  const { transport } = options;
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
        : rowJson((column) => `${alias}.${ident(column)}`, captured.copied, jsonOptions);
  // Typed rows when nothing needs JSON at trigger time: no transport, no
  // enrichment, a statement-level trigger, and columns to copy.
  const rows =
    !transport &&
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
  const body = transport
    ? transport.body(spec)
    : level === 'row'
      ? rowBody(spec)
      : rows
        ? typedBody(spec, rows)
        : statementBody(spec);
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
    ...(transport ? { transport: transport.label } : {}),
    ...(rows ? { rows } : {}),
    columns: captured,
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

/** The DECLARE block every capture body starts with, and GET_ERROR fills. */
export const ERROR_VARIABLES = `DECLARE
  err_state text;
  err_message text;
  err_detail text;
  err_context text;`;

export const GET_ERROR = `GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                          err_detail = PG_EXCEPTION_DETAIL, err_context = PG_EXCEPTION_CONTEXT;`;

function lastResort(table: TableName, operation: Operation): string {
  return `EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'nudge: % on % was not captured (%: %), and recording the failure failed too: %',
      ${literal(operation)}, ${literal(formatTableName(table))}, err_state, err_message, SQLERRM;`;
}

/** Rows per event_log row for statement-level captures. */
export const CHUNK_ROWS = 1000;

/**
 * JSON into nudge.event_log. When that fails (say a column was dropped since
 * the deploy), it is tried again reading the columns by name from the row as
 * it is now; only when that fails too do the rows go to failed_events. The
 * inner block costs nothing until the first attempt fails.
 */
function statementBody(spec: TriggerBodySpec): string {
  return `
${ERROR_VARIABLES}
BEGIN
  ${jsonInsert(spec, spec.enrich)}
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  BEGIN
    ${jsonInsert(spec, spec.enrich, true)}
  EXCEPTION WHEN OTHERS THEN
    ${GET_ERROR}
    ${recordFailure(spec)}
  END;
  RETURN NULL;
END
`;
}

/**
 * The JSON capture of a statement's rows into nudge.event_log: the body of
 * statement-level captures that need JSON at trigger time (enrichment), and
 * the fallback of typed ones.
 */
function jsonInsert(spec: TriggerBodySpec, enrich: boolean, present = false): string {
  const { table, operation, filter, rows } = spec;
  const json = spec.json('n', { present });
  const column = operation === 'insert' ? 'new_rows' : 'old_rows';
  const constants = captureConstants(table, operation);
  const enrichOne = (json: string) =>
    `nudge.enrich(${literal(table.schema)}, ${literal(table.table)}, ${json})`;
  const where = filter ? `\n     WHERE ${filter}` : '';
  // A one-row statement (most app writes) skips the aggregate: measurably
  // cheaper, see docs/benchmarks.md. Larger ones are chunked in one query.
  // Each row is built from the captured columns only (never row_to_json of
  // the whole row: it would copy credentials), once, in the inner query.
  return `IF (SELECT count(*) FROM ${rows}) = 1 THEN
    INSERT INTO nudge.event_log (schema_name, table_name, operation, row_count, ${column}, enrichment)
    SELECT ${constants}, 1, json_build_array(c.r), ${enrich ? `json_build_array(${enrichOne('c.r')})` : 'NULL'}
      FROM (SELECT ${json} AS r FROM ${rows} AS n${where}) AS c;
  ELSE
    INSERT INTO nudge.event_log (schema_name, table_name, operation, row_count, ${column}, enrichment)
    SELECT ${constants}, count(*), json_agg(c.r ORDER BY c.i), ${enrich ? `json_agg(${enrichOne('c.r')} ORDER BY c.i)` : 'NULL'}
      FROM (SELECT ${json} AS r, row_number() OVER () - 1 AS i
              FROM ${rows} AS n${filter ? `\n             WHERE ${filter}` : ''}) AS c
     GROUP BY c.i / ${CHUNK_ROWS}
     ORDER BY c.i / ${CHUNK_ROWS};
  END IF;`;
}

/** The last resort of a statement-level body: the rows go to nudge.failed_events. */
export function recordFailure(spec: TriggerBodySpec): string {
  const { table, operation, rows } = spec;
  const single = operation === 'insert' ? 'new_row' : 'old_row';
  const constants = captureConstants(table, operation);
  return `BEGIN
    INSERT INTO nudge.failed_events
      (schema_name, table_name, operation, ${single}, sqlstate, message, detail, context)
    SELECT ${constants}, ${spec.json('n', { jsonb: true, present: true })}, err_state, err_message, err_detail, err_context
      FROM ${rows} AS n;
  ${lastResort(table, operation)}
  END;`;
}

/** The last resort of a row-level body: the row pair goes to nudge.failed_events. */
export function recordRowFailure(spec: TriggerBodySpec): string {
  const { table, operation } = spec;
  return `BEGIN
    INSERT INTO nudge.failed_events
      (schema_name, table_name, operation, new_row, old_row, sqlstate, message, detail, context)
    VALUES (${captureConstants(table, operation)}, ${spec.json('NEW', { jsonb: true, present: true })}, ${spec.json('OLD', { jsonb: true, present: true })}, err_state, err_message, err_detail, err_context);
  ${lastResort(table, operation)}
  END;`;
}

/** Metadata columns of a rows table; a user table with a column of these names is captured as JSON. */
export const ROW_META = ['nudge:id', 'nudge:at'];

/**
 * The rows table of a typed capture. Its name carries a hash of the columns
 * and their types: when the user's table changes, the next deploy copies into
 * a new rows table, and the old one is drained by the pump and then dropped.
 * So a rows table never needs altering, and never holds two shapes of row.
 */
export function rowsTableFor(
  table: TableName,
  operation: Operation,
  columns: CapturedColumn[],
): string {
  const readable = functionNameFor(table, operation)
    .replace(/^capture_/, '')
    .slice(0, 40);
  const shape = sha256(JSON.stringify([table.schema, table.table, operation, columns]));
  return `rows_${readable}_${shape.slice(0, 8)}`;
}

/**
 * Copies the statement's rows, typed, into the capture's own rows table: no
 * JSON is built inside the user's write (the pump builds it when it reads
 * them), which is most of what capture used to cost (docs/benchmarks.md).
 * Each row takes an id from the outbox's sequence, so rows tables and
 * nudge.event_log share one order. Columns are listed by name: when a column
 * was dropped since the deploy, the copy fails and the rows are captured as
 * JSON instead (the deployed columns that are still there), so nothing is
 * lost. A column added since is not captured; one retyped since is
 * copied as deployed (a retyped value through its assignment cast, or as
 * JSON when there is none) until the next deploy, which `nudge plan` shows
 * as a replace, moves the capture to a rows table of the new shape.
 */
function typedBody(spec: TriggerBodySpec, rows: { table: string; columns: string[] }): string {
  const { filter, rows: transition } = spec;
  const list = rows.columns.map((column) => ident(column)).join(', ');
  const values = rows.columns.map((column) => `n.${ident(column)}`).join(', ');
  return `
${ERROR_VARIABLES}
BEGIN
  INSERT INTO ${ident('nudge', rows.table)} (${list})
  SELECT ${values}
    FROM ${transition} AS n${filter ? `\n   WHERE ${filter}` : ''};
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  BEGIN
    ${jsonInsert(spec, false, true)}
  EXCEPTION WHEN OTHERS THEN
    ${GET_ERROR}
    ${recordFailure(spec)}
  END;
  RETURN NULL;
END
`;
}

/** The row-level (UPDATE) body: as statementBody, one row pair at a time. */
function rowBody(spec: TriggerBodySpec): string {
  const { table, operation, filter } = spec;
  const constants = captureConstants(table, operation);
  const insert = (present: boolean) => {
    const json = (alias: string) => spec.json(alias, { present });
    const enrichment = spec.enrich
      ? `json_build_array(nudge.enrich(${literal(table.schema)}, ${literal(table.table)}, ${json('NEW')}))`
      : 'NULL';
    const values = `INSERT INTO nudge.event_log (schema_name, table_name, operation, row_count, new_rows, old_rows, enrichment)
    VALUES (${constants}, 1, json_build_array(${json('NEW')}), json_build_array(${json('OLD')}), ${enrichment});`;
    return filter ? `IF ${filter} THEN\n    ${values}\n  END IF;` : values;
  };
  return `
${ERROR_VARIABLES}
BEGIN
  ${insert(false)}
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  BEGIN
    ${insert(true)}
  EXCEPTION WHEN OTHERS THEN
    ${GET_ERROR}
    ${recordRowFailure(spec)}
  END;
  RETURN NULL;
END
`;
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
  if (!comment?.startsWith(MARKER_PREFIX)) return undefined;
  try {
    const marker = JSON.parse(comment.slice(MARKER_PREFIX.length)) as Marker;
    return marker.v === 1 ? marker : undefined;
  } catch {
    return undefined;
  }
}

/** Creates or replaces the function, its marker and its trigger. */
export function createCaptureSql(object: CaptureObject): string[] {
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

export const ROWS_MARKER_PREFIX = 'nudge:rows ';

/**
 * Creates the rows table of a typed capture (idempotently: a redeploy finds
 * it as it is, since its name carries its shape). The column types are read
 * from the user's table when the deploy runs, fully
 * qualified (search_path is pg_catalog alone while format_type runs), so the
 * copy is exact whatever the types are. No constraints and no index: the copy
 * must cost the user's write as little as possible, and the pump reads the
 * whole (normally near-empty) table anyway.
 */
function rowsTableSql(
  table: TableName,
  operation: Operation,
  rows: { table: string; columns: string[] },
): string[] {
  const target = ident('nudge', rows.table);
  const marker = { v: 1, schema: table.schema, table: table.table, operation };
  const addColumns = `
DECLARE
  saved text := current_setting('search_path');
  c record;
BEGIN
  PERFORM set_config('search_path', 'pg_catalog', true);
  FOR c IN
    SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type
      FROM pg_attribute a
     WHERE a.attrelid = ${literal(ident(table.schema, table.table))}::regclass
       AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname = ANY (ARRAY[${rows.columns.map(literal).join(', ')}]::text[])
     ORDER BY a.attnum
  LOOP
    EXECUTE format('ALTER TABLE nudge.%I ADD COLUMN IF NOT EXISTS %I %s', ${literal(rows.table)}, c.attname, c.type);
  END LOOP;
  PERFORM set_config('search_path', saved, true);
END
`;
  return [
    `CREATE TABLE IF NOT EXISTS ${target} (
  "nudge:id" bigint NOT NULL DEFAULT nextval('nudge.event_log_id_seq'::regclass),
  "nudge:at" timestamptz NOT NULL DEFAULT now()
)`,
    `DO ${dollarQuote(addColumns, 'rows')}`,
    `COMMENT ON TABLE ${target} IS ${literal(ROWS_MARKER_PREFIX + JSON.stringify(marker))}`,
  ];
}

/**
 * Drops a rows table no capture writes to any more, once the pump has
 * emptied it. NOWAIT: a transaction that wrote to it and has not committed
 * yet holds a lock, and its rows must not be lost; the drop is then skipped
 * (a later deploy retries) rather than waiting.
 */
export function dropRowsTableSql(name: string): string {
  const target = ident('nudge', name);
  const body = `
BEGIN
  IF to_regclass(${literal(target)}) IS NOT NULL THEN
    BEGIN
      LOCK TABLE ${target} IN ACCESS EXCLUSIVE MODE NOWAIT;
      IF NOT EXISTS (SELECT FROM ${target}) THEN
        DROP TABLE ${target};
      END IF;
    EXCEPTION WHEN lock_not_available THEN
      NULL;
    END;
  END IF;
END
`;
  return `DO ${dollarQuote(body, 'rows')}`;
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
