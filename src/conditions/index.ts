// Nudge's condition language: one parser for the PostgREST-flavoured YAML
// conditions, and two compilers that must agree row for row: a JavaScript
// predicate for events and parameterized SQL for segments and triggers.
export {
  type Condition,
  ConditionError,
  describeTest,
  type FieldRef,
  fieldsOf,
  type IsValue,
  type Operator,
  type Path,
  type TestNode,
  testsOf,
} from './ast.js';
export { parseField } from './filter.js';
export {
  compileJs,
  type EvaluationContext,
  explain,
  type JsOptions,
  type Row,
  type Verdict,
} from './js.js';
export { inlineLiterals, numberedParams, type ParamSink, quoteLiteral } from './params.js';
export { type ParseOptions, parseCondition } from './parse.js';
export { compileSql, type SqlOptions } from './sql.js';
export { sqlTypeOf, type ValueType, valueTypeOf } from './types.js';
