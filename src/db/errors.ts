// What a database error means, decided in one place. postgres.js reports the
// server's SQLSTATE as `code`, and its own connection failures (and Node's
// socket errors) as named codes; the engine, the action runner and the syncs
// each ask one of the questions below instead of keeping their own lists.
//
// - Connection lost: the connection is gone (postgres.js closes it); whatever
//   ran on it is over and the server rolled it back (connection-loss.ts).
// - Transient: an error of the moment rather than of the work — connection
//   lost or not made, serialization failure, deadlock, lock timeout, the
//   server starting, too many connections. Doing the same work again later is
//   right; recording it as failed is not.
// - Bad data: the server refused a row's values (class 22 data exception,
//   23 integrity violation). That row will fail again; the others need not.
// - Bad statement: class 42 (syntax error, undefined table or column, ...).
//   No retry fixes it either.

/** After these postgres.js closes the connection (and rejects `begin` on close); also SQLSTATE class 08. */
const LOST = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'ECONNRESET',
  'EPIPE',
  '57P01', // admin shutdown
  '57P02', // crash shutdown
]);

/** Beyond a lost connection: serialization failure, deadlock, lock timeout, the server starting up, too many connections. */
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '55P03', '57P03', '53300']);

/** Connection failures postgres.js reports before or without a server error. */
const NOT_CONNECTED = new Set(['CONNECTION_ENDED', 'CONNECT_TIMEOUT', 'ECONNREFUSED', 'ETIMEDOUT']);

function codeOf(error: unknown): string {
  return String((error as { code?: unknown } | null)?.code ?? '');
}

/** The connection the error came on is gone. */
export function isConnectionLost(error: unknown): boolean {
  const code = codeOf(error);
  return LOST.has(code) || code.startsWith('08');
}

/** No connection to send on: it was lost, or never made (refused, timed out, ended, the server starting). */
export function isDisconnected(error: unknown): boolean {
  const code = codeOf(error);
  return isConnectionLost(error) || NOT_CONNECTED.has(code) || code === '57P03';
}

/** An error of the moment: the same work, done again later, may well succeed. */
export function isTransient(error: unknown): boolean {
  const code = codeOf(error);
  return isConnectionLost(error) || TRANSIENT_SQLSTATES.has(code) || NOT_CONNECTED.has(code);
}

/** The server refused a row's values (SQLSTATE class 22 or 23): that row fails again, others need not. */
export function isBadData(error: unknown): boolean {
  return /^(22|23)/.test(codeOf(error));
}

/** No retry fixes it: bad data, or a bad statement (SQLSTATE class 42). */
export function isPermanent(error: unknown): boolean {
  return isBadData(error) || codeOf(error).startsWith('42');
}

/**
 * Single conditions callers act on by name, each one SQLSTATE: a row that
 * exists already (unique violation), a table or column that is not there, a lock not
 * granted at once (lock_timeout, NOWAIT), a statement cancelled (statement_timeout),
 * a missing privilege.
 */
export const isUniqueViolation = (error: unknown) => codeOf(error) === '23505';
export const isUndefinedTable = (error: unknown) => codeOf(error) === '42P01';
export const isUndefinedColumn = (error: unknown) => codeOf(error) === '42703';
export const isLockNotAvailable = (error: unknown) => codeOf(error) === '55P03';
export const isQueryCanceled = (error: unknown) => codeOf(error) === '57014';
export const isInsufficientPrivilege = (error: unknown) => codeOf(error) === '42501';
