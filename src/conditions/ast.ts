// The condition AST that the parser builds and both compilers read, and the
// one error type for conditions a user wrote wrong (with the path to the
// offending spot inside the YAML value, so the caller can point at file:line).

/** A path inside the condition value as the YAML gave it: `['or', 1, 'new.total']`. */
export type Path = readonly (string | number)[];

/** A condition the user wrote wrong. `path` points into the condition value. */
export class ConditionError extends Error {
  override name = 'ConditionError';
  constructor(
    readonly path: Path,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A reference to a value: `new.total`, `contact.email`, or a JSON path into a
 * json/jsonb column written PostgREST style, `new.meta->a->>b`. Steps that are
 * integers (`->0`, `->-1`) index arrays; every other step is an object key.
 */
export interface FieldRef {
  scope: string;
  column: string;
  jsonPath: string[];
  /** True when the last step is `->>`: the value is text, not jsonb. */
  text: boolean;
  /** The reference as written, for messages: `new.meta->>plan`. */
  raw: string;
}

export const COMPARISON_OPERATORS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte'] as const;
export const OPERATORS = [...COMPARISON_OPERATORS, 'like', 'ilike', 'in', 'is'] as const;
export const IS_VALUES = ['null', 'not_null', 'true', 'false', 'unknown'] as const;

export type ComparisonOperator = (typeof COMPARISON_OPERATORS)[number];
export type Operator = (typeof OPERATORS)[number];
export type IsValue = (typeof IS_VALUES)[number];

interface TestBase {
  kind: 'test';
  field: FieldRef;
  /** Written with `not.`: the test's SQL is wrapped in NOT (three-valued). */
  negated: boolean;
  /** The filter as written, for messages and the decision log: `not.gt.100`. */
  filter: string;
  /** Where the test was written. */
  path: Path;
}

/**
 * A leaf. Values stay as the text the user wrote: what they mean depends on
 * the field's type, which only the compilers know. For like/ilike the value
 * is already a PostgreSQL LIKE pattern (PostgREST's `*` turned into `%`).
 */
export type TestNode = TestBase &
  (
    | { op: ComparisonOperator | 'like' | 'ilike'; value: string }
    | { op: 'in'; value: string[] }
    | { op: 'is'; value: IsValue }
  );

export type Condition =
  | { kind: 'and'; items: Condition[]; path: Path }
  | { kind: 'or'; items: Condition[]; path: Path }
  | { kind: 'not'; item: Condition; path: Path }
  | TestNode;

/** Every test (leaf) of a condition, in the order written. */
export function testsOf(condition: Condition): TestNode[] {
  switch (condition.kind) {
    case 'test':
      return [condition];
    case 'not':
      return testsOf(condition.item);
    default:
      return condition.items.flatMap(testsOf);
  }
}

/**
 * Every field reference, in the order written (repeats included), so the
 * caller can check columns against the live schema.
 */
export function fieldsOf(condition: Condition): FieldRef[] {
  return testsOf(condition).map((test) => test.field);
}

/** `new.total gt.100`: a test as the user wrote it. */
export function describeTest(test: TestNode): string {
  return `${test.field.raw} ${test.filter}`;
}
