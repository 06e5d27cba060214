// Many rows as one parameter: a JSON array of objects that the server turns
// into rows with json_to_recordset. It replaces one array parameter per
// column: postgres.js escapes every element of a text array in JavaScript
// (JSON values twice over), which cost the engine a third more CPU per row
// than one JSON.stringify (measured, 10- and 200-row batches). Objects meant
// for json/jsonb columns stay objects; dates become ISO strings.
import type postgres from 'postgres';

/**
 * `json_to_recordset(<rows>)` as `<alias>` with `<columns>`, for a FROM clause.
 * `columns` and `alias` are trusted SQL from the caller ("at timestamptz,
 * feature text, ..."), the keys of each row named like the columns.
 */
export function records(
  sql: postgres.Sql | postgres.TransactionSql,
  rows: readonly Record<string, unknown>[],
  columns: string,
  alias = 'r',
): postgres.PendingQuery<postgres.Row[]> {
  // Text, then json: postgres.js would encode a string bound as json a second time.
  // The limit tells the planner how many rows come: it reckons 100 for any
  // json_to_recordset, and joined to a table of a few thousand rows that
  // made an update of two runs read the whole table (docs/benchmarks.md).
  return sql`(select * from json_to_recordset(${JSON.stringify(rows)}::text::json) as x(${sql.unsafe(columns)}) limit ${rows.length}) as ${sql.unsafe(alias)}`;
}
