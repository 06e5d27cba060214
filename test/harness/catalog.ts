// A table of the live schema as readCatalog gives it, for tests that check
// features against a schema without a database: `auth.users` with its
// columns as `name: type` (the first is the primary key).
import type { Table } from '../../src/source/catalog.js';

export function catalogTable(name: string, columns: Record<string, string>): Table {
  const [schema, table] = name.split('.') as [string, string];
  const names = Object.keys(columns);
  return {
    schema,
    table,
    kind: 'table',
    columns: names.map((column, i) => ({
      name: column,
      type: columns[column]!,
      typeName: columns[column]!,
      notNull: i === 0,
      generated: false,
    })),
    primaryKey: names.slice(0, 1),
    rls: false,
    owner: 'postgres',
    rowEstimate: 0,
  };
}
