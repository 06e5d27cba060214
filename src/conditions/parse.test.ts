// Parser unit tests: both YAML forms, every operator, quoting, JSON paths,
// and errors with their paths and suggestions.
import { describe, expect, it } from 'vitest';
import { type Condition, ConditionError, fieldsOf, type TestNode, testsOf } from './ast.js';
import { parseCondition, parseConditionFully } from './parse.js';

const scopes = ['new', 'old', 'contact'];
const parse = (value: unknown) => parseCondition(value, { scopes });

function only(value: unknown): TestNode {
  const condition = parse(value);
  if (condition.kind !== 'test') throw new Error(`expected one test, got ${condition.kind}`);
  return condition;
}

function errorOf(value: unknown): ConditionError {
  try {
    parse(value);
  } catch (error) {
    if (error instanceof ConditionError) return error;
    throw error;
  }
  throw new Error('expected a ConditionError');
}

/** A compact rendering of the AST, to compare trees at a glance. */
function show(condition: Condition): string {
  switch (condition.kind) {
    case 'test':
      return `${condition.field.raw} ${condition.negated ? 'not.' : ''}${condition.op} ${JSON.stringify(condition.value)}`;
    case 'not':
      return `not(${show(condition.item)})`;
    default:
      return `${condition.kind}(${condition.items.map(show).join(', ')})`;
  }
}

describe('filters', () => {
  it.each([
    ['eq.paid', 'eq', 'paid'],
    ['neq.paid', 'neq', 'paid'],
    ['gt.100', 'gt', '100'],
    ['gte.1.5', 'gte', '1.5'],
    ['lt.now()-7d', 'lt', 'now()-7d'],
    ['lte.2024-01-01', 'lte', '2024-01-01'],
    ['like.*@example.com', 'like', '%@example.com'],
    ['ilike.a_b%', 'ilike', 'a_b%'],
    ['eq.a.b.c', 'eq', 'a.b.c'],
    ['eq.', 'eq', ''],
    ['eq."quoted"', 'eq', '"quoted"'],
  ])('%s', (filter, op, value) => {
    const test = only({ 'new.status': filter });
    expect(test).toMatchObject({ op, value, negated: false, filter, path: ['new.status'] });
  });

  it('reads not. before any operator', () => {
    expect(only({ 'new.total': 'not.gt.100' })).toMatchObject({
      op: 'gt',
      value: '100',
      negated: true,
    });
    expect(only({ 'new.x': 'not.is.null' })).toMatchObject({
      op: 'is',
      value: 'null',
      negated: true,
    });
    expect(only({ 'new.x': 'not.in.(1,2)' })).toMatchObject({
      op: 'in',
      value: ['1', '2'],
      negated: true,
    });
  });

  it.each(['null', 'not_null', 'true', 'false', 'unknown'])('is.%s', (value) => {
    expect(only({ 'new.x': `is.${value}` })).toMatchObject({ op: 'is', value });
  });

  it('keeps escapes in like patterns and makes \\* a literal star', () => {
    expect(only({ 'new.x': 'like.50\\%*' }).value).toBe('50\\%%');
    expect(only({ 'new.x': 'like.a\\*b' }).value).toBe('a*b');
    expect(only({ 'new.x': 'like.a\\\\b' }).value).toBe('a\\\\b');
  });

  it('reads YAML scalars: numbers as eq, booleans and null as is', () => {
    expect(only({ 'new.total': 5 })).toMatchObject({ op: 'eq', value: '5', filter: '5' });
    expect(only({ 'new.total': 1.5 })).toMatchObject({ op: 'eq', value: '1.5' });
    expect(only({ 'new.total': 10n })).toMatchObject({ op: 'eq', value: '10' });
    expect(only({ 'new.vip': true })).toMatchObject({ op: 'is', value: 'true', filter: 'is.true' });
    expect(only({ 'new.vip': false })).toMatchObject({ op: 'is', value: 'false' });
    expect(only({ 'new.deleted_at': null })).toMatchObject({ op: 'is', value: 'null' });
  });
});

