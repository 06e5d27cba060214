// JavaScript evaluator unit tests: three-valued logic, the decision-log
// verdict, and how each type reads rows shaped like to_jsonb() output.
import { describe, expect, it } from 'vitest';
import { ConditionError, type FieldRef } from './ast.js';
import { compileJs, type EvaluationContext, explain } from './js.js';
import { parseCondition } from './parse.js';
import type { ValueType } from './types.js';

const TYPES: Record<string, ValueType> = {
  status: 'text',
  total: 'numeric',
  count: 'integer',
  vip: 'boolean',
  created_at: 'timestamptz',
  seen_at: 'timestamp',
  birthday: 'date',
  id: 'uuid',
  meta: 'jsonb',
  mood: 'unknown',
};
const typeOf = (field: FieldRef) => TYPES[field.column] ?? 'unknown';
const NOW = new Date('2024-06-01T12:00:00.000Z');

function compile(condition: unknown) {
  return compileJs(parseCondition(condition, { scopes: ['new', 'old', 'contact'] }), { typeOf });
}

function holds(
  condition: unknown,
  row: Record<string, unknown> | null,
  extra: Partial<EvaluationContext> = {},
) {
  return compile(condition)({ now: NOW, new: row, ...extra }).result;
}

/** true / false / null (unknown), told apart by evaluating the condition and its negation. */
function truth(
  condition: Record<string, unknown>,
  row: Record<string, unknown> | null,
): boolean | null {
  if (holds(condition, row)) return true;
  return holds({ not: condition }, row) ? false : null;
}

describe('three-valued logic', () => {
  const T = { 'new.status': 'eq.paid' };
  const F = { 'new.status': 'eq.refunded' };
  const U = { 'new.total': 'gt.1' };
  const row = { status: 'paid', total: null };

  it('makes a test on NULL unknown, and `not` keeps it unknown', () => {
    expect(truth(U, row)).toBeNull();
    expect(truth({ not: U }, row)).toBeNull();
    expect(truth({ 'new.total': 'not.gt.1' }, row)).toBeNull();
    expect(truth({ 'new.total': 'in.(1,2)' }, row)).toBeNull();
    expect(truth({ 'new.total': 'not.in.(1,2)' }, row)).toBeNull();
    expect(truth({ 'new.missing': 'eq.1' }, row)).toBeNull();
  });

  it.each([
    ['and', [T, T], true],
    ['and', [T, F], false],
    ['and', [U, F], false],
    ['and', [T, U], null],
    ['or', [F, T], true],
    ['or', [U, T], true],
    ['or', [F, U], null],
    ['or', [F, F], false],
  ] as const)('%s of %j is %s', (kind, items, expected) => {
    expect(truth({ [kind]: items }, row)).toBe(expected);
  });

  it('keeps `is` two-valued', () => {
    expect(truth({ 'new.total': 'is.null' }, row)).toBe(true);
    expect(truth({ 'new.total': 'not.is.null' }, row)).toBe(false);
    expect(truth({ 'new.total': 'is.not_null' }, row)).toBe(false);
    expect(truth({ 'new.vip': 'is.true' }, { vip: null })).toBe(false);
    expect(truth({ 'new.vip': 'is.false' }, { vip: null })).toBe(false);
    expect(truth({ 'new.vip': 'is.unknown' }, { vip: null })).toBe(true);
    expect(truth({ 'new.vip': 'not.is.true' }, { vip: false })).toBe(true);
    expect(truth({ 'new.vip': true }, { vip: true })).toBe(true);
  });

  it('reads a missing row as all NULL', () => {
    expect(truth({ 'new.status': 'is.null' }, null)).toBe(true);
    expect(truth({ 'new.status': 'eq.paid' }, null)).toBeNull();
    expect(holds({ 'old.status': 'is.null' }, { status: 'x' })).toBe(true);
    expect(holds({ 'old.status': 'eq.x' }, { status: 'x' }, { old: { status: 'x' } })).toBe(true);
  });

  it('treats an empty top-level object as always true', () => {
    expect(holds({}, null)).toBe(true);
  });
});

