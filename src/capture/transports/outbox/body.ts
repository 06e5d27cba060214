// The outbox's JSON trigger body (capture: outbox, the default): the trigger
// writes the captured rows as JSON into nudge.event_log, in the user's
// transaction. Statement-level bodies for INSERT and DELETE (one row per 1000
// captured rows), a row-level body for UPDATE (the pair before and after).
// Typed rows (typed-rows.ts) fall back to its JSON insert; both take the
// shape of guardedBody.
import { literal } from '../../../db/quote.js';
import {
  captureConstants,
  ERROR_VARIABLES,
  GET_ERROR,
  recordFailure,
  recordRowFailure,
  rowSides,
} from '../fallback.js';
import type { TriggerBody, TriggerBodySpec } from '../port.js';

export const outboxBody: TriggerBody = {
  body: (spec) => (spec.level === 'row' ? rowBody(spec) : statementBody(spec)),
};

/** Rows per event_log row for statement-level captures. */
export const CHUNK_ROWS = 1000;

/**
 * JSON into nudge.event_log. When that fails (say a column was dropped since
 * the deploy), it is tried again reading the columns by name from the row as
 * it is now; only when that fails too do the rows go to failed_events. The
 * inner block costs nothing until the first attempt fails.
 */
function statementBody(spec: TriggerBodySpec): string {
  return guardedBody(
    jsonInsert(spec, spec.enrich),
    jsonInsert(spec, spec.enrich, true),
    recordFailure(spec),
  );
}

/**
 * The JSON capture of a statement's rows into nudge.event_log: the body of
 * statement-level captures that need JSON at trigger time (enrichment), and
 * the fallback of typed ones.
 */
export function jsonInsert(spec: TriggerBodySpec, enrich: boolean, present = false): string {
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

/**
 * The row-level body (UPDATE; INSERT and DELETE on a partitioned table): as
 * statementBody, one row (an UPDATE's pair) at a time.
 */
function rowBody(spec: TriggerBodySpec): string {
  const { table, operation, filter } = spec;
  const constants = captureConstants(table, operation);
  const insert = (present: boolean) => {
    const json = (alias: string) => spec.json(alias, { present });
    const rows = (alias: 'NEW' | 'OLD') =>
      rowSides(operation)[alias] ? `json_build_array(${json(alias)})` : 'NULL';
    const enrichment = spec.enrich
      ? `json_build_array(nudge.enrich(${literal(table.schema)}, ${literal(table.table)}, ${json(operation === 'delete' ? 'OLD' : 'NEW')}))`
      : 'NULL';
    const values = `INSERT INTO nudge.event_log (schema_name, table_name, operation, row_count, new_rows, old_rows, enrichment)
    VALUES (${constants}, 1, ${rows('NEW')}, ${rows('OLD')}, ${enrichment});`;
    return filter ? `IF ${filter} THEN\n    ${values}\n  END IF;` : values;
  };
  return guardedBody(insert(false), insert(true), recordRowFailure(spec));
}

/**
 * The shape of every outbox and typed-rows body: `attempt`; if it fails,
 * `fallback` (the same rows as JSON, read by name from the row as it is now);
 * if that fails too, `failure` records them in failed_events. The inner
 * block, a subtransaction, is entered only after the first attempt failed,
 * so the common path pays for one exception block, not two.
 */
export function guardedBody(attempt: string, fallback: string, failure: string): string {
  return `
${ERROR_VARIABLES}
BEGIN
  ${attempt}
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  BEGIN
    ${fallback}
  EXCEPTION WHEN OTHERS THEN
    ${GET_ERROR}
    ${failure}
  END;
  RETURN NULL;
END
`;
}