describe('in-lists', () => {
  it.each([
    ['in.(a,b,c)', ['a', 'b', 'c']],
    ['in.(a, b ,c)', ['a', 'b', 'c']],
    ['in.(a,"b,c")', ['a', 'b,c']],
    ['in.("(x)", y)', ['(x)', 'y']],
    ['in.("say \\"hi\\"","back\\\\slash")', ['say "hi"', 'back\\slash']],
    ['in.(" padded ")', [' padded ']],
    ['in.("")', ['']],
    ['in.(1)', ['1']],
  ])('%s', (filter, items) => {
    expect(only({ 'new.x': filter }).value).toEqual(items);
  });

  it.each([
    ['in.a,b', 'expected a list in parentheses, e.g. "in.(a,b)", got "in.a,b"'],
    ['in.()', 'in.() needs at least one value'],
    ['in.(a,,b)', 'empty item in in.(a,,b); write "" for an empty string'],
    ['in.(a,)', 'empty item in in.(a,); write "" for an empty string'],
    ['in.("a"b)', 'expected "," after the quoted item "a" in in.("a"b)'],
    ['in.("a)', 'unterminated quote in "a'],
    ['in.(a"b)', 'stray quote in item a"b of in.(a"b)'],
    // SQL's quotes, which would never match: said, with the list written right.
    [
      "in.('paid', 'open')",
      `item 'paid' of in.('paid', 'open') is in single quotes, which would be part of the value; write in.(paid, open), or "'paid'" to match the quotes too`,
    ],
    // `{ new.x: in.(a,b) }`: YAML's flow mapping cut the value at its comma.
    [
      'in.(a',
      'expected a list in parentheses, e.g. "in.(a,b)", got "in.(a"; inside { } a comma ends a value, so quote it: "in.(a,b)"',
    ],
  ])('rejects %s', (filter, message) => {
    expect(errorOf({ 'new.x': filter })).toMatchObject({ path: ['new.x'], message });
  });
});

describe('fields', () => {
  it('splits scope, column and JSON path', () => {
    expect(only({ 'new.raw_user_meta_data->>plan': 'eq.pro' }).field).toEqual({
      scope: 'new',
      column: 'raw_user_meta_data',
      jsonPath: ['plan'],
      text: true,
      raw: 'new.raw_user_meta_data->>plan',
    });
    expect(only({ 'contact.meta->a->>b': 'eq.1' }).field).toMatchObject({
      scope: 'contact',
      column: 'meta',
      jsonPath: ['a', 'b'],
      text: true,
    });
    expect(only({ 'old.meta->items->0': 'is.null' }).field).toMatchObject({
      jsonPath: ['items', '0'],
      text: false,
    });
    expect(only({ 'new.first-name.x': 'eq.1' }).field).toMatchObject({ column: 'first-name.x' });
  });

  it('lists every field and test in order', () => {
    const condition = parse({
      'new.a': 'eq.1',
      or: [{ 'old.b': 'eq.2' }, { not: { 'new.a': 'eq.3' } }],
      and: '(contact.c.eq.4)',
    });
    expect(fieldsOf(condition).map((field) => field.raw)).toEqual([
      'new.a',
      'old.b',
      'new.a',
      'contact.c',
    ]);
    expect(testsOf(condition).map((test) => test.path)).toEqual([
      ['new.a'],
      ['or', 0, 'old.b'],
      ['or', 1, 'not', 'new.a'],
      ['and'],
    ]);
  });

  it.each([
    [
      'nwe.status',
      ['nwe.status'],
      'unknown scope "nwe" in "nwe.status" (did you mean "new"?); expected one of new, old, contact',
    ],
    [
      'row.status',
      ['row.status'],
      'unknown scope "row" in "row.status"; expected one of new, old, contact',
    ],
    ['status', ['status'], 'expected "<scope>.<column>" such as "new.status", got "status"'],
    ['new.', ['new.'], 'expected a column name after "new."'],
    ['new.meta->', ['new.meta->'], 'empty JSON key in "new.meta->"'],
    [
      'new.meta->>a->b',
      ['new.meta->>a->b'],
      '"->>" yields text, so it must be the last step in "new.meta->>a->b"',
    ],
  ])('rejects %s', (key, path, message) => {
    expect(errorOf({ [key]: 'eq.1' })).toMatchObject({ path, message });
  });
});

