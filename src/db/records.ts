// Many rows as one parameter: a JSON array of objects that the server turns
// into rows with json_to_recordset. It replaces one array parameter per
// column: postgres.js escapes every element of a text array in JavaScript
// (JSON values twice over), which cost the engine a third more CPU per row
// than one JSON.stringify (measured, 10- and 200-row batches). Objects meant
// for json/jsonb columns stay objects (their numbers exact: db/json.ts);
// dates become ISO strings.
import type postgres from 'postgres';
import { stringifyJson } from './json.js';

/** A column list ("at timestamptz, detail jsonb") as the recordset reads it and as the select gives it. */
interface Shape {
  recordset: string;
  select: string;
}

const shapes = new Map<string, Shape>();

/**
 * jsonb columns are read from the recordset as json and cast: the same
 * values, but json_to_recordset fills a jsonb column several times slower
 * than the cast does (1000 inbox rows: 30 ms against 14 ms of the server's
 * time; docs/benchmarks.md, "records()"), and the inbox, the decision log
 * and the action runs all carry jsonb.
 */
function shapeOf(columns: string): Shape {
  let shape = shapes.get(columns);
  if (shape) return shape;
  const parsed = columns.split(',').map((column) => {
    const match = /^\s*([a-z_][a-z0-9_]*)\s+([a-z][a-z0-9_ ]*?)\s*$/.exec(column);
    if (!match) throw new Error(`records(): cannot read the column "${column.trim()}"`);
    return { name: match[1]!, type: match[2]! };
  });
  shape = {
    recordset: parsed.map((c) => `${c.name} ${c.type === 'jsonb' ? 'json' : c.type}`).join(', '),
    select: parsed
      .map((c) => (c.type === 'jsonb' ? `${c.name}::jsonb as ${c.name}` : c.name))
      .join(', '),
  };
  shapes.set(columns, shape);
  return shape;
}

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
  const shape = shapeOf(columns);
  // Text, then json: postgres.js would encode a string bound as json a second time.
  // The limit tells the planner how many rows come: it reckons 100 for any
  // json_to_recordset, and joined to a table of a few thousand rows that
  // made an update of two runs read the whole table (docs/benchmarks.md).
  return sql`(select ${sql.unsafe(shape.select)} from json_to_recordset(${stringifyJson(rows)}::text::json) as x(${sql.unsafe(shape.recordset)}) limit ${rows.length}) as ${sql.unsafe(alias)}`;
}
