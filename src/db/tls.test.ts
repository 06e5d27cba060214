// The TLS rules as a pure function: a URL (and the environment, and a CA
// file's content) in, postgres.js's options out.
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { NudgeError } from '../errors.js';
import { CA, DER, SUPABASE } from './tls.fixtures.js';
import {
  hostsOf,
  isSupabaseHost,
  type TlsInputs,
  tlsFor,
  tlsRefusal,
  withoutParams,
} from './tls.js';

const POOLER =
  'postgresql://postgres.abcdefghijklmnop:pw@aws-0-eu-central-1.pooler.supabase.com:5432/postgres';

/** No environment, and no file may be read unless a test gives one. */
const none: TlsInputs = {
  env: {},
  readFile: (path) => {
    throw new Error(`read ${path}`);
  },
};
const files =
  (content: Record<string, string | Buffer>): TlsInputs['readFile'] =>
  (path) => {
    const found = content[path];
    if (found === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return found;
  };

const modeOf = (url: string, env: NodeJS.ProcessEnv = {}) => tlsFor(url, { ...none, env });

function refusal(fn: () => unknown): NudgeError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(NudgeError);
    return error as NudgeError;
  }
  throw new Error('not refused');
}

const cert = (subjectaltname: string, CN?: string) =>
  ({ subject: CN ? { CN } : {}, subjectaltname }) as unknown as PeerCertificate;

describe('no sslmode', () => {
  it('requires TLS on Supabase hosts, direct and pooler', () => {
    for (const url of [SUPABASE, POOLER, SUPABASE.replace('supabase.co', 'SUPABASE.CO')]) {
      expect(modeOf(url)).toMatchObject({ ssl: 'require', mode: 'require', supabase: true });
    }
    expect(modeOf(SUPABASE).why).toBe('a Supabase host');
  });

  it('uses none on loopback hosts and Unix sockets', () => {
    for (const host of ['localhost', '127.0.0.1', '127.8.9.10', '[::1]', 'LOCALHOST']) {
      const tls = modeOf(`postgres://u:p@${host}:5432/db`);
      expect(tls, host).toMatchObject({ ssl: false, mode: 'disable', local: true });
    }
    expect(modeOf('postgres:///db')).toMatchObject({ ssl: false, local: true });
    const socket = modeOf('postgres:///db', { PGHOST: '/var/run/postgresql' });
    expect(socket).toMatchObject({ ssl: false, why: 'a Unix socket (no TLS there)' });
    // Not even when asked: the server never does TLS on a socket.
    expect(modeOf('postgres:///db?sslmode=require', { PGHOST: '/tmp' }).ssl).toBe(false);
  });

  it('prefers TLS on any other host, as psql does', () => {
    for (const host of ['db.example.com', '10.0.0.5', '128.0.0.1', 'localhost.example.com']) {
      const tls = modeOf(`postgres://u:p@${host}/db`);
      expect(tls, host).toMatchObject({ ssl: 'prefer', mode: 'prefer', local: false });
    }
    expect(modeOf('postgres://u:p@supabase.co.example.com/db').supabase).toBe(false);
  });

  it('reads several hosts as postgres.js does: loopback only when all are', () => {
    expect(hostsOf('postgres://u:p@a:1,b:2,[::1]:3/db', {})).toEqual(['a', 'b', '::1']);
    expect(modeOf('postgres://u:p@localhost:1,127.0.0.2:2/db').ssl).toBe(false);
    expect(modeOf('postgres://u:p@localhost:1,db.example.com:2/db').ssl).toBe('prefer');
    expect(modeOf(`postgres://u:p@localhost,db.abc.supabase.co/db`).ssl).toBe('require');
  });
});

