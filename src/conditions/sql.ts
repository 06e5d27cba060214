// Compiles a condition to a SQL boolean expression for segments, scheduled
// features, backfills and trigger WHEN clauses. The caller owns identifiers
// (column() returns quoted SQL) and parameters (param() returns a
// placeholder); every value the user wrote, JSON keys included, goes through
// param(), so nothing the user typed is ever spliced into the SQL text.
//
// The expression has SQL's own three-valued logic; a caller keeps a row only
// when it is true (`WHERE <expr>` does that, elsewhere write `(<expr>) IS TRUE`).
import type { Condition, FieldRef, TestNode } from './ast.js';
import { isIndexStep } from './filter.js';
import type { ValueType } from './types.js';
import { type Operand, planTest, type TestPlan } from './values.js';

export interface SqlOptions {
  /** The SQL for a field's column (already quoted, e.g. `n."total"`) and its type. JSON paths are added here. */
  column(field: FieldRef): { sql: string; type: ValueType };
  /** Registers a value and returns its placeholder text, e.g. `$3::numeric`. */
  param(value: unknown, type: ValueType): string;
  /** The SQL for the clock: a parameter, so JS and SQL share one `now`. */
  now(): string;
}

interface Rendered {
  sql: string;
  /** Already safe to embed under NOT without parentheses. */
  atomic: boolean;
}

const COMPARISON_SQL = { eq: '=', neq: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
const IS_SQL = {
  null: 'IS NULL',
  not_null: 'IS NOT NULL',
  true: 'IS TRUE',
  false: 'IS FALSE',
  unknown: 'IS UNKNOWN',
} as const;

/** A column reference or qualified name that needs no parentheses around it. */
const SIMPLE_REFERENCE =
  /^(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)(?:\.(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*))*$/;

/** Compiles to a SQL boolean expression. Throws ConditionError for literals that do not fit the column type. */
export function compileSql(condition: Condition, options: SqlOptions): string {
  return render(condition, options).sql;
}

function render(condition: Condition, options: SqlOptions): Rendered {
  switch (condition.kind) {
    case 'and':
    case 'or': {
      if (condition.items.length === 0) {
        return { sql: condition.kind === 'and' ? 'TRUE' : 'FALSE', atomic: true };
      }
      const items = condition.items.map((item) => render(item, options));
      if (items.length === 1) return items[0]!;
      const joiner = condition.kind === 'and' ? ' AND ' : ' OR ';
      return { sql: `(${items.map((item) => item.sql).join(joiner)})`, atomic: true };
    }
    case 'not':
      return { sql: `NOT ${parenthesize(render(condition.item, options))}`, atomic: false };
    case 'test':
      return renderTest(condition, options);
  }
}

function parenthesize(rendered: Rendered): string {
  return rendered.atomic ? rendered.sql : `(${rendered.sql})`;
}

function renderTest(test: TestNode, options: SqlOptions): Rendered {
  const column = options.column(test.field);
  const plan = planTest(test, column.type);
  const value = valueSql(test.field, column.sql, plan, options);
  const sql = predicateSql(plan, value, options);
  return test.negated ? { sql: `NOT (${sql})`, atomic: false } : { sql, atomic: false };
}

/** The compared value: the column, down its JSON path, or an unknown type's JSON text. */
function valueSql(field: FieldRef, columnSql: string, plan: TestPlan, options: SqlOptions): string {
  const column = SIMPLE_REFERENCE.test(columnSql) ? columnSql : `(${columnSql})`;
  if (field.jsonPath.length > 0) {
    const steps = field.jsonPath.map((step, index) => {
      const arrow = field.text && index === field.jsonPath.length - 1 ? '->>' : '->';
      // jsonb -> int indexes arrays; jsonb -> text names keys.
      const key = isIndexStep(step)
        ? `${options.param(step, 'integer')}::int`
        : options.param(step, 'text');
      return `${arrow} ${key}`;
    });
    return `(${column} ${steps.join(' ')})`;
  }
  if (plan.type === 'unknown') return `(to_jsonb(${column}) #>> '{}')`;
  return column;
}

function predicateSql(plan: TestPlan, value: string, options: SqlOptions): string {
  const { test, kind } = plan;
  if (test.op === 'is') return `${value} ${IS_SQL[test.value]}`;
  const operands = plan.operands.map((operand) => operandSql(plan, operand, options));
  // jsonb equality needs both sides jsonb (a json column has no = at all).
  const equalityValue = kind === 'json' ? `${value}::jsonb` : value;
  switch (test.op) {
    case 'in':
      return `${equalityValue} IN (${operands.join(', ')})`;
    case 'like':
    case 'ilike':
      return `${value} COLLATE "C" ${test.op.toUpperCase()} ${operands[0]}`;
    case 'eq':
    case 'neq':
      return `${equalityValue} ${COMPARISON_SQL[test.op]} ${operands[0]}`;
    default: {
      // Text orders byte-wise (code points), whatever the database's locale.
      const ordered = kind === 'text' ? `${value} COLLATE "C"` : value;
      return `${ordered} ${COMPARISON_SQL[test.op]} ${operands[0]}`;
    }
  }
}

/**
 * A literal's placeholder, or the clock for `now()±N`: the offset is a
 * parameter in whole seconds (exact in interval arithmetic), and for
 * `timestamp`/`date` fields the clock becomes UTC wall time, which is how
 * those values are read on the JavaScript side.
 */
function operandSql(plan: TestPlan, operand: Operand, options: SqlOptions): string {
  if (operand.kind === 'literal') return options.param(operand.paramValue, operand.paramType);
  let clock = options.now();
  if (operand.offsetSeconds !== 0) {
    const sign = operand.offsetSeconds < 0 ? '-' : '+';
    const seconds = options.param(String(Math.abs(operand.offsetSeconds)), 'integer');
    clock = `(${clock} ${sign} ${seconds} * interval '1 second')`;
  }
  return plan.type === 'timestamptz' ? clock : `(${clock} AT TIME ZONE 'UTC')`;
}
