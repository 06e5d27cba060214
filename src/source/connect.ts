// Connections to the user's database, and how read-only access is enforced
// on them: by the server, never by reading the SQL we send. Connection
// failures become SourceErrors that say what to check.
//
// Read-only, two ways, chosen per URL by what the server accepts:
//
// - 'startup' (a direct connection): every session is opened with the
//   startup parameter default_transaction_read_only=on, so it is read-only
//   from login on, and every reconnection postgres.js makes (after
//   idle_timeout, max_lifetime or a drop) sends it again; target_session_attrs
//   'read-only' makes postgres.js check it at each (re)connection and refuse
//   a session the server reports writable. No statement and no round trip
//   more than a read-write connection.
// - 'transaction' (a pooler that refuses that parameter: PgBouncer does, in
//   session mode too, with 08P01 "unsupported startup parameter"): every
//   statement runs in its own BEGIN READ ONLY … COMMIT, written together with
//   the statement on one held connection, and in the extended protocol,
//   which takes one statement per query (the server refuses `COMMIT; INSERT …`
//   with 42601), so no statement can step out of its transaction. A
//   reconnection cannot come back writable: there is no session state to
//   lose, each statement carries its own read-only transaction (a SET of
//   default_transaction_read_only cannot undo it either). Nothing is SET on
//   the session, so this also holds through a transaction pooler, which never
//   gets a read-only server session to lend to someone else's client; and no
//   transaction outlives its statement, so a sync that reads for hours holds
//   none open. `sql.begin` opens BEGIN READ ONLY (with the caller's options);
//   `reserve`, `listen`, `notify` and `subscribe` are refused (nothing uses
//   them on the source).
//   Cost, measured through PgBouncer 1.18 on loopback, 2,000 sequential
//   queries, counting the client's writes (each one a round trip): a
//   statement already prepared on its connection, or without parameters,
//   goes out in one write with its BEGIN and COMMIT: one round trip, as
//   without them (0.16 → 0.29 ms with a parameter, 0.24 → 0.28 ms without);
//   a statement with parameters not yet prepared on the connection waits for
//   its description first and its COMMIT follows its result: 3 round trips
//   instead of 2 (0.29 → 0.39 ms). The server runs two small statements more.
//   We chose this over a session made read-only once (SET, then verified):
//   postgres.js has no hook to run a statement on each new connection before
//   the queries waiting for it, so a reconnection would run them writable.
//
// openSource tries 'startup' first and falls back to 'transaction' only when
// the server refuses the parameter (or accepts it and still reports the
// session writable), then asks the server whether the session it got is
// read-only (`transaction_read_only`): if not, it fails with one line and a
// hint, never downgrades. The choice is remembered per URL for the process,
// so probes (src/source/pooler.ts) open their sessions the same way.
import type postgres from 'postgres';
import { postgresFor, tlsRefusal } from '../db/tls.js';
import { NudgeError, SourceError } from '../errors.js';

export interface SourceOptions {
  url: string;
  readOnly: boolean;
  /** How read-only is enforced (see above); by default what openSource found for this URL, else 'startup'. */
  readOnlyBy?: ReadOnlyBy;
  /** Called with the text of every statement sent (log_queries, tests). */
  onQuery?: (text: string) => void;
  max?: number;
  /** Named prepared statements (default on); off for probes that must work through any pooler. */
  prepare?: boolean;
  /** How long the first statement may wait for an answer (default FIRST_ANSWER_MS; tests). */
  firstAnswerMs?: number;
}

export type Sql = postgres.Sql;

export type ReadOnlyBy = 'startup' | 'transaction';

/** What openSource found each URL's server accepts, for this process. */
const readOnlyByUrl = new Map<string, ReadOnlyBy>();

export function connectSource(options: SourceOptions): Sql {
  const by = options.readOnly
    ? (options.readOnlyBy ?? readOnlyByUrl.get(options.url) ?? 'startup')
    : undefined;
  // Encrypted as libpq would (src/db/tls.ts). What openSource found is kept
  // under the URL as given: sslrootcert comes out of the one postgres.js gets.
  const sql = postgresFor(options.url, {
    max: options.max ?? 4,
    ...(options.prepare === false ? { prepare: false } : {}),
    onnotice: () => {},
    connect_timeout: 10,
    idle_timeout: 30,
    ...(by === 'startup' ? { target_session_attrs: 'read-only' as const } : {}),
    connection: {
      application_name: 'nudge',
      // Times arrive as UTC text whatever the server's zone: a zone's local
      // mean time (Paris before 1911: +00:09:21) is no offset a Date parses.
      TimeZone: 'UTC',
      ...(by === 'startup' ? { default_transaction_read_only: true } : {}),
    },
    ...(options.onQuery
      ? { debug: (_connection: number, text: string) => options.onQuery?.(text) }
      : {}),
  });
  return by === 'transaction' ? inReadOnlyTransactions(sql) : sql;
}

