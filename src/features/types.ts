// The type of every field a feature's conditions read — one resolver for the
// plan-time check and the engine, so both compile conditions the same way:
// new/old from the trigger table's columns, contact.* from the declared
// contact attributes, and for events tracked through the API (no table: the
// properties are free-form) from the literals the feature compares them with.
import {
  type Condition,
  type FieldRef,
  testsOf,
  type ValueType,
  valueTypeOf,
} from '../conditions/index.js';
import type { Table } from '../source/catalog.js';

export type AttributeTypes = Record<string, ValueType>;

const NUMBER = /^-?\d+(\.\d+)?$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T|^now\(\)/;

/** A property's type as its literals suggest it (`gt.100` → numeric). */
function inferred(conditions: Condition[]): Map<string, ValueType> {
  const types = new Map<string, ValueType>();
  for (const test of conditions.flatMap(testsOf)) {
    if (test.field.scope === 'contact' || types.has(test.field.raw)) continue;
    const sample = test.op === 'in' ? test.value[0] : test.value;
    if (test.op === 'is') {
      if (sample === 'true' || sample === 'false') types.set(test.field.raw, 'boolean');
      continue;
    }
    if (test.op === 'like' || test.op === 'ilike' || sample === undefined)
      types.set(test.field.raw, 'text');
    else if (NUMBER.test(sample)) types.set(test.field.raw, 'numeric');
    else if (TIMESTAMP.test(sample)) types.set(test.field.raw, 'timestamptz');
    else if (sample === 'true' || sample === 'false') types.set(test.field.raw, 'boolean');
    else types.set(test.field.raw, 'text');
  }
  return types;
}

export function typeResolver(
  table: Table | undefined,
  attributes: AttributeTypes,
  conditions: Condition[],
): (field: FieldRef) => ValueType {
  const properties = table ? undefined : inferred(conditions);
  return (field) => {
    if (field.scope === 'contact') return attributes[field.column] ?? 'unknown';
    if (field.scope !== 'new' && field.scope !== 'old') return 'unknown';
    if (properties)
      return field.jsonPath.length ? 'unknown' : (properties.get(field.raw) ?? 'unknown');
    const column = table?.columns.find((c) => c.name === field.column);
    return column ? valueTypeOf(column.type) : 'unknown';
  };
}
