// Connections to the user's database. In read-only access every session is
// opened with default_transaction_read_only=on, so the server itself refuses
// any write we might send; connection failures become SourceErrors that say
// what to check.
import postgres from 'postgres';
import { NudgeError, SourceError } from '../errors.js';

export interface SourceOptions {
  url: string;
  readOnly: boolean;
  /** Called with the text of every statement sent (log_queries, tests). */
  onQuery?: (text: string) => void;
  max?: number;
  /** Named prepared statements (default on); off for probes that must work through any pooler. */
  prepare?: boolean;
}

export type Sql = postgres.Sql;

export function connectSource(options: SourceOptions): Sql {
  return postgres(options.url, {
    max: options.max ?? 4,
    ...(options.prepare === false ? { prepare: false } : {}),
    onnotice: () => {},
    connect_timeout: 10,
    idle_timeout: 30,
    connection: {
      application_name: 'nudge',
      // Times arrive as UTC text whatever the server's zone: a zone's local
      // mean time (Paris before 1911: +00:09:21) is no offset a Date parses.
      TimeZone: 'UTC',
      ...(options.readOnly ? { default_transaction_read_only: true } : {}),
    },
    ...(options.onQuery
      ? { debug: (_connection: number, text: string) => options.onQuery?.(text) }
      : {}),
  });
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '<unparseable database URL>';
  }
  if (parsed.password) parsed.password = '***';
  if (parsed.host) return parsed.toString();
  // Read without an authority (`postgres:/user:pw@host`, one slash or three),
  // the URL keeps its password in the path, where the parser does not see it.
  return parsed.toString().replace(/^([a-z][a-z0-9+.-]*:\/*[^/:@]*:).*@/i, '$1***@');
}

const IPV6_ONLY =
  "the host may have only an IPv6 address (Supabase's direct connection does, without the IPv4 add-on) and this network no IPv6: use the session pooler (Dashboard → Connect, port 5432 of the pooler host)";

const HINTS: Record<string, [string, string]> = {
  ECONNREFUSED: ['connection refused', 'is the database running, and are host and port right?'],
  ENOTFOUND: [
    'host not found',
    "check the host name in the database URL; Supabase's direct host (db.<project-ref>.supabase.co) has only an IPv6 address: from a network without IPv6 use the session pooler",
  ],
  ENETUNREACH: ['network unreachable', IPV6_ONLY],
  EHOSTUNREACH: ['host unreachable', IPV6_ONLY],
  EAI_AGAIN: ['host name lookup failed', 'check the host name and your network'],
  CONNECT_TIMEOUT: ['connection timed out', 'check host, port and any firewall or IP allow-list'],
  ETIMEDOUT: ['connection timed out', 'check host, port and any firewall or IP allow-list'],
  '28P01': ['password authentication failed', 'check the user and password in the database URL'],
  '28000': [
    'the server refused this role',
    'check the user name, and pg_hba.conf on self-hosted servers',
  ],
  '3D000': ['the database does not exist', 'check the database name at the end of the URL'],
  '42501': ['permission denied', 'connect as a role that owns the objects (postgres on Supabase)'],
  '25006': [
    'the connection is read-only',
    'access is read-only: analyze and plan work; deploy needs access: read-write',
  ],
  '53300': ['too many connections', 'use the pooler URL or free some connections'],
};

/** Turns a driver or server error into a SourceError naming what to check. */
export function sourceError(error: unknown, context: string): NudgeError {
  if (error instanceof NudgeError) return error;
  const e = error as { code?: string; message?: string; errno?: string };
  const code = e.code ?? e.errno;
  const known = code ? HINTS[code] : undefined;
  const isSqlState = !!code && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('E');
  if (known) {
    const detail = isSqlState && e.message ? `: ${e.message}` : '';
    return new SourceError(
      `${context}: ${known[0]}${detail}`,
      isSqlState ? code : undefined,
      known[1],
    );
  }
  return new SourceError(
    `${context}: ${e.message ?? String(error)}`,
    isSqlState ? code : undefined,
  );
}

/** Opens a connection and checks it works, with a clear error if not. */
export async function openSource(options: SourceOptions): Promise<Sql> {
  const sql = connectSource(options);
  try {
    await sql`select 1`;
    return sql;
  } catch (error) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw sourceError(error, `cannot connect to ${redactUrl(options.url)}`);
  }
}
