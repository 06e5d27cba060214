// What a URL alone says about pooling, and the fix each refusal names.
import { describe, expect, it } from 'vitest';
import { poolingFromUrl, transactionPoolingError } from './pooler.js';

const HOST = 'aws-0-eu-central-1.pooler.supabase.com';

describe('poolingFromUrl', () => {
  it("knows Supabase's three connection strings", () => {
    expect(poolingFromUrl(`postgres://postgres.abcdefghij:pw@${HOST}:6543/postgres`)).toEqual({
      kind: 'transaction',
      why: "port 6543 is Supabase's transaction pooler",
    });
    expect(poolingFromUrl(`postgres://postgres.abcdefghij:pw@${HOST}:5432/postgres`)).toEqual({
      kind: 'session',
      supabasePooler: true,
    });
    expect(
      poolingFromUrl('postgresql://postgres:pw@db.abcdefghij.supabase.co:5432/postgres'),
    ).toBeUndefined();
  });

  it('takes port 6543 with a Supavisor tenant user for the transaction pooler (self-hosted)', () => {
    expect(
      poolingFromUrl('postgres://postgres.my-tenant:pw@localhost:6543/postgres'),
    ).toMatchObject({ kind: 'transaction' });
    // Port 6543 alone proves nothing: the server is asked.
    expect(poolingFromUrl('postgres://postgres:pw@localhost:6543/postgres')).toBeUndefined();
    expect(poolingFromUrl('not a url')).toBeUndefined();
  });
});

describe('transactionPoolingError', () => {
  it('names the session pooler URL and the direct host for a Supabase project, without the password', () => {
    const error = transactionPoolingError(
      `postgres://postgres.abcdefghij:s3cret@${HOST}:6543/postgres`,
      "port 6543 is Supabase's transaction pooler",
    );
    expect(error.message).toBe(
      `postgres://postgres.abcdefghij:***@${HOST}:6543/postgres is a transaction pooler: port 6543 is Supabase's transaction pooler; Nudge needs its sessions kept (LISTEN/NOTIFY, advisory locks, SET)`,
    );
    expect(error.hint).toBe(
      `use the session pooler, the same URL on port 5432 (postgres://postgres.abcdefghij:***@${HOST}:5432/postgres), or the direct connection db.abcdefghij.supabase.co:5432 (IPv6 unless the project has the IPv4 add-on) — Dashboard → Connect`,
    );
    expect(`${error.message}${error.hint}`).not.toContain('s3cret');
  });

  it('names session mode for any other pooler', () => {
    const error = transactionPoolingError('postgres://app:pw@10.0.0.5:6432/app', 'two connections');
    expect(error.hint).toBe(
      'use the pooler in session mode (PgBouncer: pool_mode = session; Supabase: the session pooler, port 5432) or connect to the database directly',
    );
  });
});