describe('verdicts for the decision log', () => {
  it('names the test that failed and the value it read', () => {
    const verdict = compile({ 'new.status': 'eq.paid', 'new.total': 'gt.100' })({
      now: NOW,
      new: { status: 'paid', total: 40 },
    });
    expect(verdict).toMatchObject({
      result: false,
      failed: { filter: 'gt.100' },
      detail: { outcome: false, value: 40 },
    });
    expect(explain(verdict)).toBe('new.total gt.100 was false (value 40)');
  });

  it('blames the first false item over an earlier unknown one', () => {
    const verdict = compile({ 'new.total': 'gt.1', 'new.status': 'eq.paid' })({
      now: NOW,
      new: { status: 'x' },
    });
    expect(explain(verdict)).toBe('new.status eq.paid was false (value "x")');
  });

  it('reports unknown, and a test that was true under a not', () => {
    expect(explain(compile({ 'new.total': 'gt.1' })({ now: NOW, new: {} }))).toBe(
      'new.total gt.1 was unknown (value null)',
    );
    expect(
      explain(compile({ not: { 'new.status': 'eq.paid' } })({ now: NOW, new: { status: 'paid' } })),
    ).toBe('new.status eq.paid was true (value "paid")');
    expect(
      explain(
        compile({ or: [{ 'new.status': 'eq.a' }, { 'new.status': 'eq.b' }] })({
          now: NOW,
          new: { status: 'c' },
        }),
      ),
    ).toBe('new.status eq.a was false (value "c")');
  });

  it('returns only the result when the condition holds', () => {
    const verdict = compile({ 'new.status': 'eq.paid' })({ now: NOW, new: { status: 'paid' } });
    expect(verdict).toEqual({ result: true });
    expect(explain(verdict)).toBe('condition held');
  });
});

