// Ready-made param()/now() pairs for compileSql: numbered placeholders for
// postgres.js (`sql.unsafe(text, values)`), and inline typed literals for
// DDL such as trigger WHEN clauses, where parameters cannot exist.
import { literal } from '../db/quote.js';
import { sqlTypeOf, type ValueType } from './types.js';

/** Re-exported under the name the condition tests use. */
export const quoteLiteral = literal;

export interface ParamSink {
  param(value: unknown, type: ValueType): string;
  now(): string;
}

/**
 * `$n::type` placeholders collected into `values`, for postgres.js.
 *
 * postgres.js picks a serializer from the type the server reports for each
 * placeholder, and its timestamp/date serializer goes through a JS Date
 * (dropping microseconds and reading zone-less timestamps in local time),
 * while its jsonb serializer JSON-encodes strings a second time. So those
 * types travel as text and are cast on the server: `$4::text::timestamptz`.
 * The clock is one parameter, registered on first use.
 */
export function numberedParams(
  startAt = 1,
  clock: Date = new Date(),
): ParamSink & { values: unknown[] } {
  const values: unknown[] = [];
  let nowPlaceholder: string | undefined;
  const add = (value: unknown, cast: string) => {
    values.push(value);
    return `$${startAt + values.length - 1}::${cast}`;
  };
  return {
    values,
    param(value, type) {
      const sqlType = sqlTypeOf(type);
      const viaText =
        type === 'timestamptz' || type === 'timestamp' || type === 'date' || type === 'jsonb';
      return add(value, viaText ? `text::${sqlType}` : sqlType);
    },
    now() {
      nowPlaceholder ??= add(clock, 'timestamptz');
      return nowPlaceholder;
    },
  };
}

/**
 * Values as typed SQL literals, `'it''s'::text`, for SQL text that cannot
 * carry parameters. The clock is `now()` (the transaction's start) unless a
 * fixed one is given.
 */
export function inlineLiterals(clock?: Date): ParamSink {
  return {
    param: (value, type) => `${quoteLiteral(literalText(value))}::${sqlTypeOf(type)}`,
    now: () => (clock ? `${quoteLiteral(clock.toISOString())}::timestamptz` : 'now()'),
  };
}

function literalText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (value instanceof Date) return value.toISOString();
  throw new Error(`cannot write ${String(value)} as a SQL literal`);
}
