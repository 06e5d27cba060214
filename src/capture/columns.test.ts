import { describe, expect, it } from 'vitest';
import { captureColumns, exclusionOf, presentRowJson, rowJson } from './columns.js';

const users = { schema: 'auth', table: 'users' };
const profiles = { schema: 'public', table: 'profiles' };

describe('exclusionOf', () => {
  it('excludes auth.users credentials, auth.* token-like names, and configured columns', () => {
    expect(exclusionOf(users, 'encrypted_password')).toBe('credential');
    expect(exclusionOf(users, 'email_change_token_current')).toBe('credential');
    expect(exclusionOf(users, 'email')).toBeUndefined();
    expect(exclusionOf({ schema: 'auth', table: 'identities' }, 'provider_refresh_token')).toBe(
      'credential',
    );
    expect(exclusionOf({ schema: 'auth', table: 'mfa_factors' }, 'secret')).toBe('credential');
    expect(exclusionOf({ schema: 'auth', table: 'one_time_tokens' }, 'token_hash')).toBe(
      'credential',
    );
    // Outside auth only what the user names: "public.profiles" or plain "profiles".
    expect(exclusionOf(profiles, 'api_token')).toBeUndefined();
    expect(exclusionOf(profiles, 'ssn', { 'public.profiles': ['ssn'] })).toBe(
      'capture.exclude_columns',
    );
    expect(exclusionOf(profiles, 'ssn', { profiles: ['ssn'] })).toBe('capture.exclude_columns');
    expect(exclusionOf({ schema: 'app', table: 'profiles' }, 'ssn', { profiles: ['ssn'] })).toBe(
      undefined,
    );
  });
});

describe('captureColumns', () => {
  const columns = ['id', 'email', 'encrypted_password', 'recovery_token', 'phone', 'created_at'];

  it('copies the primary key and what readers read, in table order, never a credential', () => {
    const result = captureColumns(
      users,
      columns,
      ['id'],
      [{ columns: ['phone', 'encrypted_password'] }, { columns: ['email'] }],
    );
    expect(result.copied).toEqual(['id', 'email', 'phone']);
    expect(result.all).toBeUndefined();
    expect(result.excluded).toEqual([
      { column: 'encrypted_password', reason: 'credential' },
      { column: 'recovery_token', reason: 'credential' },
      { column: 'created_at', reason: 'not used' },
    ]);
  });

  it('copies every capturable column when one reader needs all, and says why', () => {
    const result = captureColumns(
      users,
      columns,
      ['id'],
      [{ columns: ['email'] }, { all: 'hook: no body' }],
    );
    expect(result.copied).toEqual(['id', 'email', 'phone', 'created_at']);
    expect(result.all).toBe('hook: no body');
    expect(result.excluded.map((e) => e.column)).toEqual(['encrypted_password', 'recovery_token']);
  });
});

describe('row JSON', () => {
  it('names each column as a quoted key and a quoted reference', () => {
    expect(rowJson((c) => `n."${c}"`, ["it's", 'id'])).toBe(
      `json_build_object('it''s'::text, n."it's", 'id'::text, n."id")`,
    );
  });

  it('joins pieces as jsonb past 50 columns (PostgreSQL takes 100 arguments)', () => {
    const many = Array.from({ length: 120 }, (_, i) => `c${i}`);
    const sql = rowJson((c) => `n.${c}`, many);
    expect(sql.match(/jsonb_build_object\(/g)).toHaveLength(3);
    expect(sql.endsWith('::json')).toBe(true);
    expect(rowJson((c) => c, many, { jsonb: true }).endsWith('::json')).toBe(false);
  });

  it('reads present columns by name from the whole row', () => {
    expect(presentRowJson('NEW', ['id'], { jsonb: true })).toContain('jsonb_each(to_jsonb(NEW))');
    expect(presentRowJson('n', ['id'])).toContain('jsonb_each(to_jsonb(n.*))');
  });
});