describe('types', () => {
  it('compares text by code point and matches like/ilike', () => {
    expect(holds({ 'new.status': 'lt.b' }, { status: 'Z' })).toBe(true);
    expect(holds({ 'new.status': 'lt.😀' }, { status: '～' })).toBe(true);
    expect(holds({ 'new.status': 'like.*@example.com' }, { status: 'ann@example.com' })).toBe(true);
    expect(holds({ 'new.status': 'like.a_c' }, { status: 'abbc' })).toBe(false);
    expect(holds({ 'new.status': 'ilike.ANN*' }, { status: 'ann' })).toBe(true);
    expect(holds({ 'new.status': 'ilike.émile' }, { status: 'Émile' })).toBe(false);
    expect(holds({ 'new.status': 'like.100\\%' }, { status: '100%' })).toBe(true);
    expect(holds({ 'new.status': 'like.100\\%' }, { status: '1000' })).toBe(false);
  });

  it('compares numbers as exact decimals', () => {
    expect(holds({ 'new.total': 'eq.0.3' }, { total: 0.3 })).toBe(true);
    expect(holds({ 'new.total': 'eq.0.30000000000000004' }, { total: 0.3 })).toBe(false);
    expect(holds({ 'new.total': 'gt.1e2' }, { total: 100.5 })).toBe(true);
    expect(holds({ 'new.total': 'gt.99999999999999999999' }, { total: 'NaN' })).toBe(true);
    expect(holds({ 'new.total': 'lt.0' }, { total: '-Infinity' })).toBe(true);
    expect(
      holds({ 'new.total': 'eq.12345678901234567890.5' }, { total: '12345678901234567890.5' }),
    ).toBe(true);
    expect(holds({ 'new.count': 'gt.1.5' }, { count: 2 })).toBe(true);
    expect(holds({ 'new.count': 'in.(1,2.0)' }, { count: 2 })).toBe(true);
    expect(holds({ 'new.count': 3 }, { count: 3 })).toBe(true);
  });

  it('compares timestamps at microsecond precision across offsets', () => {
    const row = { created_at: '2024-06-01T09:30:00.000001-02:30' };
    expect(holds({ 'new.created_at': 'gt.2024-06-01T12:00:00Z' }, row)).toBe(true);
    expect(holds({ 'new.created_at': 'eq.2024-06-01T12:00:00.000001Z' }, row)).toBe(true);
    expect(holds({ 'new.created_at': 'eq.2024-06-01 14:00:00.000001+02:00' }, row)).toBe(true);
    expect(holds({ 'new.created_at': 'gt.now()' }, row)).toBe(true);
    expect(holds({ 'new.created_at': 'lt.now()+1s' }, row)).toBe(true);
    expect(holds({ 'new.created_at': 'gt.2024-06-01' }, row)).toBe(true);
    expect(holds({ 'new.created_at': 'gt.now()' }, { created_at: 'infinity' })).toBe(true);
    expect(holds({ 'new.created_at': 'lt.now()' }, { created_at: '-infinity' })).toBe(true);
  });

  it('resolves now() against each evaluation clock', () => {
    const inactive = compile({ 'new.created_at': 'lt.now()-7d' });
    const row = { created_at: '2024-05-25T12:00:00+00:00' };
    expect(inactive({ now: new Date('2024-06-01T12:00:00Z'), new: row }).result).toBe(false);
    expect(inactive({ now: new Date('2024-06-01T12:00:00.001Z'), new: row }).result).toBe(true);
    expect(() => inactive({ now: new Date(Number.NaN), new: row })).toThrow(
      'the clock (ctx.now) is an invalid Date',
    );
  });

  it('reads timestamps without time zone and dates as UTC', () => {
    expect(holds({ 'new.seen_at': 'eq.now()' }, { seen_at: '2024-06-01T12:00:00' })).toBe(true);
    expect(holds({ 'new.birthday': 'lt.now()' }, { birthday: '2024-06-01' })).toBe(true);
    expect(holds({ 'new.birthday': 'eq.2024-06-01' }, { birthday: '2024-06-01' })).toBe(true);
    expect(holds({ 'new.birthday': 'lt.2000-01-01' }, { birthday: '0044-03-15 BC' })).toBe(true);
  });

  it('compares uuids case-insensitively', () => {
    const id = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
    expect(holds({ 'new.id': `eq.${id.toUpperCase()}` }, { id })).toBe(true);
    expect(holds({ 'new.id': 'eq.{a0eebc999c0b4ef8bb6d6bb9bd380a11}' }, { id })).toBe(true);
  });

  it('follows JSON paths', () => {
    const row = {
      meta: { plan: 'pro', n: 1.5, flag: null, tags: ['a', 'b'], deep: { b: 2, aa: [1] } },
    };
    expect(holds({ 'new.meta->>plan': 'eq.pro' }, row)).toBe(true);
    expect(holds({ 'new.meta->plan': 'eq."pro"' }, row)).toBe(true);
    expect(holds({ 'new.meta->n': 'eq.1.50' }, row)).toBe(true);
    expect(holds({ 'new.meta->>n': 'eq.1.5' }, row)).toBe(true);
    expect(holds({ 'new.meta->flag': 'is.null' }, row)).toBe(false);
    expect(holds({ 'new.meta->>flag': 'is.null' }, row)).toBe(true);
    expect(holds({ 'new.meta->absent': 'is.null' }, row)).toBe(true);
    expect(holds({ 'new.meta->tags->>-1': 'eq.b' }, row)).toBe(true);
    expect(holds({ 'new.meta->tags->>2': 'is.null' }, row)).toBe(true);
    expect(holds({ 'new.meta->>deep': 'eq.{"b": 2, "aa": [1]}' }, row)).toBe(true);
    expect(holds({ 'new.meta->deep': 'eq.{"aa":[1.0],"b":2}' }, row)).toBe(true);
    expect(holds({ 'new.meta->plan->0': 'eq."pro"' }, row)).toBe(true);
    expect(holds({ 'new.meta->plan->1': 'is.null' }, row)).toBe(true);
  });

  it('compares other types by the text of their JSON form', () => {
    expect(holds({ 'new.mood': 'eq.happy' }, { mood: 'happy' })).toBe(true);
    expect(holds({ 'new.mood': 'in.(sad,happy)' }, { mood: 'happy' })).toBe(true);
    expect(holds({ 'new.mood': 'eq.["a", "b c"]' }, { mood: ['a', 'b c'] })).toBe(true);
  });
});