describe('sslmode', () => {
  it("the URL's own wins over the host's default and PGSSLMODE", () => {
    expect(modeOf(`${SUPABASE}?sslmode=disable`)).toMatchObject({
      ssl: false,
      why: 'sslmode=disable in the URL',
    });
    expect(
      modeOf('postgres://u:p@127.0.0.1/db?sslmode=require', { PGSSLMODE: 'disable' }),
    ).toMatchObject({
      ssl: 'require',
      mode: 'require',
    });
  });

  it('PGSSLMODE when the URL has none, then PGSSL (postgres.js’s own)', () => {
    expect(modeOf(SUPABASE, { PGSSLMODE: 'disable' })).toMatchObject({
      ssl: false,
      why: 'PGSSLMODE=disable',
    });
    expect(modeOf('postgres://u:p@localhost/db', { PGSSLMODE: 'require' }).ssl).toBe('require');
    expect(modeOf('postgres://u:p@localhost/db', { PGSSL: 'require' }).ssl).toBe('require');
    expect(
      modeOf('postgres://u:p@db.example.com/db', { PGSSLMODE: 'prefer', PGSSL: 'false' }).ssl,
    ).toBe('prefer');
  });

  it('takes allow as prefer, and postgres.js’s ssl=true as verify-full', () => {
    expect(modeOf('postgres://u:p@db.example.com/db?sslmode=allow')).toMatchObject({
      ssl: 'prefer',
      mode: 'prefer',
    });
    expect(modeOf('postgres://u:p@db.example.com/db?ssl=true').mode).toBe('verify-full');
    expect(modeOf(`${SUPABASE}?ssl=false`).ssl).toBe(false);
  });

  it('verify-full without a CA file checks against the CAs Node trusts, and the URL’s host', () => {
    const tls = modeOf('postgres://u:p@db.example.com/db?sslmode=verify-full');
    const ssl = tls.ssl as ConnectionOptions;
    expect(ssl.rejectUnauthorized).toBe(true);
    expect(ssl.ca).toBeUndefined();
    expect(tls.verify).toEqual({ ca: 'the CAs Node trusts', hostName: true });
    expect(ssl.checkServerIdentity!('db.example.com', cert('DNS:db.example.com'))).toBeUndefined();
    expect(
      ssl.checkServerIdentity!('db.example.com', cert('DNS:other.example.com')),
    ).toBeInstanceOf(Error);
  });

  it('checks an IP address host against the certificate, not the "localhost" Node is given', () => {
    const ssl = modeOf('postgres://u:p@10.0.0.5/db?sslmode=verify-full').ssl as ConnectionOptions;
    expect(ssl.checkServerIdentity!('localhost', cert('IP Address:10.0.0.5'))).toBeUndefined();
    expect(ssl.checkServerIdentity!('localhost', cert('DNS:localhost'))).toBeInstanceOf(Error);
    const several = modeOf('postgres://u:p@10.0.0.5,10.0.0.6/db?sslmode=verify-full')
      .ssl as ConnectionOptions;
    expect(several.checkServerIdentity!('localhost', cert('IP Address:10.0.0.6'))).toBeUndefined();
    expect(several.checkServerIdentity!('localhost', cert('DNS:localhost'))).toBeInstanceOf(Error);
  });

  it('verify-ca checks the chain only', () => {
    const tls = modeOf('postgres://u:p@db.example.com/db?sslmode=verify-ca');
    const ssl = tls.ssl as ConnectionOptions;
    expect(ssl.rejectUnauthorized).toBe(true);
    expect(
      ssl.checkServerIdentity!('db.example.com', cert('DNS:other.example.com')),
    ).toBeUndefined();
    expect(tls.verify?.hostName).toBe(false);
  });

  it('refuses a mode that is none, naming it', () => {
    const url = refusal(() => modeOf(`${SUPABASE}?sslmode=required`));
    expect(url.message).toBe('sslmode=required in the database URL is not a TLS mode');
    expect(url.hint).toBe('use one of disable, allow, prefer, require, verify-ca, verify-full');
    const env = refusal(() => modeOf(SUPABASE, { PGSSLMODE: 'on' }));
    expect(env.message).toBe('PGSSLMODE=on in the environment is not a TLS mode');
  });
});

