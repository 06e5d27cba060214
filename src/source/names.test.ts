import { describe, expect, it } from 'vitest';
import { formatTableName, parseTableName } from './names.js';

describe('parseTableName', () => {
  it.each([
    ['orders', { schema: 'public', table: 'orders' }],
    ['auth.users', { schema: 'auth', table: 'users' }],
    ['my-app.Order Items', { schema: 'my-app', table: 'Order Items' }],
    ['"my-app"."Order Items"', { schema: 'my-app', table: 'Order Items' }],
    ['"a.b"."say ""hi"""', { schema: 'a.b', table: 'say "hi"' }],
  ])('reads %s', (input, expected) => {
    expect(parseTableName(input)).toEqual(expected);
  });

  it.each(['', 'a.b.c', '"unterminated', 'a..b', '"x"y', '""'])('rejects %j', (input) => {
    expect(parseTableName(input)).toBeUndefined();
  });

  it('shows names with quotes only where needed', () => {
    expect(formatTableName({ schema: 'public', table: 'orders' })).toBe('public.orders');
    expect(formatTableName({ schema: 'my-app', table: 'Order Items' })).toBe(
      '"my-app"."Order Items"',
    );
  });
});
