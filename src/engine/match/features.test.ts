// Matching is indexed: an event is compared only with the features watching
// its (schema, table, operation) or its event name, however many features
// watch other tables.
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../config/yaml.js';
import { parseFeature } from '../../features/load.js';
import { Catalog, type Table } from '../../source/catalog.js';
import { candidatesOf } from './candidates.js';
import { FeatureSet } from './features.js';

const table = (name: string): Table => ({
  schema: 'public',
  table: name,
  kind: 'table',
  columns: [{ name: 'id', type: 'bigint', typeName: 'int8', notNull: true, generated: false }],
  primaryKey: ['id'],
  rls: false,
  owner: 'postgres',
  rowEstimate: 0,
});

const feature = (name: string, on: string, extra = '') =>
  parseFeature(
    parseYaml(
      `name: ${name}\ntrigger: { table: ${on}, on: insert }\n${extra}stages: [{ name: only }]\n`,
      `${name}.yaml`,
      {},
    ),
    `${name}.yaml`,
  );

describe('FeatureSet', () => {
  it('offers an event only the features of its table, operation and named events', () => {
    const tables = Array.from({ length: 2000 }, (_, i) => table(`t${i}`));
    const features = [
      ...tables.map((t, i) => feature(`f${i}`, t.table)),
      feature('orders-a', 'orders'),
      feature('orders-b', 'orders'),
    ];
    const set = new FeatureSet(features, new Catalog([...tables, table('orders')]));
    const row = {
      schema_name: 'public',
      table_name: 'orders',
      operation: 'insert' as const,
      event_name: null,
      new_row: { id: 1 },
      old_row: null,
    };
    expect(candidatesOf(set, row).map((f) => f.name)).toEqual(['orders-a', 'orders-b']);
    expect(candidatesOf(set, { ...row, operation: 'update' })).toEqual([]);
    expect(candidatesOf(set, { ...row, table_name: 't1999' }).map((f) => f.name)).toEqual([
      'f1999',
    ]);
  });
});
