// The fallback every trigger body shares (outbox, typed rows, webhook): its
// error variables, the last resort that records the rows in
// nudge.failed_events when capturing them failed, and the warning when even
// that fails. Nothing here raises: a capture never fails the user's write.
import { literal } from '../../db/quote.js';
import { formatTableName, type TableName } from '../../source/names.js';
import type { Operation } from '../triggers.js';
import type { TriggerBodySpec } from './port.js';

/** schema_name, table_name, operation as SQL literals, as outbox and failure rows start. */
export function captureConstants(table: TableName, operation: Operation): string {
  return `${literal(table.schema)}, ${literal(table.table)}, ${literal(operation)}`;
}

/** The DECLARE block every capture body starts with, and GET_ERROR fills. */
export const ERROR_VARIABLES = `DECLARE
  err_state text;
  err_message text;
  err_detail text;
  err_context text;`;

export const GET_ERROR = `GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                          err_detail = PG_EXCEPTION_DETAIL, err_context = PG_EXCEPTION_CONTEXT;`;

export function lastResort(table: TableName, operation: Operation): string {
  return `EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'nudge: % on % was not captured (%: %), and recording the failure failed too: %',
      ${literal(operation)}, ${literal(formatTableName(table))}, err_state, err_message, SQLERRM;`;
}

/**
 * The last resort of a statement-level body: the rows go to nudge.failed_events.
 * The error variables are read outside the query over the user's rows: a
 * column of the same name (`err_state`) would make them ambiguous, and the
 * insert would fail.
 */
export function recordFailure(spec: TriggerBodySpec): string {
  const { table, operation, rows } = spec;
  const single = operation === 'insert' ? 'new_row' : 'old_row';
  const constants = captureConstants(table, operation);
  return `BEGIN
    INSERT INTO nudge.failed_events
      (schema_name, table_name, operation, ${single}, sqlstate, message, detail, context)
    SELECT ${constants}, f.r, err_state, err_message, err_detail, err_context
      FROM (SELECT ${spec.json('n', { jsonb: true, present: true })} AS r FROM ${rows} AS n) AS f;
  ${lastResort(table, operation)}
  END;`;
}

/** Which rows a row-level trigger of this operation has: NEW (insert, update), OLD (update, delete). */
export function rowSides(operation: Operation): { NEW: boolean; OLD: boolean } {
  return { NEW: operation !== 'delete', OLD: operation !== 'insert' };
}

/** The last resort of a row-level body: the row (an update's pair) goes to nudge.failed_events. */
export function recordRowFailure(spec: TriggerBodySpec): string {
  const { table, operation } = spec;
  const sides = rowSides(operation);
  const row = (alias: 'NEW' | 'OLD') =>
    sides[alias] ? spec.json(alias, { jsonb: true, present: true }) : 'NULL';
  return `BEGIN
    INSERT INTO nudge.failed_events
      (schema_name, table_name, operation, new_row, old_row, sqlstate, message, detail, context)
    VALUES (${captureConstants(table, operation)}, ${row('NEW')}, ${row('OLD')}, err_state, err_message, err_detail, err_context);
  ${lastResort(table, operation)}
  END;`;
}
