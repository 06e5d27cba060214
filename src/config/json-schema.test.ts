import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { jsonSchemas } from './json-schema.js';

describe('published JSON Schemas', () => {
  it.each(Object.keys(jsonSchemas()))('schema/%s is current (run npm run schema)', async (name) => {
    const committed = JSON.parse(await readFile(`schema/${name}`, 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(jsonSchemas()[name])));
  });

  it('describes the connector block and the actions', () => {
    const text = JSON.stringify(jsonSchemas());
    for (const key of [
      'project_url',
      'user_mapping',
      'table_mapping',
      'log_realtime',
      'add_to_list',
      'webhook',
    ]) {
      expect(text).toContain(`"${key}"`);
    }
  });
});
