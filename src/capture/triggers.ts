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
// Functions are SECURITY DEFINER (owned by the deploying role) so that writes
// made as `authenticated` through PostgREST are captured although that role
// has no access to schema nudge. Every identifier is quoted; values that must
// be inlined in DDL are escaped literals.
import { createHash } from 'node:crypto';
import { ident, literal } from '../db/quote.js';
import { formatTableName, type TableName } from '../source/names.js';

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
}

export const MARKER_PREFIX = 'nudge:capture ';
const NEW_ROWS = 'nudge_new_rows';
const OLD_ROWS = 'nudge_old_rows';

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

/** Merges every need for one (table, operation) into the object to deploy. */
export function buildCaptureObject(
  needs: CaptureNeed[],
  options: { transport?: CaptureTransport } = {},
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
  const body = transport
    ? transport.body({
        table,
        operation,
        level,
        rows: operation === 'insert' ? NEW_ROWS : OLD_ROWS,
        filter,
        enrich: enrichments.length > 0,
      })
    : level === 'row'
      ? rowBody(table, operation, filter, enrichments.length > 0)
      : statementBody(table, operation, filter, enrichments.length > 0);
  return {
    table,
    operation,
    level,
    functionName: functionNameFor(table, operation),
    triggerName: triggerNameFor(operation),
    body,
    hash: sha256(body),
    usedBy: [...new Set(needs.map((need) => need.by))].sort(),
    enrichments,
    ...(transport ? { transport: transport.label } : {}),
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

const ERROR_VARIABLES = `DECLARE
  err_state text;
  err_message text;
  err_detail text;
  err_context text;`;

const GET_ERROR = `GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                          err_detail = PG_EXCEPTION_DETAIL, err_context = PG_EXCEPTION_CONTEXT;`;

function lastResort(table: TableName, operation: Operation): string {
  return `EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'nudge: % on % was not captured (%: %), and recording the failure failed too: %',
      ${literal(operation)}, ${literal(formatTableName(table))}, err_state, err_message, SQLERRM;`;
}

/** Rows per event_log row for statement-level captures. */
export const CHUNK_ROWS = 1000;

function statementBody(
  table: TableName,
  operation: Operation,
  filter: string | undefined,
  enrich: boolean,
): string {
  const rows = operation === 'insert' ? NEW_ROWS : OLD_ROWS;
  const [column, single] =
    operation === 'insert' ? ['new_rows', 'new_row'] : ['old_rows', 'old_row'];
  const constants = `${literal(table.schema)}, ${literal(table.table)}, ${literal(operation)}`;
  const enrichOne = (json: string) =>
    `nudge.enrich(${literal(table.schema)}, ${literal(table.table)}, ${json})`;
  const where = filter ? `\n     WHERE ${filter}` : '';
  const rowType = ident(table.schema, table.table);
  // A one-row statement (most app writes) skips the aggregate: measurably
  // cheaper, see docs/benchmarks.md. Larger ones are chunked in one query that
  // collects typed rows and serializes each chunk once (array_to_json), which
  // is cheaper than building JSON row by row. Whole-row references are
  // written `n.*`: a bare `n` would mean a user column named n, if there is one.
  return `
${ERROR_VARIABLES}
BEGIN
  IF (SELECT count(*) FROM ${rows}) = 1 THEN
    INSERT INTO nudge.event_log (schema_name, table_name, operation, row_count, ${column}, enrichment)
    SELECT ${constants}, 1, json_build_array(row_to_json(n.*)), ${enrich ? `json_build_array(${enrichOne('row_to_json(n.*)')})` : 'NULL'}
      FROM ${rows} AS n${where};
  ELSE
    INSERT INTO nudge.event_log (schema_name, table_name, operation, row_count, ${column}, enrichment)
    SELECT ${constants}, count(*), array_to_json(array_agg(c.r ORDER BY c.i)), ${enrich ? `json_agg(${enrichOne('row_to_json(c.r)')} ORDER BY c.i)` : 'NULL'}
      FROM (SELECT ROW(n.*)::${rowType} AS r, row_number() OVER () - 1 AS i
              FROM ${rows} AS n${filter ? `\n             WHERE ${filter}` : ''}) AS c
     GROUP BY c.i / ${CHUNK_ROWS}
     ORDER BY c.i / ${CHUNK_ROWS};
  END IF;
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  ${GET_ERROR}
  BEGIN
    INSERT INTO nudge.failed_events
      (schema_name, table_name, operation, ${single}, sqlstate, message, detail, context)
    SELECT ${constants}, to_jsonb(n.*), err_state, err_message, err_detail, err_context
      FROM ${rows} AS n;
  ${lastResort(table, operation)}
  END;
  RETURN NULL;
END
`;
}

function rowBody(
  table: TableName,
  operation: Operation,
  filter: string | undefined,
  enrich: boolean,
): string {
  const constants = `${literal(table.schema)}, ${literal(table.table)}, ${literal(operation)}`;
  const enrichment = enrich
    ? `json_build_array(nudge.enrich(${literal(table.schema)}, ${literal(table.table)}, row_to_json(NEW)))`
    : 'NULL';
  const insert = `INSERT INTO nudge.event_log (schema_name, table_name, operation, row_count, new_rows, old_rows, enrichment)
    VALUES (${constants}, 1, json_build_array(row_to_json(NEW)), json_build_array(row_to_json(OLD)), ${enrichment});`;
  return `
${ERROR_VARIABLES}
BEGIN
  ${filter ? `IF ${filter} THEN\n    ${insert}\n  END IF;` : insert}
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  ${GET_ERROR}
  BEGIN
    INSERT INTO nudge.failed_events
      (schema_name, table_name, operation, new_row, old_row, sqlstate, message, detail, context)
    VALUES (${constants}, to_jsonb(NEW), to_jsonb(OLD), err_state, err_message, err_detail, err_context);
  ${lastResort(table, operation)}
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
    `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $nudge$${object.body}$nudge$`,
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
  options: { transport?: CaptureTransport } = {},
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
