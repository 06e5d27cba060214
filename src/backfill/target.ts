// What a backfill reads: the table a feature triggers on, the operation its
// rows enter as, and the SQL that selects them — the feature's own trigger
// condition (when it reads only `new.*`) and the --where condition, compiled
// to parameterized SQL, keyset-paged on the primary key so a run can stop and
// resume anywhere.
import { capturable, columnOf, type ExcludedColumns, rowJson } from '../capture/columns.js';
import { namedEvent } from '../capture/named-events.js';
import type { Operation } from '../capture/triggers.js';
import {
  type Condition,
  ConditionError,
  compileSql,
  numberedParams,
  testsOf,
  valueTypeOf,
} from '../conditions/index.js';
import { ident } from '../db/quote.js';
import { NudgeError, UsageError } from '../errors.js';
import type { Feature } from '../features/load.js';
import type { Catalog, Table } from '../source/catalog.js';
import { formatTableName } from '../source/names.js';

export interface BackfillTarget {
  feature: Feature;
  table: Table;
  /** The operation the rows enter as: insert whenever the trigger has it. */
  operation: Operation;
  /** The trigger condition, when SQL can test it (it reads only new.*): applied in the query. */
  triggerWhen?: Condition;
  where?: Condition;
}

/** The table and operation a feature's existing rows enter as; a clear error when it has none. */
export function backfillTarget(
  feature: Feature,
  catalog: Catalog,
  where?: Condition,
): BackfillTarget {
  const trigger = feature.trigger;
  let tableName: { schema: string; table: string };
  let operation: Operation;
  if (trigger.kind === 'event') {
    const named = namedEvent(trigger.event);
    if (!named) {
      throw new NudgeError(
        `${feature.name} triggers on the event "${trigger.event}", which no table holds: there are no existing rows to backfill`,
        'backfill works on features triggered by a table or by a Supabase event such as user.signed_up',
      );
    }
    tableName = named.table;
    operation = named.operation;
  } else if (trigger.kind === 'table') {
    tableName = trigger.table;
    operation = trigger.operations.includes('insert')
      ? 'insert'
      : trigger.operations.includes('update')
        ? 'update'
        : 'delete';
  } else {
    tableName = trigger.table;
    operation = 'insert';
  }
  if (operation === 'delete') {
    throw new NudgeError(
      `${feature.name} triggers on delete: existing rows have not been deleted, so none would enter`,
    );
  }
  const table = catalog.get(tableName);
  if (!table) throw new NudgeError(`table ${formatTableName(tableName)} does not exist`);
  if (table.primaryKey.length === 0) {
    throw new NudgeError(
      `table ${formatTableName(tableName)} has no primary key: a backfill needs one to enter each row once and to resume`,
    );
  }
  const when = trigger.when;
  const sqlTestable = when && testsOf(when).every((t) => t.field.scope === 'new');
  return {
    feature,
    table,
    operation,
    ...(sqlTestable ? { triggerWhen: when } : {}),
    ...(where ? { where } : {}),
  };
}

/** The WHERE clause of a target's rows and its parameter values (numbered from `startAt`). */
function filterOf(
  target: BackfillTarget,
  now: Date,
  startAt = 1,
): { sql: string; params: ReturnType<typeof numberedParams> } {
  const params = numberedParams(startAt, now);
  const column = (field: { column: string }) => {
    const found = target.table.columns.find((c) => c.name === field.column);
    if (!found) {
      throw new UsageError(
        `--where: ${formatTableName(target.table)} has no column "${field.column}"`,
        `columns: ${target.table.columns.map((c) => c.name).join(', ')}`,
      );
    }
    return { sql: columnOf('t')(field.column), type: valueTypeOf(found.type) };
  };
  const parts: string[] = [];
  // The trigger condition was checked against the live schema with the
  // feature; a value of --where that does not fit its column (`total=gt.abc`)
  // is only found here, and is the command line's mistake.
  if (target.triggerWhen) parts.push(compileSql(target.triggerWhen, { column, ...params }));
  if (target.where) {
    try {
      parts.push(compileSql(target.where, { column, ...params }));
    } catch (error) {
      if (!(error instanceof ConditionError)) throw error;
      throw new UsageError(
        `--where: ${error.message}`,
        'e.g. --where "total=gt.100&created_at=lt.2024-01-01" (numbers, ISO times, now()-7d)',
      );
    }
  }
  return { sql: parts.length ? parts.join(' AND ') : 'TRUE', params };
}

/** How many rows the target selects (after primary key `after`, when given). */
export function countQuery(
  target: BackfillTarget,
  now: Date,
  after: unknown[] | null = null,
): { text: string; values: unknown[] } {
  const filter = filterOf(target, now);
  const values = [...filter.params.values];
  return {
    text: `SELECT count(*)::float8 AS n FROM ${ident(target.table.schema, target.table.table)} AS t WHERE ${filter.sql}${keysetAfter(target.table, after, values)}`,
    values,
  };
}

/**
 * The next `limit` rows after primary key `after` (null: from the first), each
 * as the captured row (capturable columns only: never a credential) and its
 * key as a JSON array of text (a bigint past 2^53 stays exact).
 */
export function pageQuery(
  target: BackfillTarget,
  now: Date,
  after: unknown[] | null,
  limit: number,
  exclude: ExcludedColumns = {},
): { text: string; values: unknown[] } {
  const filter = filterOf(target, now);
  const { table } = target;
  const key = table.primaryKey.map(columnOf('t'));
  const values = [...filter.params.values];
  const keyset = keysetAfter(table, after, values);
  values.push(limit);
  const columns = capturable(
    table,
    table.columns.map((c) => c.name),
    exclude,
  );
  return {
    text: `SELECT ${rowJson(columnOf('t'), columns)} AS row, json_build_array(${key.map((k) => `${k}::text`).join(', ')}) AS key
             FROM ${ident(table.schema, table.table)} AS t
            WHERE ${filter.sql}${keyset}
            ORDER BY ${key.join(', ')} LIMIT $${values.length}`,
    values,
  };
}

/** ` AND (key) > (after)`, its values pushed onto `values`; '' from the first row. */
function keysetAfter(table: Table, after: unknown[] | null, values: unknown[]): string {
  if (!after) return '';
  const key = table.primaryKey.map(columnOf('t'));
  const placeholders = table.primaryKey.map((name, i) => {
    values.push(after[i] === null || after[i] === undefined ? null : String(after[i]));
    const type = table.columns.find((c) => c.name === name)!.type;
    return `$${values.length}::text::${type}`;
  });
  return ` AND (${key.join(', ')}) > (${placeholders.join(', ')})`;
}
