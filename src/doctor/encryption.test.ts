// The Encryption line for connections the tests cannot make (hosts other
// than loopback): what is said, how bad it is, and the fix.
import { describe, expect, it } from 'vitest';
import { tlsFor } from '../db/tls.js';
import { encryptionFinding } from './encryption.js';

const SUPABASE = 'postgresql://postgres:pw@db.abcdefghijklmnop.supabase.co:5432/postgres';
const tls = (url: string, env: NodeJS.ProcessEnv = {}) =>
  tlsFor(url, { env, readFile: () => Buffer.from('') });
const TLS13 = { ssl: true, version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' };

describe('encryptionFinding', () => {
  it("Supabase's default: encrypted, the certificate not verified, the fix names the download", () => {
    expect(encryptionFinding(tls(SUPABASE), true, TLS13)).toEqual({
      outcome: 'warn',
      message: "TLSv1.3 (TLS_AES_256_GCM_SHA384); the server's certificate is not verified",
      fix: 'set sslmode=verify-full&sslrootcert=<the CA file> in the database URL (Supabase: Database Settings → SSL Configuration → Download certificate)',
    });
  });

  it('verify-ca is fine, and says the host name is not checked', () => {
    const finding = encryptionFinding(tls(`${SUPABASE}?sslmode=verify-ca`), true, TLS13);
    expect(finding).toEqual({
      outcome: 'ok',
      message:
        "TLSv1.3 (TLS_AES_256_GCM_SHA384); the server's certificate is verified against the CAs Node trusts, its host name is not (sslmode=verify-ca)",
    });
  });

  it('a remote host without TLS is a warning, with where the mode came from', () => {
    expect(
      encryptionFinding(tls('postgres://u:p@db.example.com/app?sslmode=disable'), false),
    ).toEqual({
      outcome: 'warn',
      message: 'not encrypted (sslmode=disable in the URL)',
      fix: "set sslmode=verify-full&sslrootcert=<the CA file> in the database URL, in place of sslmode=disable (the CA that signed the server's certificate; sslrootcert=system for one publicly trusted)",
    });
    expect(encryptionFinding(tls(SUPABASE, { PGSSLMODE: 'disable' }), false).message).toBe(
      'not encrypted (PGSSLMODE=disable)',
    );
    const prefer = encryptionFinding(tls('postgres://u:p@10.1.2.3/app'), false, {
      ssl: false,
      version: null,
      cipher: null,
    });
    expect(prefer).toEqual({
      outcome: 'warn',
      message:
        'not encrypted: the server does not offer TLS (sslmode=prefer, the default for a host that is not loopback)',
      fix: 'turn TLS on in the server (ssl = on, with a certificate), then set sslmode=verify-full&sslrootcert=<the CA file> in the database URL',
    });
  });

  it('behind a pooler that ends TLS, says whose side is encrypted', () => {
    const finding = encryptionFinding(tls(SUPABASE), true, {
      ssl: false,
      version: null,
      cipher: null,
    });
    expect(finding.message).toBe(
      "encrypted as far as a pooler (sslmode=require); the server reports the pooler's own connection unencrypted; the server's certificate is not verified",
    );
  });

  it('loopback and Unix sockets without TLS are fine', () => {
    expect(encryptionFinding(tls('postgres://u:p@localhost/app'), false)).toEqual({
      outcome: 'ok',
      message: 'not encrypted (a loopback host: nothing leaves this machine)',
    });
    expect(encryptionFinding(tls('postgres:///app', { PGHOST: '/tmp' }), false).message).toBe(
      'not encrypted (a Unix socket: nothing leaves this machine)',
    );
  });
});