/** What postgres.js keeps on a query that is not in its types: the function that sends it. */
interface QueryInternals extends Promise<unknown> {
  handler: (query: QueryInternals) => void;
  executed: boolean;
  strings: unknown;
  options: { simple?: boolean };
  reject(error: unknown): void;
}

/**
 * What postgres.js keeps on one connection of its pool, as `sql.begin` uses
 * it: `execute` writes a query (false when the next must wait for an
 * answer); `reserved`, while set, is called when the connection has nothing
 * in flight, and is cleared (the connection back in the pool) at the first
 * ReadyForQuery that says idle; `onclose` is called once if it closes.
 */
interface ConnectionInternals {
  execute(query: QueryInternals): boolean;
  reserved: (() => void) | null;
  onclose: ((error: unknown) => void) | null;
}

function isQuery(value: unknown): value is QueryInternals {
  return value instanceof Promise && 'handler' in value && 'strings' in value;
}

const unavailable = (what: string) =>
  new NudgeError(
    `${what} is not available on a read-only connection through a pooler`,
    'this is a defect in Nudge: please report it',
  );

/**
 * The pool, with every statement sent as BEGIN READ ONLY; statement; COMMIT
 * on one connection. postgres.js sends a query through the function it keeps
 * on the query (`handler`) when the query is first awaited; each query made
 * here gets one that hands the pool a BEGIN READ ONLY and, when a connection
 * writes it, the statement and its COMMIT to that same connection, in order,
 * in one write. The connection is held the way `sql.begin` holds it, and goes
 * back to the pool when the server says the transaction ended. Not
 * `sql.reserve()`: in postgres.js 3.4.9 a reserve that waits for a connection
 * is lost when a connection closes meanwhile (porsager/postgres#1195), which
 * a pooler dropping its server sessions does.
 */
