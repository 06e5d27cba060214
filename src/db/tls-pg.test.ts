// node-postgres's options from the same rules: TLS parameters out of the URL
// it gets (it would read them its own way), `ssl` given, and `prefer`
// decided by asking the server.
import type { ConnectionOptions } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { CA, SUPABASE } from './tls.fixtures.js';
import { pgConnection } from './tls-pg.js';

const asked = (answer: boolean) => {
  const calls: number[] = [];
  const offersTls = async () => {
    calls.push(1);
    return answer;
  };
  return { calls, offersTls };
};

describe('pgConnection', () => {
  it('no TLS on loopback, and without asking', async () => {
    const server = asked(true);
    const connection = await pgConnection('postgres://u:p@127.0.0.1:5432/db?sslmode=disable', {
      env: {},
      ...server,
    });
    expect(connection).toEqual({
      connectionString: 'postgres://u:p@127.0.0.1:5432/db',
      ssl: false,
    });
    expect(server.calls).toEqual([]);
  });

  it('require encrypts without checking the certificate (node-postgres would verify it)', async () => {
    const connection = await pgConnection(SUPABASE, { env: {} });
    expect(connection).toEqual({ connectionString: SUPABASE, ssl: { rejectUnauthorized: false } });
  });

  it('prefer: TLS when the server offers it, else none', async () => {
    const url = 'postgres://u:p@db.example.com/db?application_name=x';
    expect((await pgConnection(url, { env: {}, ...asked(true) })).ssl).toEqual({
      rejectUnauthorized: false,
    });
    expect((await pgConnection(url, { env: {}, ...asked(false) })).ssl).toBe(false);
  });

  it('verify-full with a CA file: the options postgres.js gets, the URL without them', async () => {
    const url = `${SUPABASE}?sslmode=verify-full&sslrootcert=ca.crt&application_name=x`;
    const connection = await pgConnection(url, { env: {}, readFile: () => CA });
    expect(connection.connectionString).toBe(`${SUPABASE}?application_name=x`);
    const ssl = connection.ssl as ConnectionOptions;
    expect(ssl).toMatchObject({ ca: CA, rejectUnauthorized: true });
    expect(typeof ssl.checkServerIdentity).toBe('function');
  });
});
