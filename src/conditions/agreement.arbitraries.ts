// Random rows and conditions for the agreement property: a table with one
// column per value type, rows full of near-collisions (NULLs, case, accents,
// LIKE metacharacters, microsecond neighbours), and conditions in both forms.
import fc from 'fast-check';
import { formatTime } from './time.js';

/** The clock both compilers are given. */
export const NOW = new Date('2024-06-01T12:00:00.123Z');
const NOW_MICROS = BigInt(NOW.getTime()) * 1000n;
const SECOND = 1_000_000n;
const DAY = 86_400n * SECOND;

export const COLUMNS: Record<string, string> = {
  s: 'text',
  s2: 'character varying(20)',
  i: 'integer',
  big: 'bigint',
  n: 'numeric',
  b: 'boolean',
  ts: 'timestamp with time zone',
  tl: 'timestamp without time zone',
  d: 'date',
  u: 'uuid',
  e: 'mood',
  tags: 'text[]',
  j: 'jsonb',
};

// ---- rows -------------------------------------------------------------------

const CHARS = [
  'a',
  'A',
  'b',
  'i',
  'é',
  'É',
  'İ',
  'ß',
  '%',
  '_',
  '\\',
  '*',
  ' ',
  ',',
  '"',
  '😀',
  '～',
  '\n',
  '1',
];
const text = fc.array(fc.constantFrom(...CHARS), { maxLength: 3 }).map((chars) => chars.join(''));
const nullable = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null, freq: 5 });

const INSTANT_OFFSETS = [
  0n,
  1n,
  -1n,
  SECOND,
  -SECOND,
  -7n * DAY,
  -7n * DAY + 1n,
  -7n * DAY - 1n,
  3600n * SECOND,
  -3n * DAY,
];
const instant = fc
  .oneof(fc.constantFrom(...INSTANT_OFFSETS), fc.bigInt({ min: -10n * DAY, max: 10n * DAY }))
  .map((offset) => NOW_MICROS + offset);
const DATES = ['2024-05-25', '2024-05-31', '2024-06-01', '2024-06-02'];
const UUIDS = [
  '00000000-0000-0000-0000-000000000001',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  'ffffffff-0000-0000-0000-000000000000',
];
const MOODS = ['sad', 'ok', 'happy'];
const JSON_KEYS = ['a', 'b', 'c', 'x', 'aa', 'é', '0'];
const JSON_NUMBERS = [0, 1, 1.5, -2, 100, 1e21, 1e-7, 0.1];

const jsonValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text,
    fc.constantFrom(...JSON_NUMBERS),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...JSON_KEYS), tie('value'), { maxKeys: 3 }),
  ),
})).value;

export const row = fc.record({
  s: nullable(text),
  s2: nullable(text),
  i: nullable(
    fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom(100, -2147483648, 2147483647)),
  ),
  big: nullable(fc.constantFrom(0, 1, -1, 100, 9007199254740991, -9007199254740991)),
  n: nullable(
    fc.constantFrom(
      '0',
      '1.5',
      '1.50',
      '-2',
      '0.1',
      '3',
      '100',
      '1e3',
      '-0.001',
      '1e-7',
      '123456789.123456',
      'NaN',
      'Infinity',
      '-Infinity',
    ),
  ),
  b: nullable(fc.boolean()),
  ts: nullable(
    fc.oneof(
      { weight: 9, arbitrary: instant.map((m) => formatTime(m, 'timestamptz')) },
      fc.constantFrom('infinity', '-infinity'),
    ),
  ),
  tl: nullable(instant.map((m) => formatTime(m, 'timestamp'))),
  d: nullable(fc.constantFrom(...DATES, 'infinity')),
  u: nullable(fc.constantFrom(...UUIDS)),
  e: nullable(fc.constantFrom(...MOODS)),
  tags: nullable(fc.array(fc.constantFrom('a', 'b', 'b c', ''), { maxLength: 2 })),
  j: nullable(
    fc.oneof(
      fc.dictionary(fc.constantFrom(...JSON_KEYS), jsonValue, { maxKeys: 4 }),
      jsonValue.filter((v) => v !== null),
    ),
  ),
});

// ---- conditions ---------------------------------------------------------------

type Shape =
  | 'text'
  | 'integer'
  | 'numeric'
  | 'boolean'
  | 'time'
  | 'date'
  | 'uuid'
  | 'enum'
  | 'array'
  | 'json';

const FIELDS: [string, Shape][] = [
  ['new.s', 'text'],
  ['new.s2', 'text'],
  ['old.s', 'text'],
  ['new.i', 'integer'],
  ['new.big', 'integer'],
  ['new.n', 'numeric'],
  ['old.n', 'numeric'],
  ['new.b', 'boolean'],
  ['new.ts', 'time'],
  ['new.tl', 'time'],
  ['new.d', 'date'],
  ['new.u', 'uuid'],
  ['new.e', 'enum'],
  ['new.tags', 'array'],
  ['new.j', 'json'],
  ['new.j->a', 'json'],
  ['new.j->0', 'json'],
  ['new.j->>a', 'text'],
  ['new.j->>b', 'text'],
  ['new.j->c->>x', 'text'],
  ['new.j->>-1', 'text'],
];

const likeToken = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('%', '_', '*') },
  { weight: 4, arbitrary: fc.constantFrom('a', 'A', 'i', 'é', 'É', 'İ', 'ß', '😀') },
  { weight: 1, arbitrary: fc.constantFrom('\\%', '\\_', '\\\\', '\\*', ' ', '1', '"') },
);
const likePattern = fc.array(likeToken, { maxLength: 4 }).map((tokens) => tokens.join(''));
const timeLiteral = fc.oneof(
  instant.map((m) => formatTime(m, 'timestamptz').replace('.000000', '').replace('+00:00', 'Z')),
  instant.map((m) => `${formatTime(m + 7200n * SECOND, 'timestamp')}+02:00`),
  instant.map((m) => formatTime(m, 'timestamp')),
  fc.constantFrom('now()', 'now()-7d', 'now()+1h', 'now() - 1s', '2024-06-01', '2024-05-25'),
);

