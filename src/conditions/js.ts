// Compiles a condition to a JavaScript predicate for events: rows arrive as
// PostgreSQL serialises them (to_jsonb() then JSON.parse), and the answer
// must be the one the SQL compiler's WHERE clause would give for that row.
//
// Three-valued logic, as in SQL: a test on a NULL (or missing) value is
// unknown, not false; `not` of unknown stays unknown; AND is false if any
// item is false, else unknown if any is unknown; OR is true if any item is
// true, else unknown if any is unknown. `is` is the exception: it always
// answers true or false. The condition holds only when the whole is true,
// as WHERE keeps a row only when its expression is true.
import { type Condition, describeTest, type FieldRef, type TestNode } from './ast.js';
import { followPath } from './json.js';
import { likeMatcher } from './like.js';
import { millisOf } from './time.js';
import type { ValueType } from './types.js';
import {
  attributeValue,
  type Comparable,
  compareValues,
  equalValues,
  planTest,
  rowValue,
} from './values.js';

export type Row = Record<string, unknown>;

/** Rows by scope (`new`, `old`, `contact`; absent or null when there is none) and the shared clock. */
export interface EvaluationContext {
  readonly now: Date;
  readonly [scope: string]: Row | null | undefined | Date;
}

export interface Verdict {
  result: boolean;
  /** When false: the test whose outcome made the condition not true (best effort). */
  failed?: TestNode;
  /** What that test itself answered (true when under a `not`, null for unknown) and the value it read. */
  detail?: { outcome: boolean | null; value: unknown };
}

export interface JsOptions {
  /** The type of a field's column (before any JSON path), from the live schema. */
  typeOf(field: FieldRef): ValueType;
  /**
   * Whether a field's value is JSON that may not have the field's type, and
   * reads as NULL when it has not (attributeValue). By default contact.*:
   * a contact's attributes are JSON whatever type nudge.yaml declares, and
   * segment SQL reads them through nudge_engine.attribute_<type>(); its own
   * fields (id, email, created_at, ...) always have their type.
   */
  fromJson?(field: FieldRef): boolean;
}

const contactScope = (field: FieldRef) => field.scope === 'contact';

type Truth = boolean | null;

interface Outcome {
  truth: Truth;
  /** The test that decided this outcome, and its own answer. */
  leaf?: TestNode;
  leafTruth?: Truth;
}

interface Env {
  ctx: EvaluationContext;
  /** The clock, checked valid before anything is evaluated. */
  nowMillis: number;
  /** The clock in microseconds: worked out only when a `now()` operand asks (nowMicros). */
  micros?: bigint;
}

function nowMicros(env: Env): bigint {
  env.micros ??= BigInt(env.nowMillis) * 1000n;
  return env.micros;
}

type Evaluate = (env: Env) => Outcome;

/** Compiles to a predicate. Throws ConditionError for literals that do not fit the column type. */
export function compileJs(
  condition: Condition,
  options: JsOptions,
): (ctx: EvaluationContext) => Verdict {
  const evaluate = compileNode(condition, options);
  return (ctx) => {
    const outcome = evaluate({ ctx, nowMillis: millisOf(ctx.now) });
    if (outcome.truth === true) return { result: true };
    if (!outcome.leaf) return { result: false };
    const value = readField(outcome.leaf.field, ctx);
    return {
      result: false,
      failed: outcome.leaf,
      detail: { outcome: outcome.leafTruth ?? null, value: value === undefined ? null : value },
    };
  };
}

/** `new.total gt.100 was false (value 40)`, for the decision log. */
export function explain(verdict: Verdict): string {
  if (verdict.result) return 'condition held';
  if (!verdict.failed || !verdict.detail) return 'condition did not hold';
  const { outcome, value } = verdict.detail;
  let shown = JSON.stringify(value, (_key, item) =>
    typeof item === 'bigint' ? String(item) : item,
  );
  if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  return `${describeTest(verdict.failed)} was ${outcome === null ? 'unknown' : outcome} (value ${shown})`;
}

