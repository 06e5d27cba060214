// A feature's conditions on contact.* are run by both compilers on the same
// contact: the JS predicate on the row the engine reads (contactRow), typed
// by the feature's resolver (features/types.ts), and the SQL the goal sweep
// and segments run (contacts/query.ts fieldSql). Here both answer for real
// contacts in a real engine store, for the condition and its negation.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Condition,
  compileJs,
  compileSql,
  numberedParams,
  parseCondition,
} from '../../src/conditions/index.js';
import { fieldSql } from '../../src/contacts/query.js';
import { contactRow } from '../../src/contacts/store.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { type AttributeTypes, typeResolver } from '../../src/features/types.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();
const NOW = new Date('2024-06-10T12:00:00Z');
const ID = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
const ATTRIBUTES: AttributeTypes = {
  mrr: 'numeric',
  seats: 'integer',
  vip: 'boolean',
  since: 'date',
  until: 'date',
  ref: 'uuid',
  seen: 'timestamptz',
};

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  await db.sql`
    insert into nudge_engine.contacts (id, email, external_id, created_at, attributes)
    values (${ID}, 'ada@example.com', 'x-1', '2024-06-01T12:00:00Z',
            ${db.sql.json({
              mrr: 'lots',
              seats: '1e3',
              vip: 'yes',
              since: '2024-05-01T10:00:00Z',
              until: '2024-05-01T23:00:00-05:00',
              ref: `{${ID.toUpperCase()}}`,
              seen: 'soon',
              plan: 'pro',
            })})`;
});

type Case = [field: string, filter: string, expected: boolean | null];

const CASES: Case[] = [
  // The contact's own fields have the contacts table's types.
  ['contact.created_at', 'eq.2024-06-01T12:00:00Z', true],
  ['contact.created_at', 'lt.now()-7d', true],
  ['contact.created_at', 'gt.now()-7d', false],
  ['contact.id', `eq.${ID.toUpperCase()}`, true],
  ['contact.email', 'gt.a', true],
  ['contact.email', 'like.*@example.com', true],
  ['contact.external_id', 'in.(x-1,x-2)', true],
  ['contact.deleted_at', 'is.null', true],
  // An undeclared attribute is the text of its JSON value.
  ['contact.plan', 'eq.pro', true],
  // A declared attribute whose value is not of its type is NULL (the
  // attribute_*() functions), not an error that stops the event.
  ['contact.mrr', 'gt.100', null],
  ['contact.mrr', 'is.null', true],
  ['contact.vip', 'is.true', false],
  ['contact.vip', 'eq.true', null],
  ['contact.seen', 'lt.now()', null],
  // Numbers written as strings count; a uuid in any spelling PostgreSQL reads.
  ['contact.seats', 'eq.1000', true],
  ['contact.ref', `eq.${ID}`, true],
  // A date attribute written as a timestamp is its day, as ::date reads it.
  ['contact.since', 'eq.2024-05-01', true],
  ['contact.until', 'eq.2024-05-01', true],
];

function truth(kept: boolean, negationKept: boolean): boolean | null {
  return kept ? true : negationKept ? false : null;
}

describe('contact.* conditions: the engine and the SQL agree', () => {
  it.each(CASES)('%s %s is %s', async (field, filter, expected) => {
    const condition = parseCondition({ [field]: filter }, { scopes: ['new', 'old', 'contact'] });
    const negation: Condition = { kind: 'not', item: condition, path: [] };
    const typeOf = typeResolver(undefined, ATTRIBUTES, [condition]);
    const contact = await contactRow(db.sql, ID);
    const js = (c: Condition) =>
      compileJs(c, { typeOf })({ now: NOW, contact, new: null, old: null }).result;

    const params = numberedParams(1, NOW);
    const sqlOf = (c: Condition) =>
      compileSql(c, {
        column: (ref) => fieldSql(ref, { attributes: ATTRIBUTES, params }),
        ...params,
      });
    const where = [sqlOf(condition), sqlOf(negation)];
    const id = params.param(ID, 'uuid');
    const [row] = await db.sql.unsafe(
      `select (${where[0]}) is true as kept, (${where[1]}) is true as negation_kept
         from nudge_engine.contacts c where c.id = ${id}`,
      params.values as never[],
    );
    expect(truth(row!.kept, row!.negation_kept)).toBe(expected);
    expect(truth(js(condition), js(negation))).toBe(expected);
  });
});
