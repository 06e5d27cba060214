// Nudge's condition language: one parser for the PostgREST-flavoured YAML
// conditions, and two compilers that must agree row for row: a JavaScript
// predicate for events and parameterized SQL for segments and triggers.
export {
  type Condition,
  ConditionError,
  describeTest,
  type FieldRef,
  fieldsOf,
  type TestNode,
  testsOf,
} from './ast.js';
export { parseField } from './filter.js';
export {
  compileJs,
  type EvaluationContext,
  explain,
  type Row,
  type Verdict,
} from './js.js';
export { inlineLiterals, numberedParams, type ParamSink } from './params.js';
export { parseCondition, parseConditionFully } from './parse.js';
export { compileSql } from './sql.js';
export { type ValueType, valueTypeOf } from './types.js';
export { suggestedType } from './values.js';