describe('groups', () => {
  it('reads an object as an implicit AND, in order', () => {
    expect(show(parse({ 'new.status': 'eq.paid', 'new.total': 'gt.100' }))).toBe(
      'and(new.status eq "paid", new.total gt "100")',
    );
  });

  it('reads and/or lists, not, not.and and not.or', () => {
    const condition = parse({
      or: [{ 'new.a': 'eq.1' }, { 'new.b': 'eq.2', 'new.c': 'eq.3' }],
      not: { 'new.d': 'eq.4' },
      'not.and': [{ 'new.e': 'eq.5' }],
      'not.or': '(new.f.eq.6,new.g.eq.7)',
    });
    expect(show(condition)).toBe(
      'and(or(new.a eq "1", and(new.b eq "2", new.c eq "3")), not(new.d eq "4"), not(and(new.e eq "5")), not(or(new.f eq "6", new.g eq "7")))',
    );
    expect(condition).toMatchObject({ items: [{ path: ['or'] }, { path: ['not'] }, {}, {}] });
  });

  it('reads the PostgREST string form with nesting and quoting', () => {
    expect(show(parse({ or: '(new.status.eq.paid,new.total.gt.100)' }))).toBe(
      'or(new.status eq "paid", new.total gt "100")',
    );
    expect(
      show(parse({ or: '(new.a.eq.1,and(new.b.gt.2,not.or(new.c.lt.3,new.d.is.null)))' })),
    ).toBe('or(new.a eq "1", and(new.b gt "2", not(or(new.c lt "3", new.d is "null"))))');
    expect(
      show(parse({ and: '( new.a.not.eq."x, (y)", new.b.in.(1,"2,3"),new.c.like."*\\"q\\"*")' })),
    ).toBe('and(new.a not.eq "x, (y)", new.b in ["1","2,3"], new.c like "%\\"q\\"%")');
    // Quotes are syntax in the string form: a JSON string needs escaped quotes inside them.
    expect(show(parse({ or: '(new.meta->>plan.eq.pro,new.meta->tags->0.eq."\\"vip\\"")' }))).toBe(
      'or(new.meta->>plan eq "pro", new.meta->tags->0 eq "\\"vip\\"")',
    );
  });

  it('allows an empty object at the top only', () => {
    expect(parse({})).toEqual({ kind: 'and', items: [], path: [] });
    expect(errorOf({ not: {} })).toMatchObject({
      path: ['not'],
      message: 'expected at least one condition, got an empty mapping',
    });
  });

  it.each([
    [{ or: [] }, ['or'], 'expected at least one condition in "or"'],
    [
      { or: 'new.a.eq.1' },
      ['or'],
      'expected "(<filter>,<filter>,...)", e.g. "(new.status.eq.paid,new.total.gt.100)", got "new.a.eq.1"',
    ],
    [{ or: '(new.a.eq.1' }, ['or'], 'missing ")" at the end of "(new.a.eq.1"'],
    [{ or: '(new.a.eq.1))' }, ['or'], 'unexpected text after the closing parenthesis: ")"'],
    [{ or: '(new.a.eq."x)' }, ['or'], 'unterminated quote in "(new.a.eq."x)"'],
    [
      { or: '(new.a)' },
      ['or'],
      'expected "<scope>.<column>.<op>.<value>", e.g. "new.status.eq.paid", got "new.a"',
    ],
    [
      { or: '(new.a.eq.1,new.total.gtt.5)' },
      ['or'],
      'in "new.total.gtt.5": unknown operator "gtt" (did you mean "gt"?); expected one of eq, neq, gt, gte, lt, lte, like, ilike, in, is',
    ],
    [
      { or: '(nwe.a.eq.1)' },
      ['or'],
      'in "nwe.a.eq.1": unknown scope "nwe" in "nwe.a" (did you mean "new"?); expected one of new, old, contact',
    ],
    [
      { or: { 'new.a': 'eq.1' } },
      ['or'],
      'expected a list of conditions or a string like "(new.a.eq.1,new.b.eq.2)" for "or", got a mapping',
    ],
    [
      { or: [{ 'new.a': 'eq.1' }, 'new.b.eq.2'] },
      ['or', 1],
      'expected a mapping like { "new.status": "eq.paid" } (or and/or/not), got "new.b.eq.2"',
    ],
    [
      { not: [{ 'new.a': 'eq.1' }] },
      ['not'],
      'expected a mapping like { "new.status": "eq.paid" } (or and/or/not), got a list',
    ],
    [
      { or: '(new.a.eq.1,AND(new.b.gt.1,new.b.lt.5))' },
      ['or'],
      'in "AND(new.b.gt.1,new.b.lt.5)": write and( in lowercase, as PostgREST does',
    ],
    [{ andd: [] }, ['andd'], 'unknown key "andd" (did you mean "and"?)'],
    [[], [], 'expected a mapping like { "new.status": "eq.paid" } (or and/or/not), got a list'],
  ])('rejects %j', (value, path, message) => {
    expect(errorOf(value)).toMatchObject({ path, message });
  });
});

