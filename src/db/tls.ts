// Whether and how a connection to a database URL the user gave is encrypted:
// libpq's rules (sslmode, sslrootcert, PGSSLMODE) turned into the options of
// postgres.js, which on its own does no TLS at all unless told to.
//
// Why this exists. psql and libpq default to sslmode=prefer (TLS whenever the
// server offers it); postgres.js defaults to plain TCP, and Supabase's
// dashboard connection strings carry no sslmode. Left alone, a pasted
// Supabase URL would talk to the hosted database unencrypted. So every
// connection to a user-given URL takes its `ssl` option from here:
//
// - the URL's own `sslmode` wins (then postgres.js's `ssl`, then PGSSLMODE,
//   then PGSSL): disable, allow, prefer, require, verify-ca, verify-full;
// - no mode given: loopback hosts and Unix sockets get none (nothing leaves
//   the machine; the embedded server and the tests live there), Supabase's
//   hosts (*.supabase.co, *.supabase.com, which offer TLS) `require`,
//   any other host `prefer`, as psql would;
// - `sslrootcert=<file>` (or PGSSLROOTCERT) is read here and the server's
//   certificate verified against it. postgres.js knows only
//   `sslrootcert=system`, and would send the parameter to the server as a
//   setting at startup, which the server refuses ("unrecognized
//   configuration parameter"), so it is taken out of the URL postgres.js
//   gets. A CA file without a mode means verify-full: naming a CA is asking
//   for the check, and without the host name any certificate that CA signed
//   (another project's, where one CA serves many) would pass. With allow,
//   prefer or require the chain is verified but not the host name, as libpq
//   does when it has a root file (and TLS is then required: postgres.js
//   falls back to plain only for its string `prefer`).
//
// Where postgres.js and libpq differ, libpq's meaning is kept as far as
// postgres.js allows: `allow` (libpq: plain first, TLS if refused) is taken
// as `prefer`, since postgres.js cannot retry the other way; verify-ca and
// verify-full without a CA file use the CAs Node trusts (libpq would read
// ~/.postgresql/root.crt); and the host name is checked against the URL's
// host, because postgres.js gives Node no server name for an IP address and
// Node would then check the certificate against "localhost".
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { type ConnectionOptions, checkServerIdentity, type PeerCertificate } from 'node:tls';
import postgres from 'postgres';
import { NudgeError } from '../errors.js';
import { jsonTypes } from './json.js';

export const SSL_MODES = [
  'disable',
  'allow',
  'prefer',
  'require',
  'verify-ca',
  'verify-full',
] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** Where Supabase users find the CA certificate its hosts' certificates are signed with. */
export const SUPABASE_CA_HINT =
  'Supabase: Database Settings → SSL Configuration → Download certificate';

export interface Tls {
  /** The URL to give postgres.js: without sslrootcert. */
  url: string;
  /** postgres.js's `ssl` option (it overrides the URL's sslmode). */
  ssl: false | 'prefer' | 'require' | ConnectionOptions;
  /** What is in force, in libpq's words: `disable` on a Unix socket, `prefer` for `allow`. */
  mode: SslMode;
  /** Where the mode comes from, e.g. `sslmode=require in the URL`, `a Supabase host`. */
  why: string;
  /** What the server's certificate is checked against (undefined: it is not checked). */
  verify?: { ca: string; hostName: boolean };
  /** Every host is a loopback address or a Unix socket: nothing leaves this machine. */
  local: boolean;
  /** Some host is Supabase's. */
  supabase: boolean;
}

/** What `tlsFor` reads besides the URL (tests give their own). */
export interface TlsInputs {
  env?: NodeJS.ProcessEnv;
  readFile?: (path: string) => Buffer | string;
}

