// The hints a failed connection gets: Supabase's direct host is IPv6 only.
import { describe, expect, it } from 'vitest';
import { sourceError } from './connect.js';

describe('sourceError', () => {
  it('points a network without IPv6 at the session pooler', () => {
    for (const code of ['ENETUNREACH', 'EHOSTUNREACH']) {
      const error = sourceError(
        { code, message: `connect ${code} 2a05:d014::1:5432` },
        'cannot connect to postgresql://postgres:***@db.abcdefghij.supabase.co:5432/postgres',
      );
      expect(error.message).toMatch(/: (network|host) unreachable$/);
      expect(error.hint).toMatch(/only an IPv6 address .* use the session pooler/);
    }
    const notFound = sourceError({ code: 'ENOTFOUND' }, 'cannot connect');
    expect(notFound.hint).toMatch(/db\.<project-ref>\.supabase\.co\) has only an IPv6 address/);
  });

  it("says a server error once when the server's words begin with ours", () => {
    const password = sourceError(
      { code: '28P01', message: 'password authentication failed for user "postgres"' },
      'cannot connect',
    );
    expect(password.message).toBe(
      'cannot connect: password authentication failed for user "postgres" (SQLSTATE 28P01)',
    );
    const role = sourceError(
      { code: '28000', message: 'no pg_hba.conf entry for host "10.0.0.1"' },
      'cannot connect',
    );
    expect(role.message).toBe(
      'cannot connect: the server refused this role: no pg_hba.conf entry for host "10.0.0.1" (SQLSTATE 28000)',
    );
  });
});