describe('filter errors', () => {
  it.each([
    [
      { 'new.total': 'gtt.100' },
      ['new.total'],
      'unknown operator "gtt" (did you mean "gt"?); expected one of eq, neq, gt, gte, lt, lte, like, ilike, in, is',
    ],
    [
      { 'new.total': 'EQ.1' },
      ['new.total'],
      'unknown operator "EQ" (did you mean "eq"?); expected one of eq, neq, gt, gte, lt, lte, like, ilike, in, is',
    ],
    [
      { 'new.total': 'xyz.1' },
      ['new.total'],
      'unknown operator "xyz"; expected one of eq, neq, gt, gte, lt, lte, like, ilike, in, is',
    ],
    [
      { 'new.tags': 'cs.{a}' },
      ['new.tags'],
      'operator "cs" is not supported; use one of eq, neq, gt, gte, lt, lte, like, ilike, in, is',
    ],
    [
      { 'new.status': 'paid' },
      ['new.status'],
      'expected "<op>.<value>", e.g. "eq.paid", got "paid"',
    ],
    [{ 'new.status': '' }, ['new.status'], 'expected "<op>.<value>", e.g. "eq.paid", got ""'],
    [
      { 'new.status': 'eq' },
      ['new.status'],
      'missing value after "eq."; expected "<op>.<value>", e.g. "eq.paid"',
    ],
    [{ 'new.x': 'not.not.eq.1' }, ['new.x'], '"not." can be written once, before the operator'],
    [
      { 'new.x': 'is.nul' },
      ['new.x'],
      'unknown value "is.nul" (did you mean "is.null"?); expected is.null, is.not_null, is.true, is.false or is.unknown',
    ],
    [
      { 'new.x': 'like.50\\' },
      ['new.x'],
      'like pattern ends with a lone backslash; write \\\\ for a literal backslash',
    ],
    [
      { 'new.x': { eq: 1 } },
      ['new.x'],
      'expected a filter such as "eq.paid" or "gt.100", got a mapping',
    ],
    [{ 'new.x': Number.NaN }, ['new.x'], 'expected a finite number, got NaN'],
    [
      { or: [{ 'new.a': 'eq.1' }, { 'new.total': 'gtt.1' }] },
      ['or', 1, 'new.total'],
      'unknown operator "gtt" (did you mean "gt"?); expected one of eq, neq, gt, gte, lt, lte, like, ilike, in, is',
    ],
  ])('%j', (value, path, message) => {
    const error = errorOf(value);
    expect(error).toBeInstanceOf(ConditionError);
    expect(error).toMatchObject({ path, message });
  });

  it('says a key with no value beside others may be the rest of a value cut at a comma', () => {
    const { errors } = parseConditionFully({ 'new.x': 'in.(a', 'b)': null }, { scopes });
    expect(errors.map((e) => [e.path, e.message])).toEqual([
      [['new.x'], expect.stringMatching(/inside \{ \} a comma ends a value/)],
      [
        ['b)'],
        'expected "<scope>.<column>" such as "new.b)", got "b)"; if it is the rest of the value before it, quote that value: inside { } a comma ends a value',
      ],
    ]);
    // Alone, it is only not a field.
    expect(errorOf({ status: null }).message).toBe(
      'expected "<scope>.<column>" such as "new.status", got "status"',
    );
  });

  it('compares a YAML number as it was written, when the caller knows the text', () => {
    const written: Record<string, string> = {
      'new.code': '01',
      'or,0,new.n': '12345678901234567890',
    };
    const condition = parseCondition(
      { 'new.code': 1, or: [{ 'new.n': 12345678901234567000 }] },
      { scopes, scalarText: (path) => written[path.join(',')] },
    );
    expect(show(condition)).toBe('and(new.code eq "01", or(new.n eq "12345678901234567890"))');
    // Without it, the number's own text.
    expect(only({ 'new.code': 1 }).value).toBe('1');
  });

  it('refuses a key with nothing after it, and reads null and ~ as is.null', () => {
    const texts: Record<string, string> = { 'new.a': '', 'new.b': '~', 'new.c': 'null' };
    const { condition, errors } = parseConditionFully(
      { 'new.a': null, 'new.b': null, 'new.c': null },
      { scopes, scalarText: (path) => texts[path.join(',')] },
    );
    expect(errors.map((e) => [e.path, e.message])).toEqual([
      [
        ['new.a'],
        'nothing after the key; write a filter such as "eq.paid", or is.null to test for NULL',
      ],
    ]);
    expect(condition && show(condition)).toBe('and(new.b is "null", new.c is "null")');
  });

  it('refuses scope names that would make the syntax ambiguous', () => {
    expect(() => parseCondition({}, { scopes: ['new', 'or'] })).toThrow('invalid scope name "or"');
    expect(() => parseCondition({}, { scopes: ['a.b'] })).toThrow('invalid scope name "a.b"');
  });
});

