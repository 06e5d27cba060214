import { describe, expect, it } from 'vitest';
import { JsonNumber, jsonNumber, parseJson, parseJsonDigits, stringifyJson } from './json.js';

describe('parseJson', () => {
  it('reads what a double holds as JSON.parse does', () => {
    for (const text of [
      '{"a": 1, "b": [1.5, -2e3, null, true], "c": "x"}',
      '[9007199254740992, 0.30000000000000004, 1.7976931348623157e308, 5e-324]',
      '{"card": "4111111111111111 1111", "at": "2024-06-01T12:00:00.123456+00:00"}',
      '{"1234567890123456789": 1}',
      '"9007199254740993"',
      '{"a": "\\"9007199254740993\\\\", "b": 12345678901234}',
    ]) {
      expect(parseJson(text)).toEqual(JSON.parse(text));
    }
  });

  it('keeps a number a double cannot hold as its text', () => {
    expect(parseJson('{"id": 9007199254740993, "n": [-12345678901234567.25]}')).toEqual({
      id: new JsonNumber('9007199254740993'),
      n: [new JsonNumber('-12345678901234567.25')],
    });
    expect(parseJson('0.1000000000000000055511151231257827')).toEqual(
      new JsonNumber('0.1000000000000000055511151231257827'),
    );
    expect(parseJson('[1e400, 1e-400, 1.0000000000000000]')).toEqual([
      new JsonNumber('1e400'),
      new JsonNumber('1e-400'),
      1,
    ]);
  });

  it('keeps a lone exponent a double cannot hold, whatever else the text holds', () => {
    expect(parseJson('{"x": 1e400}')).toEqual({ x: new JsonNumber('1e400') });
    expect(parseJson('{"x": 1E-400}')).toEqual({ x: new JsonNumber('1E-400') });
    expect(parseJson('{"x": 1e300}')).toEqual({ x: 1e300 });
  });

  it('refuses what JSON.parse refuses, with its error on the text as given', () => {
    for (const text of [
      '{"id": 012345678901234567}',
      '{"a": 9007199254740993, b}',
      '[-012345678901234567.5]',
    ]) {
      let expected = '';
      try {
        JSON.parse(text);
      } catch (error) {
        expected = (error as Error).message;
      }
      expect(expected).not.toBe('');
      expect(() => parseJson(text)).toThrow(expected);
    }
  });

  it('leaves strings alone, whatever they hold', () => {
    const text = '{"s": "9007199254740993", "t": "a\\"b 9007199254740993", "u": 9007199254740993}';
    expect(parseJson(text)).toEqual({
      s: '9007199254740993',
      t: 'a"b 9007199254740993',
      u: new JsonNumber('9007199254740993'),
    });
  });
});

describe('stringifyJson', () => {
  it('writes a JsonNumber back as the same digits, as a JSON number', () => {
    const text = '{"id":9007199254740993,"n":[-12345678901234567.25,1],"s":"9007199254740993"}';
    expect(stringifyJson(parseJson(text))).toBe(text);
    expect(stringifyJson({ a: [1, 'x'], b: null })).toBe(JSON.stringify({ a: [1, 'x'], b: null }));
  });

  it('never lets its mark out, whatever a toJSON inside writes while it runs', () => {
    const big = new JsonNumber('9007199254740993');
    // What a toJSON wrote elsewhere while stringifyJson ran (a log line, say).
    const aside: string[] = [];
    const text = stringifyJson({
      id: big,
      plain: { toJSON: () => JSON.stringify({ id: big }) },
      spliced: { toJSON: () => `order ${JSON.stringify(big)}` },
      nested: { toJSON: () => stringifyJson([big, { toJSON: () => JSON.stringify(big) }]) },
      logged: {
        toJSON: () => {
          aside.push(JSON.stringify({ id: big }));
          return 1;
        },
      },
    });
    // Each JSON.stringify writes the digits as a plain one does: as a string.
    expect(text).toBe(
      '{"id":9007199254740993,"plain":"{\\"id\\":\\"9007199254740993\\"}",' +
        '"spliced":"order \\"9007199254740993\\"",' +
        '"nested":"[9007199254740993,\\"\\\\\\"9007199254740993\\\\\\"\\"]","logged":1}',
    );
    // Written twice: a value holding a JsonNumber is written twice (once to find it).
    expect(aside).toEqual(['{"id":"9007199254740993"}', '{"id":"9007199254740993"}']);
    for (const written of [text, ...aside]) {
      expect(written).not.toContain('\u0000');
      expect(written).not.toContain('\\u0000');
    }
  });

  it('writes a JsonNumber whose text is no JSON number as a string, not as broken JSON', () => {
    const text = stringifyJson({ a: new JsonNumber('NaN'), b: new JsonNumber('1.'), c: 1 });
    expect(text).toBe('{"a":"NaN","b":"1.","c":1}');
    expect(JSON.parse(text)).toEqual({ a: 'NaN', b: '1.', c: 1 });
  });

  it('outside stringifyJson, a JsonNumber is its digits as a string, never a rounded number', () => {
    expect(JSON.stringify({ id: new JsonNumber('9007199254740993') })).toBe(
      '{"id":"9007199254740993"}',
    );
    expect(String(new JsonNumber('9007199254740993'))).toBe('9007199254740993');
    expect(`${new JsonNumber('12345678901234567.25')}`).toBe('12345678901234567.25');
  });
});

describe('jsonNumber', () => {
  it('is a number when a double holds the text exactly', () => {
    expect(jsonNumber('42')).toBe(42);
    expect(jsonNumber('1.50')).toBe(1.5);
    expect(jsonNumber('9007199254740992')).toBe(9007199254740992);
    expect(jsonNumber('1e+300')).toBe(1e300);
    expect(jsonNumber('9007199254740993')).toEqual(new JsonNumber('9007199254740993'));
    expect(jsonNumber('1000000000000000000000.5')).toEqual(
      new JsonNumber('1000000000000000000000.5'),
    );
  });
});

describe('parseJsonDigits', () => {
  it('reads a number a double cannot hold as its digits, and every other value as JSON.parse does', () => {
    const text =
      '{"big": 9007199254740993, "long": 12345678901234567.25, "small": 1.5, "s": "9007199254740993", "deep": [1e400]}';
    expect(parseJsonDigits(text)).toEqual({
      big: '9007199254740993',
      long: '12345678901234567.25',
      small: 1.5,
      s: '9007199254740993',
      deep: ['1e400'],
    });
    expect(parseJsonDigits('[1, 2.5, "x", null, true]')).toEqual(
      JSON.parse('[1, 2.5, "x", null, true]'),
    );
  });

  it('throws what JSON.parse throws for text that is not JSON', () => {
    expect(() => parseJsonDigits('{"a": 012345678901234567}')).toThrow(SyntaxError);
  });
});