describe('sslrootcert', () => {
  const url = `${SUPABASE}?sslmode=verify-full&sslrootcert=prod-ca-2021.crt&application_name=app`;

  it('verifies against the file, and takes the parameter out of the URL postgres.js gets', () => {
    const tls = tlsFor(url, { env: {}, readFile: files({ 'prod-ca-2021.crt': CA }) });
    expect(tls.url).toBe(`${SUPABASE}?sslmode=verify-full&application_name=app`);
    expect(tls.mode).toBe('verify-full');
    expect(tls.verify).toEqual({ ca: 'prod-ca-2021.crt', hostName: true });
    const ssl = tls.ssl as ConnectionOptions;
    expect(ssl).toMatchObject({ ca: CA, rejectUnauthorized: true });
    expect(
      ssl.checkServerIdentity!('x', cert('DNS:db.abcdefghijklmnop.supabase.co')),
    ).toBeUndefined();
    expect(ssl.checkServerIdentity!('x', cert('DNS:db.someoneelse.supabase.co'))).toBeInstanceOf(
      Error,
    );
  });

  it('a CA file without sslmode means verify-full; with require or prefer, the chain only', () => {
    const readFile = files({ '/etc/ca.crt': CA });
    const bare = tlsFor('postgres://u:p@db.example.com/db?sslrootcert=/etc/ca.crt', {
      env: {},
      readFile,
    });
    expect(bare).toMatchObject({ mode: 'verify-full', why: 'sslrootcert without sslmode' });
    expect(bare.url).toBe('postgres://u:p@db.example.com/db');
    for (const mode of ['require', 'prefer', 'allow']) {
      const tls = tlsFor(
        `postgres://u:p@db.example.com/db?sslmode=${mode}&sslrootcert=/etc/ca.crt`,
        {
          env: {},
          readFile,
        },
      );
      expect(tls.mode, mode).toBe('verify-ca');
      expect(tls.verify).toEqual({ ca: '/etc/ca.crt', hostName: false });
      expect((tls.ssl as ConnectionOptions).ca).toBe(CA);
    }
  });

  it('reads DER as well, given to Node as PEM', () => {
    const tls = tlsFor(`${SUPABASE}?sslrootcert=ca.der`, {
      env: {},
      readFile: files({ 'ca.der': DER }),
    });
    expect(((tls.ssl as ConnectionOptions).ca as string).replace(/\s/g, '')).toBe(
      CA.replace(/\s/g, ''),
    );
  });

  it('refuses a missing file, naming it and the parameter', () => {
    const error = refusal(() => tlsFor(url, { env: {}, readFile: files({}) }));
    expect(error.message).toMatch(
      /^sslrootcert=prod-ca-2021\.crt in the database URL: cannot read prod-ca-2021\.crt \(no such file: \/.*\/prod-ca-2021\.crt\)$/,
    );
    expect(error.hint).toContain('Database Settings → SSL Configuration → Download certificate');
  });

  it('refuses a file that holds no certificate', () => {
    const error = refusal(() =>
      tlsFor(url, { env: {}, readFile: files({ 'prod-ca-2021.crt': 'hello' }) }),
    );
    expect(error.message).toBe(
      'sslrootcert=prod-ca-2021.crt in the database URL: prod-ca-2021.crt holds no certificate (PEM "-----BEGIN CERTIFICATE-----" or DER)',
    );
  });

  it('PGSSLROOTCERT when the URL names none', () => {
    const tls = tlsFor(SUPABASE, {
      env: { PGSSLROOTCERT: '/ca.pem' },
      readFile: files({ '/ca.pem': CA }),
    });
    expect(tls).toMatchObject({ mode: 'verify-full', verify: { ca: '/ca.pem', hostName: true } });
    const error = refusal(() =>
      tlsFor(SUPABASE, { env: { PGSSLROOTCERT: '/gone.pem' }, readFile: files({}) }),
    );
    expect(error.message).toBe(
      'PGSSLROOTCERT=/gone.pem in the environment: cannot read /gone.pem (no such file)',
    );
  });

  it('is not read with sslmode=disable, and still taken out', () => {
    const tls = modeOf(`${SUPABASE}?sslrootcert=/nowhere&sslmode=disable`);
    expect(tls).toMatchObject({ ssl: false, url: `${SUPABASE}?sslmode=disable` });
  });

  it('system: the CAs Node trusts, verify-full only', () => {
    const tls = modeOf(`${SUPABASE}?sslrootcert=system`);
    expect(tls).toMatchObject({ mode: 'verify-full', url: SUPABASE });
    expect((tls.ssl as ConnectionOptions).ca).toBeUndefined();
    const weak = refusal(() => modeOf(`${SUPABASE}?sslrootcert=system&sslmode=require`));
    expect(weak.message).toBe(
      'sslrootcert=system in the database URL needs sslmode=verify-full, not require (sslmode=require in the URL)',
    );
  });
});

describe('the URL postgres.js gets', () => {
  it('loses only the named parameters, the rest as written', () => {
    const url =
      'postgres://u:p%40ss@h/db?sslrootcert=%2Ftmp%2Fca.crt&options=-c%20x%3D1&sslmode=require';
    expect(withoutParams(url, ['sslrootcert'])).toBe(
      'postgres://u:p%40ss@h/db?options=-c%20x%3D1&sslmode=require',
    );
    expect(withoutParams('postgres://h/db', ['sslrootcert'])).toBe('postgres://h/db');
    expect(withoutParams('postgres://h/db?sslrootcert=x', ['sslrootcert'])).toBe('postgres://h/db');
  });
});

describe('isSupabaseHost', () => {
  it('knows the direct and pooler hosts', () => {
    expect(isSupabaseHost('db.abcdefghijklmnop.supabase.co')).toBe(true);
    expect(isSupabaseHost('aws-0-us-east-1.pooler.supabase.com')).toBe(true);
    expect(isSupabaseHost('supabase.co.evil.example')).toBe(false);
    expect(isSupabaseHost('notsupabase.co')).toBe(false);
  });
});

describe('tlsRefusal', () => {
  it('says what a failed verification means and what to do', () => {
    const [words, hint] = tlsRefusal({ code: 'SELF_SIGNED_CERT_IN_CHAIN' })!;
    expect(words).toBe("the server's certificate is not signed by the CA it is checked against");
    expect(hint).toMatch(/^set sslrootcert in the database URL to the CA certificate/);
    expect(tlsRefusal({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' })![0]).toBe(
      "the server's certificate does not name this host",
    );
    expect(
      tlsRefusal({
        code: 'ECONNRESET',
        message: 'Client network socket disconnected before secure TLS connection was established',
      })![0],
    ).toMatch(/it may not accept TLS$/);
    expect(tlsRefusal({ code: 'ECONNREFUSED' })).toBeUndefined();
  });
});