function inReadOnlyTransactions(pool: Sql): Sql {
  const send = (query: QueryInternals) => {
    // One statement, in the extended protocol: the server refuses a string of
    // several (42601), so none can end this transaction (COMMIT; …) and write after it.
    query.options.simple = false;
    const commit = pool.unsafe('commit') as unknown as QueryInternals;
    commit.executed = true; // sent below, never through the pool
    commit.catch(() => {}); // the statement's own answer is the one to see
    let written = false;
    const begin = pool.unsafe('begin read only', [], {
      onexecute: (connection: ConnectionInternals) => {
        written = true;
        const waiting = [query, commit];
        const next = () => {
          for (let statement = waiting.shift(); statement; statement = waiting.shift())
            if (!connection.execute(statement)) return;
        };
        connection.reserved = next;
        // Statements not written yet when the connection closes would wait forever.
        connection.onclose = (error) => {
          for (const statement of waiting.splice(0)) statement.reject(error);
        };
        next();
        return false; // the pool gives this connection nothing else meanwhile
      },
    } as postgres.UnsafeQueryOptions);
    // A BEGIN that never reached a connection (the pool ended, or it could
    // not connect) fails the statement; one that did fails it too, by itself.
    begin.then(
      () => {
        if (!written) query.reject(unavailable('a statement written apart from its BEGIN'));
      },
      (error: unknown) => {
        if (!written) query.reject(error);
      },
    );
  };
  const route = <T>(made: T): T => {
    if (isQuery(made)) made.handler = send;
    return made;
  };
  return new Proxy(pool, {
    apply(target, thisArg, args) {
      return route(Reflect.apply(target, thisArg, args));
    },
    get(target, property, receiver) {
      if (property === 'unsafe' || property === 'file') {
        const make = Reflect.get(target, property, receiver) as (...a: unknown[]) => unknown;
        return (...args: unknown[]) => route(make(...args));
      }
      if (property === 'begin') {
        return (...args: unknown[]) => {
          const fn = args[args.length - 1];
          const mode = args.length > 1 ? `read only ${String(args[0])}` : 'read only';
          return (target.begin as (...a: unknown[]) => unknown)(mode, fn);
        };
      }
      if (
        property === 'reserve' ||
        property === 'listen' ||
        property === 'subscribe' ||
        property === 'largeObject' ||
        property === 'notify'
      ) {
        return () => Promise.reject(unavailable(`sql.${String(property)}`));
      }
      return Reflect.get(target, property, receiver);
    },
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
  const tls = tlsRefusal(error);
  if (tls) return new SourceError(`${context}: ${tls[0]} (${e.message})`, undefined, tls[1]);
  if (known) {
    // The server's own words when they say it already ("password
    // authentication failed for user …"), else ours and then theirs.
    const said = isSqlState && e.message ? e.message : '';
    const words = said.toLowerCase().startsWith(known[0].toLowerCase())
      ? said
      : `${known[0]}${said ? `: ${said}` : ''}`;
    return new SourceError(`${context}: ${words}`, isSqlState ? code : undefined, known[1]);
  }
  return new SourceError(
    `${context}: ${e.message ?? String(error)}`,
    isSqlState ? code : undefined,
  );
}

/** Opens a connection and checks it works (and, read-only, that the server refuses writes on it), with a clear error if not. */
export async function openSource(options: SourceOptions): Promise<Sql> {
  try {
    if (!options.readOnly) return await open(options);
    const known = options.readOnlyBy ?? readOnlyByUrl.get(options.url);
    if (known) return await open({ ...options, readOnlyBy: known });
    let sql: Sql;
    try {
      sql = await open({ ...options, readOnlyBy: 'startup' });
    } catch (error) {
      if (!refusedStartup(error)) throw error;
      sql = await open({ ...options, readOnlyBy: 'transaction' });
      readOnlyByUrl.set(options.url, 'transaction');
      return sql;
    }
    readOnlyByUrl.set(options.url, 'startup');
    return sql;
  } catch (error) {
    if ((error as { code?: string }).code === NOT_READ_ONLY) {
      return Promise.reject(
        new SourceError(
          `cannot connect to ${redactUrl(options.url)}: access is read-only, and the server did not make the session read-only`,
          undefined,
          'connect directly, or through a pooler in session mode (Supabase: the session pooler, port 5432); or set access: read-write',
        ),
      );
    }
    if ((error as { code?: string }).code === NO_ANSWER) {
      throw new SourceError(
        `cannot connect to ${redactUrl(options.url)}: no answer from a PostgreSQL server in ${(options.firstAnswerMs ?? FIRST_ANSWER_MS) / 1000} s`,
        undefined,
        'check the host and port: they may belong to another service, or a firewall may drop the packets',
      );
    }
    throw sourceError(error, `cannot connect to ${redactUrl(options.url)}`);
  }
}

/** How read-only sessions to this URL are made: what openSource finds, opening one if it has not yet. */
export async function readOnlyBy(url: string): Promise<ReadOnlyBy> {
  const known = readOnlyByUrl.get(url);
  if (known) return known;
  const sql = await openSource({ url, readOnly: true, max: 1, prepare: false });
  await sql.end({ timeout: 1 }).catch(() => {});
  return readOnlyByUrl.get(url) ?? 'startup';
}

const NOT_READ_ONLY = 'NUDGE_NOT_READ_ONLY';

/**
 * Refused with 08P01 "unsupported startup parameter" (PgBouncer), or taken
 * and dropped on the way: the session is writable, which target_session_attrs
 * answers by closing it (CONNECTION_DESTROYED) and the check below by NOT_READ_ONLY.
 */
function refusedStartup(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return (
    (e.code === '08P01' && /startup parameter/i.test(e.message ?? '')) ||
    e.code === 'CONNECTION_DESTROYED' ||
    e.code === NOT_READ_ONLY
  );
}

/**
 * Once one connection of `sql` has fetched the server's array types (its
 * first statement does), the others need not: the parsers it registered are
 * shared. postgres.js fetches them again on every (re)connection and drops
 * that query's promise, so a connection lost during it (a server restarting,
 * a backend terminated) is an unhandled rejection no caller can catch, which
 * ends the process (porsager/postgres#1192, #1223). Turned off after the
 * first fetch, reconnections after a restart cannot hit it.
 */
export function typesFetched(sql: Sql): Sql {
  (sql.options as { fetch_types: boolean }).fetch_types = false;
  return sql;
}

/**
 * How long a new connection's first statement may take. postgres.js's
 * connect_timeout covers the TCP connection; a server that accepts it and
 * then answers in something other than PostgreSQL's protocol (an HTTP port,
 * another service) or an address that drops the packets could leave a
 * command waiting for minutes without a word.
 */
const FIRST_ANSWER_MS = 15_000;

function firstAnswer<T>(query: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          Object.assign(new Error(`no answer in ${ms / 1000} s`), {
            code: NO_ANSWER,
          }),
        ),
      ms,
    );
  });
  return Promise.race([query, deadline]).finally(() => clearTimeout(timer));
}

const NO_ANSWER = 'NUDGE_NO_ANSWER';

/** Connects and runs one statement; read-only, the statement asks whether the server refuses writes. */
async function open(options: SourceOptions): Promise<Sql> {
  const sql = connectSource(options);
  const ms = options.firstAnswerMs ?? FIRST_ANSWER_MS;
  try {
    if (!options.readOnly) {
      await firstAnswer(sql`select 1`, ms);
      return typesFetched(sql);
    }
    const [row] = await firstAnswer(
      sql<{ on: string }[]>`
      select current_setting('transaction_read_only') as on`,
      ms,
    );
    if (row?.on !== 'on') {
      throw Object.assign(new Error('the server reports this session writable'), {
        code: NOT_READ_ONLY,
      });
    }
    return typesFetched(sql);
  } catch (error) {
    await sql
      .end({ timeout: (error as { code?: string }).code === NO_ANSWER ? 0 : 1 })
      .catch(() => {});
    throw error;
  }
}