function compileNode(condition: Condition, options: JsOptions): Evaluate {
  switch (condition.kind) {
    case 'and':
    case 'or':
      return compileGroup(
        condition.kind,
        condition.items.map((item) => compileNode(item, options)),
      );
    case 'not': {
      const item = compileNode(condition.item, options);
      return (env) => {
        const outcome = item(env);
        return { ...outcome, truth: outcome.truth === null ? null : !outcome.truth };
      };
    }
    case 'test': {
      const test = compileTest(condition, options);
      const outcomes = new Map<Truth, Outcome>(
        [true, false, null].map((truth) => [truth, { truth, leaf: condition, leafTruth: truth }]),
      );
      return (env) => outcomes.get(test(env))!;
    }
  }
}

/**
 * Kleene AND/OR. AND stops at the first false item (which is the reason the
 * whole is false), OR at the first true one; otherwise the first unknown item
 * decides, and failing that the first item.
 */
function compileGroup(kind: 'and' | 'or', items: Evaluate[]): Evaluate {
  const decisive = kind === 'or';
  const empty: Outcome = { truth: !decisive };
  return (env) => {
    let unknown: Outcome | undefined;
    let first: Outcome | undefined;
    for (const item of items) {
      const outcome = item(env);
      if (outcome.truth === decisive) return outcome;
      if (outcome.truth === null) unknown ??= outcome;
      first ??= outcome;
    }
    return unknown ?? first ?? empty;
  };
}

/** A missing row, a missing column and NULL all read as undefined (SQL NULL). */
function readField(field: FieldRef, ctx: EvaluationContext): unknown {
  const row = ctx[field.scope] as Row | null | undefined;
  if (row === null || row === undefined || !Object.hasOwn(row, field.column)) return undefined;
  const column = row[field.column];
  if (column === null || column === undefined) return undefined;
  if (field.jsonPath.length === 0) return column;
  const value = followPath(column, field.jsonPath);
  // `->>` turns JSON null into SQL NULL; `->` keeps it as a jsonb value.
  return field.text && value === null ? undefined : value;
}

function compileTest(test: TestNode, options: JsOptions): (env: Env) => Truth {
  const plan = planTest(test, options.typeOf(test.field));
  const { kind } = plan;
  const fromJson =
    (options.fromJson ?? contactScope)(test.field) && test.field.jsonPath.length === 0;
  const readValue = fromJson ? attributeValue : rowValue;
  const read = (env: Env) => readValue(plan, readField(test.field, env.ctx));
  const flip = (truth: Truth): Truth => (test.negated && truth !== null ? !truth : truth);

  if (test.op === 'is') {
    const expected = test.value;
    return (env) => {
      const value = read(env);
      let truth: boolean;
      if (expected === 'null' || expected === 'unknown') truth = value === undefined;
      else if (expected === 'not_null') truth = value !== undefined;
      else truth = value === (expected === 'true');
      return flip(truth);
    };
  }

  if (test.op === 'like' || test.op === 'ilike') {
    const matches = likeMatcher(test.value, test.op === 'ilike');
    return (env) => {
      const value = read(env);
      return flip(value === undefined ? null : matches(value as string));
    };
  }

  // Literals are fixed (worked out once when every operand is one); `now()±N`
  // follows the clock of each evaluation.
  const literals = plan.operands.every((operand) => operand.kind === 'literal')
    ? plan.operands.map((operand) => operand.js)
    : undefined;
  const operands = (env: Env): Comparable[] =>
    literals ??
    plan.operands.map((operand) =>
      operand.kind === 'literal'
        ? operand.js
        : nowMicros(env) + BigInt(operand.offsetSeconds) * 1_000_000n,
    );
  const op = test.op;
  return (env) => {
    const value = read(env);
    if (value === undefined) return null;
    const items = operands(env);
    if (op === 'in') return flip(items.some((item) => equalValues(kind, value, item)));
    const operand = items[0];
    switch (op) {
      case 'eq':
        return flip(equalValues(kind, value, operand));
      case 'neq':
        return flip(!equalValues(kind, value, operand));
      case 'gt':
        return flip(compareValues(kind, value, operand) > 0);
      case 'gte':
        return flip(compareValues(kind, value, operand) >= 0);
      case 'lt':
        return flip(compareValues(kind, value, operand) < 0);
      case 'lte':
        return flip(compareValues(kind, value, operand) <= 0);
    }
  };
}