/** The TLS options for a connection to `url` (see the top of this file). Throws a NudgeError naming a bad mode or an unreadable CA file. */
export function tlsFor(url: string, inputs: TlsInputs = {}): Tls {
  const env = inputs.env ?? process.env;
  const params = queryOf(url);
  const hosts = hostsOf(url, env);
  const sockets = hosts.every((host) => host.startsWith('/'));
  const local = hosts.every((host) => host.startsWith('/') || isLoopback(host));
  const supabase = hosts.some(isSupabaseHost);
  const stripped = withoutParams(url, ['sslrootcert']);
  const explicit = explicitMode(params, env);
  const rootcert = params.has('sslrootcert')
    ? { path: params.get('sslrootcert') ?? '', name: 'sslrootcert', where: 'in the database URL' }
    : env.PGSSLROOTCERT
      ? { path: env.PGSSLROOTCERT, name: 'PGSSLROOTCERT', where: 'in the environment' }
      : undefined;
  const base = { url: stripped, local, supabase };

  if (sockets) return { ...base, ssl: false, mode: 'disable', why: 'a Unix socket (no TLS there)' };

  if (rootcert?.path === 'system') {
    // libpq refuses a weaker mode with the system's CAs: they would be read for nothing.
    if (explicit && explicit.mode !== 'verify-full') {
      throw new NudgeError(
        `${rootcert.name}=system ${rootcert.where} needs sslmode=verify-full, not ${explicit.mode} (${explicit.why})`,
        'use sslmode=verify-full, or leave sslmode out: with sslrootcert=system it is verify-full',
      );
    }
    return {
      ...base,
      mode: 'verify-full',
      why: explicit?.why ?? `${rootcert.name}=system`,
      ssl: verifying(hosts, undefined, true),
      verify: { ca: 'the CAs Node trusts (sslrootcert=system)', hostName: true },
    };
  }

  if (rootcert) {
    const mode = explicit?.mode ?? 'verify-full';
    const why = explicit?.why ?? `${rootcert.name} without sslmode`;
    if (mode === 'disable') return { ...base, ssl: false, mode, why };
    const ca = readCa(rootcert, inputs.readFile ?? readFileSync);
    const hostName = mode === 'verify-full';
    return {
      ...base,
      mode: hostName ? 'verify-full' : 'verify-ca',
      why: hostName || mode === 'verify-ca' ? why : `${why}, with ${rootcert.name}`,
      ssl: verifying(hosts, ca, hostName),
      verify: { ca: rootcert.path, hostName },
    };
  }

  const chosen =
    explicit ??
    (local
      ? { mode: 'disable' as const, why: 'a loopback host' }
      : supabase
        ? { mode: 'require' as const, why: 'a Supabase host' }
        : { mode: 'prefer' as const, why: 'the default for a host that is not loopback' });
  switch (chosen.mode) {
    case 'disable':
      return { ...base, ssl: false, mode: 'disable', why: chosen.why };
    case 'allow':
    case 'prefer':
      return { ...base, ssl: 'prefer', mode: 'prefer', why: chosen.why };
    case 'require':
      return { ...base, ssl: 'require', mode: 'require', why: chosen.why };
    default: {
      const hostName = chosen.mode === 'verify-full';
      return {
        ...base,
        ssl: verifying(hosts, undefined, hostName),
        mode: chosen.mode,
        why: chosen.why,
        verify: { ca: 'the CAs Node trusts', hostName },
      };
    }
  }
}

/** postgres.js's options, without the TLS this module chooses. */
export type ClientOptions = Omit<postgres.Options<Record<string, postgres.PostgresType>>, 'ssl'>;

/**
 * A postgres.js client for a URL the user gave, encrypted as tlsFor says:
 * the one way such a client is made (connectSource, the replication stream
 * and its leader lock, the sync lock), so none connects in plain text by
 * forgetting to ask. `url` may be tlsFor's answer, read once by a caller
 * that reconnects in a loop.
 */
export function postgresFor(url: string | Tls, options: ClientOptions): postgres.Sql {
  const tls = typeof url === 'string' ? tlsFor(url) : url;
  // json and jsonb read and written with their numbers exact (db/json.ts).
  return postgres(tls.url, {
    ...options,
    types: { ...jsonTypes, ...options.types },
    ssl: tls.ssl,
  });
}

