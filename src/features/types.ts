// The type of every field a feature's conditions read — one resolver for the
// plan-time check and the engine, so both compile conditions the same way:
// new/old from the trigger table's columns, contact.* from the declared
// contact attributes, and for events tracked through the API (no table: the
// properties are free-form) from the literals the feature compares them with.
import {
  type Condition,
  type FieldRef,
  type TestNode,
  testsOf,
  type ValueType,
  valueTypeOf,
} from '../conditions/index.js';
import { IDENTITY_COLUMNS } from '../contacts/query.js';
import { CONTACT_FIELDS } from '../contacts/sql/read-contacts.js';
import type { Table } from '../source/catalog.js';

export type AttributeTypes = Record<string, ValueType>;

/**
 * A contact's own fields, typed as the contacts table holds them: over the
 * attributes in the row conditions read (read-contacts.ts), and in segment
 * SQL (contacts/query.ts), whatever an attribute of the same name declares.
 */
const CONTACT_OWN_TYPES: Readonly<Record<string, ValueType>> = Object.fromEntries(
  CONTACT_FIELDS.map((name) => [name, IDENTITY_COLUMNS[name]!]),
);

const NUMBER = /^-?\d+(\.\d+)?$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T|^now\(\)/;

/** The type a test's literal suggests (`gt.100` → numeric), undefined when it says none (`is.null`). */
export function suggestedType(test: TestNode): ValueType | undefined {
  const sample = test.op === 'in' ? test.value[0] : test.value;
  if (test.op === 'is') return sample === 'true' || sample === 'false' ? 'boolean' : undefined;
  if (test.op === 'like' || test.op === 'ilike' || sample === undefined) return 'text';
  if (NUMBER.test(sample)) return 'numeric';
  if (TIMESTAMP.test(sample)) return 'timestamptz';
  if (sample === 'true' || sample === 'false') return 'boolean';
  return 'text';
}

/** A property's type as its literals suggest it (`gt.100` → numeric). */
function inferred(conditions: Condition[]): Map<string, ValueType> {
  const types = new Map<string, ValueType>();
  for (const test of conditions.flatMap(testsOf)) {
    if (test.field.scope === 'contact' || types.has(test.field.raw)) continue;
    const type = suggestedType(test);
    if (type) types.set(test.field.raw, type);
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
    if (field.scope === 'contact') {
      if (Object.hasOwn(CONTACT_OWN_TYPES, field.column)) return CONTACT_OWN_TYPES[field.column]!;
      return attributes[field.column] ?? 'unknown';
    }
    if (field.scope !== 'new' && field.scope !== 'old') return 'unknown';
    if (properties)
      return field.jsonPath.length ? 'unknown' : (properties.get(field.raw) ?? 'unknown');
    const column = table?.columns.find((c) => c.name === field.column);
    return column ? valueTypeOf(column.type) : 'unknown';
  };
}
