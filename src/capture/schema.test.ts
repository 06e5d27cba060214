// The schema's own functions as the migrations define them, which plan
// compares with the database: every function a migration creates is read,
// with its arguments, attributes and body.
import { describe, expect, it } from 'vitest';
import { migrations, REQUIRED_FUNCTIONS, schemaFunctions } from './schema.js';
import { sha256 } from './triggers.js';

describe('schemaFunctions', () => {
  it('reads every function the migrations create, as pg_proc holds it', () => {
    const created = migrations().flatMap((m) =>
      [...m.sql.matchAll(/CREATE OR REPLACE FUNCTION nudge\.(\w+)/g)].map((match) => match[1]),
    );
    const read = schemaFunctions();
    expect(read.map((f) => f.name).sort()).toEqual([...new Set(created)].sort());
    for (const name of REQUIRED_FUNCTIONS) expect(read.map((f) => f.name)).toContain(name);
    const enrich = read.find((f) => f.name === 'enrich')!;
    expect(enrich).toMatchObject({
      args: 'p_schema text, p_table text, p_row json',
      definer: true,
      settings: ['search_path=pg_catalog, pg_temp'],
      version: 1,
    });
    // The body is the text between the dollar quotes, which is prosrc.
    const source = migrations().find((m) => m.version === 1)!.sql;
    const body = source.slice(source.indexOf('$enrich$') + 8, source.lastIndexOf('$enrich$'));
    expect(enrich.hash).toBe(sha256(body));
    expect(read.find((f) => f.name === 'pending')).toMatchObject({ definer: false, version: 4 });
  });
});