describe('errors', () => {
  it.each([
    [{ 'new.total': 'gt.abc' }, ['new.total'], 'expected a number for new.total, got "abc"'],
    [{ 'new.count': 'eq.0x1F' }, ['new.count'], 'expected a number for new.count, got "0x1F"'],
    [
      { 'new.count': 'eq.1e1001' },
      ['new.count'],
      'number out of range for new.count, got "1e1001"',
    ],
    [{ 'new.vip': 'eq.yes' }, ['new.vip'], 'expected true or false for new.vip, got "yes"'],
    [
      { 'new.created_at': 'lt.yesterday' },
      ['new.created_at'],
      'expected an ISO 8601 timestamp (2024-01-31T12:00:00Z) or now()-7d for new.created_at, got "yesterday"',
    ],
    [
      { 'new.created_at': 'lt.2024-02-30' },
      ['new.created_at'],
      'expected an ISO 8601 timestamp (2024-01-31T12:00:00Z) or now()-7d for new.created_at, got "2024-02-30"',
    ],
    [
      { 'new.created_at': 'lt.2024-01-01T00:00:00.1234567Z' },
      ['new.created_at'],
      'expected an ISO 8601 timestamp (2024-01-31T12:00:00Z) or now()-7d for new.created_at, got "2024-01-01T00:00:00.1234567Z"',
    ],
    [
      { 'new.created_at': 'lt.now()-99999w' },
      ['new.created_at'],
      'now() offsets are limited to 36500d, got "now()-99999w"',
    ],
    [
      { 'new.birthday': 'eq.2024-01-01T10:00:00' },
      ['new.birthday'],
      'expected a date (2024-01-31) or now()-7d for new.birthday, got "2024-01-01T10:00:00"',
    ],
    [{ 'new.id': 'eq.42' }, ['new.id'], 'expected a UUID for new.id, got "42"'],
    [
      { 'new.meta->plan': 'eq.pro' },
      ['new.meta->plan'],
      'expected JSON for new.meta->plan, got "pro" (write strings as "\\"pro\\"", or use ->> to compare text)',
    ],
    [
      { 'new.meta': 'gt.1' },
      ['new.meta'],
      'gt cannot order jsonb values (new.meta); use ->> to compare text',
    ],
    [
      { 'new.meta': 'like.a*' },
      ['new.meta'],
      'like needs a text field; new.meta is jsonb (use ->> for text)',
    ],
    [{ 'new.total': 'ilike.1*' }, ['new.total'], 'ilike needs a text field; new.total is numeric'],
    [
      { 'new.mood': 'gt.happy' },
      ['new.mood'],
      'gt cannot order new.mood: its type compares only with eq, neq, in, like, ilike and is',
    ],
    [
      { 'new.status': 'is.true' },
      ['new.status'],
      'is.true needs a boolean field; new.status is text',
    ],
    [
      { 'new.total->a': 'eq.1' },
      ['new.total->a'],
      'new.total is numeric; -> and ->> need a json or jsonb column',
    ],
    [
      { 'new.status': 'eq.a\0b' },
      ['new.status'],
      'text values cannot contain NUL characters (new.status)',
    ],
    [
      { or: [{ 'new.total': 'eq.1' }, { 'new.total': 'in.(1,x)' }] },
      ['or', 1, 'new.total'],
      'expected a number for new.total, got "x"',
    ],
    [
      { or: '(new.total.eq.1,new.vip.eq.maybe)' },
      ['or'],
      'expected true or false for new.vip, got "maybe"',
    ],
  ])('%j', (condition, path, message) => {
    let error: unknown;
    try {
      compile(condition);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConditionError);
    expect(error).toMatchObject({ path, message });
  });

  it('throws a plain error when a row does not have the declared type', () => {
    const evaluate = compile({ 'new.total': 'gt.1' });
    expect(() => evaluate({ now: NOW, new: { total: 'abc' } })).toThrow(
      'new.total: expected a number in the row, got "abc"',
    );
    expect(() => compile({ 'new.vip': 'is.true' })({ now: NOW, new: { vip: 1 } })).toThrow(
      'new.vip: expected a boolean in the row, got 1',
    );
  });
});
