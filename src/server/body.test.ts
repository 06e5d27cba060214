import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, parseJson } from './body.js';
import { HttpError } from './http-error.js';

function refusal(text: string, contentType?: string): HttpError {
  try {
    parseJson(text, contentType);
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error(`accepted: ${text.slice(0, 80)}`);
}

describe('a request body read as JSON', () => {
  it('names where a too deep value starts, not every step of it', () => {
    const deep = `{"items":[${'{"a":'.repeat(MAX_JSON_DEPTH)}1${'}'.repeat(MAX_JSON_DEPTH)}]}`;
    const error = refusal(deep);
    expect(error.status).toBe(422);
    expect(error.code).toBe('too_deep');
    expect(error.detail).toBe(
      `items[0].a.a.a.a…: JSON nested more than ${MAX_JSON_DEPTH} levels deep`,
    );
  });

  it('reads JSON nested as deep as allowed', () => {
    const deepest = `${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`;
    expect(() => parseJson(deepest)).not.toThrow();
  });

  it('names the place of text PostgreSQL cannot store', () => {
    const error = refusal('{"user":{"name":"a\\u0000b"}}');
    expect(error.code).toBe('invalid_text');
    expect(error.detail).toBe(
      'user.name: text holding U+0000 (NUL) or an unpaired surrogate cannot be stored',
    );
    expect(refusal('{"tags":[{"\\ud800":1}]}').detail).toMatch(/^tags\[0\] \(a key\): /);
  });
});
