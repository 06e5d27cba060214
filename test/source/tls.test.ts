// Encrypted connections against a real PostgreSQL with TLS on: a server of
// this file's own (ssl = on, a CA and a server certificate made here with the
// openssl CLI, listening on loopback only), reached through the paths Nudge
// connects by: openSource, the engine store's job queue (node-postgres), the
// replication stream, the sync lock, and `nudge doctor`'s Encryption line.
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openReplicationStream } from '../../src/capture/transports/replication/stream.js';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { withSyncLock } from '../../src/contacts/sync/checkpoint.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { pgConnection, serverOffersTls } from '../../src/db/tls-pg.js';
import { type EmbeddedServer, startEmbedded } from '../../src/dev/embedded.js';
import { NudgeError, SourceError } from '../../src/errors.js';
import { openSource, readOnlyBy, type Sql } from '../../src/source/connect.js';
import { serverUrl } from '../harness/db.js';
import { tempProject } from '../harness/project.js';

let dir: string;
let server: EmbeddedServer | undefined;
let ca: string;
let otherCa: string;
let base: string;

const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** A CA certificate and key named `name` (name.crt, name.key). */
function makeCa(name: string) {
  openssl(
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
    ...['-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`],
    ...['-addext', 'basicConstraints=critical,CA:TRUE'],
    ...['-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
  );
  return path.join(dir, `${name}.crt`);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'nudge-tls-'));
  // The server runs as the `postgres` OS user when we are root: let it in.
  await chmod(dir, 0o755);
  ca = makeCa('nudge-test-ca');
  otherCa = makeCa('another-ca');
  // The server's certificate names 127.0.0.1 only (not localhost), signed by the first CA.
  openssl(
    ...['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
    ...['-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'],
  );
  await writeFile(
    path.join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
  );
  openssl(
    ...['x509', '-req', '-in', 'server.csr', '-CA', 'nudge-test-ca.crt', '-CAkey'],
    ...['nudge-test-ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2'],
    ...['-extfile', 'server.ext'],
  );
  const key = path.join(dir, 'server.key');
  const crt = path.join(dir, 'server.crt');
  // PostgreSQL takes a key only its own user can read.
  await chmod(key, 0o600);
  if (userInfo().uid === 0) {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
    for (const file of [key, crt]) await chown(file, id('-u'), id('-g'));
  }
  server = await startEmbedded({
    dataDir: path.join(dir, 'pg'),
    persistent: false,
    settings: {
      ssl: 'on',
      ssl_cert_file: crt,
      ssl_key_file: key,
      fsync: 'off',
      synchronous_commit: 'off',
    },
  });
  base = server.url();
});

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const withParams = (params: string, url = base) => `${url}?${params}`;
const verifyFull = (caFile = ca, url = base) =>
  withParams(`sslmode=verify-full&sslrootcert=${encodeURIComponent(caFile)}`, url);

interface SslRow {
  ssl: boolean;
  version: string | null;
  cipher: string | null;
}

async function session(sql: Sql | pg.Client): Promise<SslRow> {
  const query = 'select ssl, version, cipher from pg_stat_ssl where pid = pg_backend_pid()';
  if (sql instanceof pg.Client) return (await sql.query<SslRow>(query)).rows[0]!;
  return (await sql.unsafe<SslRow[]>(query))[0]!;
}

