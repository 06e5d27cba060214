import { describe, expect, it } from 'vitest';
import { dollarQuote, ident, literal } from './quote.js';

describe('quote', () => {
  it('quotes identifiers and literals whatever they contain', () => {
    expect(ident('my-app', 'Order "Items"')).toBe('"my-app"."Order ""Items"""');
    expect(literal("it's")).toBe("'it''s'");
    expect(literal('a\\b')).toBe("E'a\\\\b'");
    expect(() => ident('a\0b')).toThrow(/NUL/);
  });

  it('dollar-quotes with a tag the body does not contain', () => {
    expect(dollarQuote('select 1', 'rows')).toBe('$rows$select 1$rows$');
    expect(dollarQuote('a column named "$rows$"', 'rows')).toBe(
      '$rows_1$a column named "$rows$"$rows_1$',
    );
    expect(dollarQuote('$rows$ and $rows_1$', 'rows')).toBe('$rows_2$$rows$ and $rows_1$$rows_2$');
  });
});