/** The mode the URL or the environment asks for, and where it says so. */
function explicitMode(
  params: URLSearchParams,
  env: NodeJS.ProcessEnv,
): { mode: SslMode; why: string } | undefined {
  const inUrl = 'in the database URL';
  const inEnv = 'in the environment';
  const sources = [
    { name: 'sslmode', value: params.get('sslmode'), where: inUrl, read: sslMode },
    // postgres.js's own parameter and variable: ?ssl=true verified the
    // certificate against Node's CAs before Nudge chose for it.
    { name: 'ssl', value: params.get('ssl'), where: inUrl, read: postgresJsMode },
    { name: 'PGSSLMODE', value: env.PGSSLMODE, where: inEnv, read: sslMode },
    { name: 'PGSSL', value: env.PGSSL, where: inEnv, read: postgresJsMode },
  ];
  for (const { name, value, where, read } of sources) {
    if (value === null || value === undefined || value === '') continue;
    const mode = read(value);
    if (!mode) {
      const accepted =
        read === sslMode ? SSL_MODES.join(', ') : `${SSL_MODES.join(', ')}, true, false`;
      throw new NudgeError(`${name}=${value} ${where} is not a TLS mode`, `use one of ${accepted}`);
    }
    return { mode, why: `${name}=${value}${where === inUrl ? ' in the URL' : ''}` };
  }
  return undefined;
}

function sslMode(value: string): SslMode | undefined {
  return SSL_MODES.find((mode) => mode === value);
}

function postgresJsMode(value: string): SslMode | undefined {
  if (value === 'true' || value === '1') return 'verify-full';
  if (value === 'false' || value === '0') return 'disable';
  if (value === 'no-verify') return 'require';
  return sslMode(value);
}

/** Node's TLS options that verify the chain (against `ca`, else Node's CAs) and, with `hostName`, the URL's host. */
function verifying(hosts: string[], ca: string | undefined, hostName: boolean): ConnectionOptions {
  return {
    rejectUnauthorized: true,
    ...(ca ? { ca } : {}),
    checkServerIdentity: hostName ? hostChecker(hosts) : () => undefined,
  };
}

/**
 * Checks the certificate names the host connected to. postgres.js passes its
 * host as the TLS server name, except an IP address (Node is then told
 * "localhost"): with one host, that host is checked; with several, a name
 * given is checked, else the certificate must name one of the IP addresses.
 */
function hostChecker(hosts: string[]) {
  return (given: string, cert: PeerCertificate): Error | undefined => {
    if (hosts.length === 1) return checkServerIdentity(hosts[0]!, cert);
    if (hosts.includes(given) && !isIP(given)) return checkServerIdentity(given, cert);
    let failure: Error | undefined;
    for (const ip of hosts.filter((host) => isIP(host))) {
      const error = checkServerIdentity(ip, cert);
      if (!error) return undefined;
      failure ??= error;
    }
    return failure ?? checkServerIdentity(given, cert);
  };
}

/** The CA file's certificates as PEM (a DER file is converted), or a NudgeError naming the file and the parameter. */
function readCa(
  rootcert: { path: string; name: string; where: string },
  readFile: (path: string) => Buffer | string,
): string {
  const said = `${rootcert.name}=${rootcert.path} ${rootcert.where}`;
  const hint = `give the path of the CA certificate that signed the server's certificate (${SUPABASE_CA_HINT})`;
  if (!rootcert.path) throw new NudgeError(`${said}: no file named`, hint);
  let content: Buffer;
  try {
    const read = readFile(rootcert.path);
    content = typeof read === 'string' ? Buffer.from(read) : read;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'a directory, not a file'
            : (error as Error).message;
    const full = path.resolve(rootcert.path);
    const where = full === rootcert.path ? '' : `: ${full}`;
    throw new NudgeError(`${said}: cannot read ${rootcert.path} (${why}${where})`, hint);
  }
  const text = content.toString('latin1');
  if (text.includes('-----BEGIN CERTIFICATE-----')) {
    try {
      new X509Certificate(content);
      return content.toString('utf8');
    } catch {
      // falls through to the error below
    }
  } else {
    try {
      return new X509Certificate(content).toString();
    } catch {
      // neither PEM nor DER
    }
  }
  throw new NudgeError(
    `${said}: ${rootcert.path} holds no certificate (PEM "-----BEGIN CERTIFICATE-----" or DER)`,
    hint,
  );
}

/** The URL's query parameters (empty when it has none or cannot be read). */
function queryOf(url: string): URLSearchParams {
  const at = url.indexOf('?');
  return new URLSearchParams(at < 0 ? '' : url.slice(at + 1));
}

/** The URL without the named query parameters, otherwise as written. */
export function withoutParams(url: string, names: readonly string[]): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
  const kept = url
    .slice(at + 1)
    .split('&')
    .filter((pair) => !names.includes(decodeOr(pair.split('=')[0] ?? '')));
  return kept.length ? `${url.slice(0, at)}?${kept.join('&')}` : url.slice(0, at);
}