async function sessionOf(url: string, readOnly = false): Promise<SslRow> {
  const sql = await openSource({ url, readOnly, max: 1 });
  try {
    return await session(sql);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function refusal(url: string): Promise<NudgeError> {
  const error = await openSource({ url, readOnly: false, max: 1 }).then(
    async (sql) => {
      await sql.end({ timeout: 1 });
      throw new Error(`connected to ${url}`);
    },
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(NudgeError);
  return error as NudgeError;
}

describe('openSource', () => {
  it('sslmode=require: an encrypted session', async () => {
    const row = await sessionOf(withParams('sslmode=require'));
    expect(row.ssl).toBe(true);
    expect(row.version).toMatch(/^TLSv1\.[23]$/);
    expect(row.cipher).toBeTruthy();
  });

  it('no sslmode on loopback: none, as before', async () => {
    expect((await sessionOf(base)).ssl).toBe(false);
  });

  it('PGSSLMODE when the URL has none (postgres.js reads only PGSSL)', async () => {
    const before = process.env.PGSSLMODE;
    process.env.PGSSLMODE = 'require';
    try {
      expect((await sessionOf(base)).ssl).toBe(true);
      expect((await sessionOf(withParams('sslmode=disable'))).ssl).toBe(false);
    } finally {
      if (before === undefined) delete process.env.PGSSLMODE;
      else process.env.PGSSLMODE = before;
    }
  });

  it('sslmode=prefer: TLS when the server offers it, plain when it does not', async () => {
    expect((await sessionOf(withParams('sslmode=prefer'))).ssl).toBe(true);
    expect((await sessionOf(withParams('sslmode=prefer', serverUrl()))).ssl).toBe(false);
  });

  it('verify-full with the CA that signed the certificate: encrypted, read-only too', async () => {
    expect((await sessionOf(verifyFull())).ssl).toBe(true);
    // Read-only sessions are remembered under the URL as given (sslrootcert in it).
    const url = `${verifyFull()}&application_name=nudge-tls-read-only`;
    expect((await sessionOf(url, true)).ssl).toBe(true);
    expect(await readOnlyBy(url)).toBe('startup');
  });

  it('verify-full with another CA is refused, saying so', async () => {
    const url = verifyFull(otherCa);
    const error = await refusal(url);
    expect(error).toBeInstanceOf(SourceError);
    expect(error.message).toMatch(
      /^cannot connect to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres\?sslmode=verify-full&sslrootcert=\S+: the server's certificate is not signed by the CA it is checked against \(.+\)$/,
    );
    expect(error.hint).toMatch(/^set sslrootcert in the database URL to the CA certificate/);
  });

  it('checks the host name with verify-full, not with verify-ca', async () => {
    // The certificate names 127.0.0.1, not localhost.
    const localhost = base.replace('127.0.0.1', 'localhost');
    const error = await refusal(verifyFull(ca, localhost));
    expect(error.message).toContain("the server's certificate does not name this host");
    const verifyCa = withParams(`sslmode=verify-ca&sslrootcert=${ca}`, localhost);
    expect((await sessionOf(verifyCa)).ssl).toBe(true);
  });

  it('refuses an sslrootcert file that is not there, naming it', async () => {
    const missing = path.join(dir, 'prod-ca-2021.crt');
    const error = await refusal(withParams(`sslmode=verify-full&sslrootcert=${missing}`));
    expect(error.message).toBe(
      `sslrootcert=${missing} in the database URL: cannot read ${missing} (no such file)`,
    );
    expect(error.hint).toContain('Database Settings → SSL Configuration → Download certificate');
  });

  it('sslmode=require against a server without TLS is refused, saying why', async () => {
    const error = await refusal(withParams('sslmode=require', serverUrl()));
    expect(error.message).toMatch(
      /: the server closed the connection when TLS began: it may not accept TLS/,
    );
    expect(error.hint).toMatch(/^turn ssl on in the server/);
  });
});

describe('the other connections to a user-given URL', () => {
  it('the job queue (node-postgres) encrypts as postgres.js does, and migrates', async () => {
    expect(await serverOffersTls(base)).toBe(true);
    expect(await serverOffersTls(serverUrl())).toBe(false);
    for (const url of [verifyFull(), withParams('sslmode=prefer'), withParams('sslmode=require')]) {
      const client = new pg.Client(await pgConnection(url));
      await client.connect();
      try {
        expect((await session(client)).ssl, url).toBe(true);
      } finally {
        await client.end();
      }
    }
    const plain = new pg.Client(await pgConnection(withParams('sslmode=prefer', serverUrl())));
    await plain.connect();
    try {
      expect((await session(plain)).ssl).toBe(false);
    } finally {
      await plain.end();
    }
    // The engine store's migrations, graphile-worker's included, over the same URL.
    const url = verifyFull();
    const sql = await openSource({ url, readOnly: false, max: 2 });
    try {
      await migrateEngine(sql, url);
      const [row] = await sql<{ jobs: string | null }[]>`
        select to_regclass('nudge_worker.jobs')::text as jobs`;
      expect(row?.jobs).toBeTruthy();
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it('the replication stream and the sync lock', async () => {
    const admin = await openSource({ url: base, readOnly: false, max: 1 });
    const encrypted = (application: string) => admin<{ ssl: boolean }[]>`
      select s.ssl from pg_stat_activity a join pg_stat_ssl s using (pid)
       where a.application_name = ${application}`;
    try {
      await admin`create publication nudge_tls_test for all tables`;
      await admin`select pg_create_logical_replication_slot('nudge_tls_test', 'pgoutput')`;
      const stream = await openReplicationStream({
        url: verifyFull(),
        slot: 'nudge_tls_test',
        publications: ['nudge_tls_test'],
        onMessage: () => {},
      });
      try {
        expect(await encrypted('nudge replication nudge_tls_test')).toEqual([{ ssl: true }]);
      } finally {
        await stream.close();
      }
      const locked = await withSyncLock(verifyFull(), 'tls-test', () =>
        encrypted('nudge sync lock tls-test'),
      );
      expect(locked).toEqual([{ ssl: true }]);
    } finally {
      await admin.end({ timeout: 1 });
    }
  });
});

describe('nudge doctor', () => {
  async function encryptionLines(url: string): Promise<string[]> {
    const cwd = await tempProject({}, 'nudge-doctor-tls-');
    try {
      const m = memoryIo({ cwd, env: { DATABASE_URL: url } });
      await run(['doctor'], m.io);
      const lines = m.stdout().split('\n');
      const at = lines.findIndex((line) => / Encryption /.test(line));
      expect(at, lines.join('\n')).toBeGreaterThan(0);
      expect(lines[at - 1]).toMatch(/^✓ Connection /);
      return lines.slice(at, lines[at + 1]?.startsWith('  fix:') ? at + 2 : at + 1);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  }

  it('says the connection is encrypted and the certificate verified', async () => {
    expect(await encryptionLines(verifyFull())).toEqual([
      expect.stringMatching(
        new RegExp(
          `^✓ Encryption {9}TLSv1\\.[23] \\(\\w+\\); the server's certificate and host name are verified against ${ca.replace(/[.]/g, '\\.')}$`,
        ),
      ),
    ]);
  });

  it('warns when the certificate is not verified, with the fix', async () => {
    expect(await encryptionLines(withParams('sslmode=require'))).toEqual([
      expect.stringMatching(
        /^⚠ Encryption {9}TLSv1\.[23] \(\w+\); the server's certificate is not verified$/,
      ),
      "  fix: set sslmode=verify-full&sslrootcert=<the CA file> in the database URL (the CA that signed the server's certificate; sslrootcert=system for one publicly trusted)",
    ]);
  });

  it('on loopback without TLS, says so without a warning', async () => {
    expect(await encryptionLines(base)).toEqual([
      '✓ Encryption         not encrypted (a loopback host: nothing leaves this machine)',
    ]);
  });
});
