// The outbox's typed-rows trigger body, not a capture.transport value: under
// capture: outbox, INSERT and DELETE captures without enrichment copy the
// captured columns, typed, into a rows table of their own, so no JSON is
// built in the user's write. The table is created with the trigger
// (createCaptureSql) and dropped once drained (dropRowsTableSql); one altered
// by hand is told from its shape (rowsTableChanges) and made again
// (remakeRowsTableSql).
import { dollarQuote, ident, literal } from '../../../db/quote.js';
import { formatName, type TableName } from '../../../source/names.js';
import { type CapturedColumn, functionNameFor, type Operation, sha256 } from '../../triggers.js';
import { recordFailure } from '../fallback.js';
import type { TriggerBody, TriggerBodySpec } from '../port.js';
import { guardedBody, jsonInsert } from './body.js';

/** The rows table a typed capture copies into, and the columns it copies. */
export interface RowsTable {
  table: string;
  columns: string[];
}

export function typedRowsBody(rows: RowsTable): TriggerBody {
  return { label: 'typed rows', body: (spec) => typedBody(spec, rows) };
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
function typedBody(spec: TriggerBodySpec, rows: RowsTable): string {
  const { filter, rows: transition } = spec;
  const list = rows.columns.map((column) => ident(column)).join(', ');
  const values = rows.columns.map((column) => `n.${ident(column)}`).join(', ');
  const copy = `INSERT INTO ${ident('nudge', rows.table)} (${list})
  SELECT ${values}
    FROM ${transition} AS n${filter ? `\n   WHERE ${filter}` : ''};`;
  return guardedBody(copy, jsonInsert(spec, false, true), recordFailure(spec));
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
export function rowsTableSql(table: TableName, operation: Operation, rows: RowsTable): string[] {
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

/**
 * A rows table as it is in the database (state.ts reads it): its columns,
 * the types the user's table gives the columns it copies (what deploy would
 * give them: rowsTableSql reads them from there), and its constraints.
 */
export interface RowsShape {
  columns: { name: string; type: string; notNull: boolean; hasDefault: boolean }[];
  /** format_type() of each of the user's table's columns, by name, read in the same session. */
  source: Record<string, string>;
  constraints: string[];
}

/** The metadata columns as rowsTableSql makes them: NOT NULL, with a default. */
const META_TYPES: Record<string, string> = {
  'nudge:id': 'bigint',
  'nudge:at': 'timestamp with time zone',
};

/** A metadata column as it is, where it is not what the pump reads (metadataProblems). */
interface MetadataProblem {
  column: string;
  /** Its type now; undefined when it was dropped. */
  type?: string;
  /** The type rowsTableSql gives it. */
  want: string;
}

/**
 * The metadata columns of a rows table that are gone or of another type:
 * the pump reads every rows table by them, in one statement, so one dropped
 * from a table no capture writes any more (an old one waiting to empty, or
 * one set aside) stops it, for that table and the others. One retyped is
 * read through a cast to its type (claim-captures.ts), so the pump keeps
 * going while its values cast back (text, timestamp); other values stop it.
 * metadataRepair gives them back.
 */
function metadataProblems(shape: RowsShape): MetadataProblem[] {
  const have = new Map(shape.columns.map((column) => [column.name, column.type]));
  return Object.entries(META_TYPES).flatMap(([column, want]) => {
    const type = have.get(column);
    if (type === want) return [];
    return [type === undefined ? { column, want } : { column, type, want }];
  });
}

/**
 * An old rows table's metadata columns given back (metadataProblems), for
 * the plan: its drift lines, what deploy does in words (`puts back
 * "nudge:at"`), and the statement, keeping what its rows hold. Undefined
 * when they are as made.
 */
export function metadataRepair(
  name: string,
  shape: RowsShape,
): { drift: string[]; does: string; sql: string } | undefined {
  const problems = metadataProblems(shape);
  if (!problems.length) return undefined;
  const dropped = problems.filter((p) => p.type === undefined);
  const retyped = problems.filter((p) => p.type !== undefined);
  const does = [
    ...(dropped.length
      ? [`puts back ${dropped.map((p) => formatName(p.column)).join(' and ')}`]
      : []),
    ...(retyped.length
      ? [`makes ${retyped.map((p) => `${formatName(p.column)} ${p.want}`).join(' and ')} again`]
      : []),
  ].join(' and ');
  return {
    drift: problems.map((p) =>
      p.type === undefined
        ? `column ${formatName(p.column)} was dropped by hand`
        : `column ${formatName(p.column)} is ${p.type}, not ${p.want}`,
    ),
    does,
    sql: `DO ${dollarQuote(`\nBEGIN${restoreMetadata(ident('nudge', name))}\nEND\n`, 'rows')}`,
  };
}

/**
 * PL/pgSQL statements giving a rows table (`target`, quoted) its metadata
 * columns as rowsTableSql makes them, keeping what its rows hold: a dropped
 * one is added (ids numbered anew, times now()); a retyped one is cast back
 * through text (exact for what the cast to another type kept: ids as text or
 * numeric, times as text or timestamp read in the deploying session's zone),
 * or, where a value does not cast, dropped and added as if it had been
 * dropped; a missing value is filled the same way; NOT NULL and the default
 * put back. Run with the table locked by the deploy.
 */
function restoreMetadata(target: string): string {
  const column = (name: string, fill: string) => {
    const col = ident(name);
    const type = META_TYPES[name]!;
    const exists = `FROM pg_attribute WHERE attrelid = ${literal(target)}::regclass AND attname = ${literal(name)} AND attnum > 0 AND NOT attisdropped`;
    const add = `ALTER TABLE ${target} ADD COLUMN ${col} ${type} NOT NULL DEFAULT ${fill};`;
    return `
  IF NOT EXISTS (SELECT ${exists}) THEN
    ${add}
  ELSIF (SELECT format_type(atttypid, atttypmod) ${exists}) <> ${literal(type)} THEN
    BEGIN
      ALTER TABLE ${target} ALTER COLUMN ${col} DROP DEFAULT;
      ALTER TABLE ${target} ALTER COLUMN ${col} TYPE ${type} USING ${col}::text::${type};
    EXCEPTION WHEN others THEN
      ALTER TABLE ${target} DROP COLUMN ${col};
      ${add}
    END;
  END IF;
  UPDATE ${target} SET ${col} = ${fill} WHERE ${col} IS NULL;
  ALTER TABLE ${target} ALTER COLUMN ${col} SET DEFAULT ${fill}, ALTER COLUMN ${col} SET NOT NULL;`;
  };
  return `${column('nudge:id', "nextval('nudge.event_log_id_seq'::regclass)")}${column('nudge:at', 'now()')}`;
}

/**
 * How a rows table differs from the one rowsTableSql would make for
 * `rows`, one phrase each (`column weight is text, not integer`); empty
 * when it is as made. Any difference counts: the copy lists its columns, so
 * one dropped, retyped or made NOT NULL, or an added NOT NULL column, makes
 * it fail (the rows go to event_log as JSON meanwhile); an added column the
 * pump would send as part of every row; a metadata column without its
 * default leaves rows without an id, which the pump cannot order.
 */
export function rowsTableChanges(rows: RowsTable, shape: RowsShape): string[] {
  const have = new Map(shape.columns.map((column) => [column.name, column]));
  const changes = metadataProblems(shape).map((p) =>
    p.type === undefined
      ? `column ${formatName(p.column)} was dropped`
      : `column ${formatName(p.column)} is ${p.type}, not ${p.want}`,
  );
  for (const column of shape.columns) {
    if (!(column.name in META_TYPES)) continue;
    if (!column.notNull) changes.push(`column ${formatName(column.name)} was made nullable`);
    if (!column.hasDefault) changes.push(`column ${formatName(column.name)} lost its default`);
  }
  for (const name of rows.columns) {
    const column = have.get(name);
    if (!column) {
      changes.push(`column ${formatName(name)} was dropped`);
      continue;
    }
    const want = shape.source[name];
    if (want !== undefined && column.type !== want)
      changes.push(`column ${formatName(name)} is ${column.type}, not ${want}`);
    if (column.notNull) changes.push(`column ${formatName(name)} was made NOT NULL`);
  }
  for (const column of shape.columns) {
    if (column.name in META_TYPES || rows.columns.includes(column.name)) continue;
    changes.push(
      `column ${formatName(column.name)} (${column.type}${column.notNull ? ' NOT NULL' : ''}) was added`,
    );
  }
  for (const name of shape.constraints) changes.push(`constraint ${formatName(name)} was added`);
  return changes;
}

/**
 * Makes way for a rows table altered by hand to be made again (rowsTableSql
 * follows): dropped when empty; when it holds rows, renamed aside
 * (`<name>_drift1`, keeping its marker) with its metadata columns as made
 * (restoreMetadata: dropped or retyped by hand), so the pump drains it as an old rows table in id order
 * and a later deploy drops it once empty (captureItems). Its rows are never
 * lost. Runs after createCaptureSql has locked the user's table: no writer
 * adds to it meanwhile.
 */
export function remakeRowsTableSql(name: string): string {
  const target = ident('nudge', name);
  const body = `
DECLARE
  aside text;
  n integer := 1;
BEGIN
  IF to_regclass(${literal(target)}) IS NULL THEN
    RETURN;
  END IF;
  LOCK TABLE ${target} IN ACCESS EXCLUSIVE MODE;
  IF NOT EXISTS (SELECT FROM ${target}) THEN
    DROP TABLE ${target};
    RETURN;
  END IF;
  LOOP
    aside := ${literal(name)} || '_drift' || n;
    EXIT WHEN to_regclass(format('nudge.%I', aside)) IS NULL;
    n := n + 1;
  END LOOP;
${restoreMetadata(target)}
  EXECUTE format('ALTER TABLE nudge.%I RENAME TO %I', ${literal(name)}, aside);
END
`;
  return `DO ${dollarQuote(body, 'rows')}`;
}
