// Decoding pg_trigger.tgtype: the bits that say when, on what and how often a
// trigger fires (the database-backed parts are tested through `nudge analyze`).
import { describe, expect, it } from 'vitest';
import { decodeTriggerType } from './introspect.js';

describe('decodeTriggerType', () => {
  it.each([
    // ROW | INSERT: AFTER INSERT FOR EACH ROW
    [1 | 4, { timing: 'AFTER', events: ['INSERT'], level: 'ROW' }],
    // ROW | BEFORE | UPDATE
    [1 | 2 | 16, { timing: 'BEFORE', events: ['UPDATE'], level: 'ROW' }],
    // STATEMENT | BEFORE | DELETE
    [2 | 8, { timing: 'BEFORE', events: ['DELETE'], level: 'STATEMENT' }],
    // ROW | INSTEAD | INSERT | UPDATE | DELETE, in SQL's order
    [
      1 | 64 | 4 | 8 | 16,
      { timing: 'INSTEAD OF', events: ['INSERT', 'UPDATE', 'DELETE'], level: 'ROW' },
    ],
    // STATEMENT | TRUNCATE
    [32, { timing: 'AFTER', events: ['TRUNCATE'], level: 'STATEMENT' }],
  ])('decodes %i', (tgtype, expected) => {
    expect(decodeTriggerType(tgtype)).toEqual(expected);
  });
});