describe('every mistake of a condition', () => {
  const value = {
    'new.a': 'eqq.1',
    or: [{ 'new.b': 'gtt.2' }, { 'new.c': 'eq.3' }],
    not: { nwe: 'eq.4' },
    and: '(new.d.eq.1,',
    'new.e': 'eq.5',
  };

  it('finds each in its own place, in the order written, and keeps what parses', () => {
    const { condition, errors } = parseConditionFully(value, { scopes });
    expect(errors.map((e) => [e.path, e.message])).toEqual([
      [['new.a'], expect.stringMatching(/^unknown operator "eqq"/)],
      [['or', 0, 'new.b'], expect.stringMatching(/^unknown operator "gtt"/)],
      [['not', 'nwe'], 'expected "<scope>.<column>" such as "new.nwe", got "nwe"'],
      [['and'], 'expected "<scope>.<column>.<op>.<value>", e.g. "new.status.eq.paid", got ""'],
    ]);
    expect(condition && show(condition)).toBe('and(new.c eq "3", new.e eq "5")');
  });

  it('still throws only the first from parseCondition', () => {
    expect(errorOf(value)).toMatchObject({ path: ['new.a'] });
  });

  it('leaves nothing when nothing parses', () => {
    const { condition, errors } = parseConditionFully({ 'new.a': 'eqq.1' }, { scopes });
    expect(condition).toBeUndefined();
    expect(errors).toHaveLength(1);
  });
});