const LITERALS: Record<Shape, fc.Arbitrary<string>> = {
  text: fc.oneof(
    text,
    fc.constantFrom(
      '1',
      '1.5',
      'true',
      '{"x": 1}',
      '[1, "x"]',
      '1000000000000000000000',
      '0.0000001',
    ),
  ),
  integer: fc.constantFrom(
    '0',
    '1',
    '-1',
    '2',
    '3',
    '100',
    '1.5',
    '-2.0',
    '2147483647',
    '1e2',
    '99999999999999999999',
  ),
  numeric: fc.constantFrom(
    '0',
    '1.5',
    '1.50',
    '0.1',
    '0.10000000000000001',
    '3',
    '100',
    '1e3',
    '-0.001',
    '-2',
    '1e-7',
  ),
  boolean: fc.constantFrom('true', 'false'),
  time: timeLiteral,
  date: fc.constantFrom(...DATES, '2024-06-03', 'now()', 'now()-7d', 'now()+1h'),
  uuid: fc.constantFrom(...UUIDS, UUIDS[1]!.toUpperCase(), `{${UUIDS[0]}}`),
  enum: fc.constantFrom(...MOODS, 'nope', 'Happy'),
  array: fc.constantFrom('["a"]', '["a", "b"]', '["b c"]', '[]', 'a'),
  json: fc.constantFrom(
    '1',
    '1.0',
    '"x"',
    '"a"',
    'true',
    'null',
    '{"x": 1}',
    '[1, "x"]',
    '1.5',
    '{}',
    '[]',
  ),
};

const ORDERED: Shape[] = ['text', 'integer', 'numeric', 'boolean', 'time', 'date', 'uuid'];
const TEXTUAL: Shape[] = ['text', 'enum', 'array'];

/** A list item for in.(...): quoted when PostgREST's syntax needs it. */
function listItem(value: string): string {
  return /[,()"\\]|^\s|\s$|^$/.test(value) ? `"${value.replace(/[\\"]/g, '\\$&')}"` : value;
}

function filterFor(shape: Shape): fc.Arbitrary<string> {
  const literal = LITERALS[shape];
  const weighted = (weight: number, arbitrary: fc.Arbitrary<string>) => ({ weight, arbitrary });
  const ops = [
    weighted(
      3,
      fc.constantFrom('eq', 'neq').chain((op) => literal.map((value) => `${op}.${value}`)),
    ),
    weighted(
      2,
      fc
        .array(literal, { minLength: 1, maxLength: 3 })
        .map((items) => `in.(${items.map(listItem).join(',')})`),
    ),
    weighted(1, fc.constantFrom('is.null', 'is.not_null')),
  ];
  if (ORDERED.includes(shape)) {
    ops.push(
      weighted(
        4,
        fc
          .constantFrom('gt', 'gte', 'lt', 'lte')
          .chain((op) => literal.map((value) => `${op}.${value}`)),
      ),
    );
  }
  if (TEXTUAL.includes(shape)) {
    ops.push(
      weighted(
        4,
        fc
          .constantFrom('like', 'ilike')
          .chain((op) => likePattern.map((value) => `${op}.${value}`)),
      ),
    );
  }
  if (shape === 'boolean')
    ops.push(weighted(1, fc.constantFrom('is.true', 'is.false', 'is.unknown')));
  return fc
    .tuple(fc.boolean(), fc.oneof(...ops))
    .map(([not, filter]) => (not ? `not.${filter}` : filter));
}

export type Tree =
  | { t: 'leaf'; field: string; filter: string }
  | { t: 'and' | 'or'; items: Tree[]; stringForm: boolean }
  | { t: 'not'; item: Tree };

const leaf: fc.Arbitrary<Tree> = fc
  .constantFrom(...FIELDS)
  .chain(([field, shape]) =>
    filterFor(shape).map((filter): Tree => ({ t: 'leaf', field, filter })),
  );

export const tree: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.record({
      t: fc.constantFrom<'and' | 'or'>('and', 'or'),
      items: fc.array(tie('tree'), { minLength: 1, maxLength: 3 }),
      stringForm: fc.boolean(),
    }),
    tie('tree').map((item): Tree => ({ t: 'not', item })),
  ),
})).tree;

/** PostgREST's string form; values with syntax characters are double-quoted. */
function treeString(node: Tree): string {
  switch (node.t) {
    case 'leaf': {
      const match = /^(not\.)?(\w+)\.(.*)$/s.exec(node.filter)!;
      const [, not = '', op, value = ''] = match;
      const quoted =
        op !== 'in' && op !== 'is' && /[,()"]|^\s/.test(value) ? listItem(value) : value;
      return `${node.field}.${not}${op}.${quoted}`;
    }
    case 'not':
      // The string form negates groups only; wrap a negated leaf in and().
      return `not.and(${treeString(node.item)})`;
    default:
      return `${node.t}(${node.items.map(treeString).join(',')})`;
  }
}

/** The YAML-shaped value the user would have written. */
export function yamlValue(node: Tree): Record<string, unknown> {
  switch (node.t) {
    case 'leaf':
      return { [node.field]: node.filter };
    case 'not':
      return { not: yamlValue(node.item) };
    default: {
      if (node.stringForm) return { [node.t]: `(${node.items.map(treeString).join(',')})` };
      return { [node.t]: node.items.map(yamlValue) };
    }
  }
}
