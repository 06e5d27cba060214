// Whether a database URL reaches PostgreSQL through transaction pooling:
// Supabase's transaction pooler (Supavisor, port 6543), or PgBouncer or
// Supavisor in transaction mode. Such a pooler lends a server session per
// transaction, so LISTEN/NOTIFY, session advisory locks, SET and prepared
// statements do not last from one statement to the next. The engine relies on
// all of them: `nudge start` refuses such a URL and `nudge doctor` says what
// to use instead (the session pooler, or the direct connection).
import { SourceError } from '../errors.js';
import {
  connectSource,
  readOnlyBy,
  redactUrl,
  type SourceOptions,
  sourceError,
} from './connect.js';

/** Supabase's pooler hosts: aws-0-<region>.pooler.supabase.com and the like. */
const SUPABASE_POOLER_HOST = /\.pooler\.supabase\.com$/i;
const TRANSACTION_PORT = '6543';

export type Pooling =
  /** Sessions are kept: a direct connection or a session pooler. */
  { kind: 'session'; supabasePooler: boolean } | { kind: 'transaction'; why: string };

/**
 * What the URL alone says. Supabase's transaction pooler listens on port 6543
 * of its pooler host, and Supavisor (hosted or self-hosted) names its tenant
 * in the user, `postgres.<project-ref>`: either with port 6543 is the
 * transaction pooler. Port 5432 of the pooler host is the session pooler.
 */
export function poolingFromUrl(url: string): Pooling | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const supabasePooler = SUPABASE_POOLER_HOST.test(parsed.hostname);
  const supavisorUser = /^[^.]+\.[^.]+$/.test(decodeURIComponent(parsed.username));
  if (parsed.port === TRANSACTION_PORT && (supabasePooler || supavisorUser)) {
    return { kind: 'transaction', why: "port 6543 is Supabase's transaction pooler" };
  }
  return supabasePooler ? { kind: 'session', supabasePooler } : undefined;
}

/**
 * Asks the server whether sessions are kept: three connections, open together,
 * each run `select pg_backend_pid()` twice, one after another. PostgreSQL runs
 * each session in its own backend, so on a direct connection or through a
 * session pooler each connection sees one pid, and no two see the same one.
 * A transaction pooler returns the server connection to its pool after each
 * statement and lends it to whichever client asks next (PgBouncer reuses the
 * most recently freed one first), so the second connection runs in the first
 * one's session: proof, since two live sessions never share a backend.
 * Unnamed statements only, so the probe itself works through any pooler;
 * read-only, each statement is its own read-only transaction through a
 * pooler, which keeps the test intact (each is still lent a server session).
 */
export async function probeSessions(
  options: Pick<SourceOptions, 'url' | 'readOnly'>,
): Promise<Pooling> {
  // Read-only the way openSource found the server takes it (see connect.ts).
  const by = options.readOnly ? { readOnlyBy: await readOnlyBy(options.url) } : {};
  const clients = [1, 2, 3].map(() => connectSource({ ...options, ...by, max: 1, prepare: false }));
  try {
    const owner = new Map<number, number>();
    for (const [client, sql] of clients.entries()) {
      let first: number | undefined;
      for (let statement = 0; statement < 2; statement++) {
        const [row] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
        const pid = row!.pid;
        first ??= pid;
        if (pid !== first) {
          const why = `one connection's statements ran in two server sessions (backends ${first} and ${pid})`;
          return { kind: 'transaction', why };
        }
        const other = owner.get(pid);
        if (other !== undefined && other !== client) {
          const why = `two connections ran in one server session (backend ${pid})`;
          return { kind: 'transaction', why };
        }
        owner.set(pid, client);
      }
    }
    return { kind: 'session', supabasePooler: false };
  } finally {
    await Promise.all(clients.map((sql) => sql.end({ timeout: 1 }).catch(() => {})));
  }
}

/** The URL's verdict when it has one, else the server's. Connection failures are SourceErrors. */
export async function detectPooling(
  options: Pick<SourceOptions, 'url' | 'readOnly'>,
): Promise<Pooling> {
  const fromUrl = poolingFromUrl(options.url);
  if (fromUrl?.kind === 'transaction') return fromUrl;
  try {
    const probed = await probeSessions(options);
    return probed.kind === 'session' && fromUrl ? fromUrl : probed;
  } catch (error) {
    throw sourceError(error, `cannot connect to ${redactUrl(options.url)}`);
  }
}

/** The one-line error for a transaction-pooled URL, with what to use instead. */
export function transactionPoolingError(url: string, why: string): SourceError {
  return new SourceError(
    `${redactUrl(url)} is a transaction pooler: ${why}; Nudge needs its sessions kept (LISTEN/NOTIFY, advisory locks, SET)`,
    undefined,
    sessionUrlHint(url),
  );
}

/** Where to point Nudge instead: the same pooler in session mode, or the database itself. */
function sessionUrlHint(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {}
  if (parsed && SUPABASE_POOLER_HOST.test(parsed.hostname)) {
    const ref = decodeURIComponent(parsed.username).split('.')[1] ?? '<project-ref>';
    parsed.port = '5432';
    return `use the session pooler, the same URL on port 5432 (${redactUrl(parsed.toString())}), or the direct connection db.${ref}.supabase.co:5432 (IPv6 unless the project has the IPv4 add-on) — Dashboard → Connect`;
  }
  if (parsed?.port === TRANSACTION_PORT) {
    return "use Supabase's session pooler (port 5432, user postgres.<project-ref>) or the direct connection (port 5432 of the database host)";
  }
  return 'use the pooler in session mode (PgBouncer: pool_mode = session; Supabase: the session pooler, port 5432) or connect to the database directly';
}

/** Throws the transaction-pooling error for a URL that pools by transaction; `nudge start` runs it first. */
export async function refuseTransactionPooling(
  options: Pick<SourceOptions, 'url' | 'readOnly'>,
): Promise<void> {
  const pooling = await detectPooling(options);
  if (pooling.kind === 'transaction') throw transactionPoolingError(options.url, pooling.why);
}
