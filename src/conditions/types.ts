// The handful of value types conditions distinguish, how PostgreSQL type
// names map onto them, and the SQL type each one's parameters are cast to.

/**
 * What a field holds, as far as conditions care. `unknown` covers everything
 * else (enums, arrays, intervals, ...): those compare by the text of their
 * JSON form, which both compilers can see identically.
 */
export type ValueType =
  | 'text'
  | 'integer'
  | 'numeric'
  | 'boolean'
  | 'timestamptz'
  | 'timestamp'
  | 'date'
  | 'uuid'
  | 'jsonb'
  | 'unknown';

const NAMES: Record<string, ValueType> = {
  text: 'text',
  'character varying': 'text',
  varchar: 'text',
  name: 'text',
  citext: 'text',
  smallint: 'integer',
  integer: 'integer',
  int: 'integer',
  bigint: 'integer',
  int2: 'integer',
  int4: 'integer',
  int8: 'integer',
  smallserial: 'integer',
  serial: 'integer',
  bigserial: 'integer',
  serial2: 'integer',
  serial4: 'integer',
  serial8: 'integer',
  numeric: 'numeric',
  decimal: 'numeric',
  real: 'numeric',
  float4: 'numeric',
  'double precision': 'numeric',
  float8: 'numeric',
  float: 'numeric',
  boolean: 'boolean',
  bool: 'boolean',
  'timestamp with time zone': 'timestamptz',
  timestamptz: 'timestamptz',
  timestamp: 'timestamp',
  'timestamp without time zone': 'timestamp',
  date: 'date',
  uuid: 'uuid',
  json: 'jsonb',
  jsonb: 'jsonb',
};

/**
 * Maps a PostgreSQL type name as `format_type()`, `information_schema` or
 * `pg_type.typname` spell it (`character varying(255)`, `int4`,
 * `timestamp(3) with time zone`, `pg_catalog.text`, `text[]`, `_text`).
 * Arrays and anything not listed are `unknown`. `json` maps to `jsonb`: the
 * SQL compiler casts such values to jsonb before comparing them. `character(n)`
 * is `unknown` on purpose: PostgreSQL compares it with its padding stripped
 * but to_jsonb() keeps the padding, so only its JSON text compares the same
 * on both sides.
 */
export function valueTypeOf(pgTypeName: string): ValueType {
  const name = pgTypeName
    .trim()
    .toLowerCase()
    .replaceAll('"', '')
    .replace(/^pg_catalog\./, '')
    .replace(/\s*\([\d\s,]*\)/g, '')
    .replace(/\s+/g, ' ');
  if (name.endsWith('[]') || name.startsWith('_') || name === 'array') return 'unknown';
  return Object.hasOwn(NAMES, name) ? NAMES[name]! : 'unknown';
}

/** The SQL type a parameter of this value type is cast to. */
export function sqlTypeOf(type: ValueType): string {
  switch (type) {
    case 'integer':
      // bigint holds every integer literal and compares with int2/int4/int8
      // columns through the same btree operator family, so indexes still apply.
      return 'bigint';
    case 'unknown':
      return 'text';
    default:
      return type;
  }
}