/**
 * The hosts postgres.js connects to, and their ports, as it reads them: a
 * comma list after the `@`, else the URL's host name, else PGHOST, else
 * localhost; a host's own port, else the URL's, else PGPORT, else 5432. A
 * host that begins with `/` is a Unix socket's directory.
 */
export function endpointsOf(
  url: string,
  env: NodeJS.ProcessEnv = process.env,
): { host: string; port: number }[] {
  const start = url.indexOf('://');
  let authority = start < 0 ? '' : (url.slice(start + 3).split(/[?/]/)[0] ?? '');
  authority = decodeOr(authority.slice(authority.indexOf('@') + 1));
  let parsed: URL | undefined;
  try {
    parsed = new URL(url.replace(authority, authority.split(',')[0] ?? ''));
  } catch {
    parsed = undefined;
  }
  const port = Number(parsed?.port || env.PGPORT || 5432);
  const entries = authority.includes(',')
    ? authority.split(',')
    : [decodeOr(parsed?.host ?? '') || env.PGHOST || 'localhost'];
  return entries.map((entry) => {
    if (entry.startsWith('/')) return { host: entry, port };
    const close = entry.startsWith('[') ? entry.indexOf(']') : -1;
    const host = close > 0 ? entry.slice(1, close) : (entry.split(':')[0] ?? '');
    const own = close > 0 ? entry.slice(close + 2) : entry.split(':')[1];
    return { host, port: own ? Number(own) : port };
  });
}

/** The hosts of `endpointsOf`. */
export function hostsOf(url: string, env: NodeJS.ProcessEnv = process.env): string[] {
  return endpointsOf(url, env).map((endpoint) => endpoint.host);
}

function decodeOr(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** localhost, 127.0.0.0/8 and ::1. */
export function isLoopback(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name === 'localhost') return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  if (isIP(name) === 6) {
    try {
      return new URL(`http://[${name}]`).hostname === '[::1]';
    } catch {
      return false;
    }
  }
  return false;
}

/** Supabase's database and pooler hosts: db.<ref>.supabase.co, aws-0-<region>.pooler.supabase.com. */
export function isSupabaseHost(host: string): boolean {
  return /\.supabase\.com?\.?$/i.test(host);
}

const UNTRUSTED: [string, string] = [
  "the server's certificate is not signed by the CA it is checked against",
  `set sslrootcert in the database URL to the CA certificate that signed it (${SUPABASE_CA_HINT}), or use sslmode=require to encrypt without checking`,
];

const REFUSALS: Record<string, [string, string]> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: UNTRUSTED,
  UNABLE_TO_GET_ISSUER_CERT: UNTRUSTED,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: UNTRUSTED,
  SELF_SIGNED_CERT_IN_CHAIN: UNTRUSTED,
  DEPTH_ZERO_SELF_SIGNED_CERT: UNTRUSTED,
  CERT_SIGNATURE_FAILURE: UNTRUSTED,
  CERT_UNTRUSTED: UNTRUSTED,
  CERT_HAS_EXPIRED: ["the server's certificate has expired", "renew the server's certificate"],
  CERT_NOT_YET_VALID: [
    "the server's certificate is not valid yet",
    "check this machine's clock and the certificate's dates",
  ],
  ERR_TLS_CERT_ALTNAME_INVALID: [
    "the server's certificate does not name this host",
    "connect with a host name the certificate names, or use sslmode=verify-ca to check the CA's signature only",
  ],
};

/**
 * A TLS failure in the user's words and what to do, or undefined for any
 * other error. Node's own words follow (they name the host and the names).
 */
export function tlsRefusal(error: unknown): [string, string] | undefined {
  const e = error as { code?: string; message?: string };
  const known = e.code ? REFUSALS[e.code] : undefined;
  if (known) return known;
  // sslmode=require (or verify-*) against a server without TLS: it answers
  // the SSLRequest with 'N', postgres.js starts TLS anyway, the server hangs up.
  if (/before secure TLS connection was established/.test(e.message ?? '')) {
    return [
      'the server closed the connection when TLS began: it may not accept TLS',
      'turn ssl on in the server; or, on a network you trust, use sslmode=prefer (TLS when offered) or sslmode=disable in the database URL',
    ];
  }
  return undefined;
}
