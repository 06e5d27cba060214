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
