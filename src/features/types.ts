// The type of every field a feature's conditions read — one resolver for the
// plan-time check and the engine, so both compile conditions the same way:
// new/old from the trigger table's columns, contact.* from the declared
// contact attributes, and for events tracked through the API (no table: the
// properties are free-form) from the literals the feature compares them with.
import {
  type Condition,
  type FieldRef,
  suggestedType,
  testsOf,
  type ValueType,
  valueTypeOf,
} from '../conditions/index.js';
import { IDENTITY_COLUMNS } from '../contacts/query.js';
import { CONTACT_FIELDS } from '../contacts/sql/read-contacts.js';
import type { Table } from '../source/catalog.js';

export type AttributeTypes = Record<string, ValueType>;

export { suggestedType };

/**
 * A contact's own fields, typed as the contacts table holds them: over the
 * attributes in the row conditions read (read-contacts.ts), and in segment
 * SQL (contacts/query.ts), whatever an attribute of the same name declares.
 */
const CONTACT_OWN_TYPES: Readonly<Record<string, ValueType>> = Object.fromEntries(
  CONTACT_FIELDS.map((name) => [name, IDENTITY_COLUMNS[name]!]),
);

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
