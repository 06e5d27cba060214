// PgBouncer (Debian's package) in front of the test server, in session or
// transaction mode, on a free loopback port: what Supabase's session pooler
// (port 5432) and transaction pooler (port 6543) do, for tests of how Nudge
// recognises and works through them.
//
//   const pooler = usePgbouncer('transaction');   // started in beforeAll, stopped in afterAll
//   ... pooler.url(db.name) ...
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, inject } from 'vitest';
import { freePort } from '../../src/dev/embedded.js';
import { waitFor } from './wait.js';

export type PoolMode = 'session' | 'transaction';

export interface Pgbouncer {
  mode: PoolMode;
  port: number;
  /** postgres://postgres:postgres@127.0.0.1:<port>/<database>, through the pooler. */
  url(database: string): string;
  /** What PgBouncer printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** The test server's superuser, as global-setup.ts and src/dev/embedded.ts create it. */
const USER = 'postgres';
const PASSWORD = 'postgres';

export async function startPgbouncer(mode: PoolMode, serverPort: number): Promise<Pgbouncer> {
  const dir = await mkdtemp(path.join(tmpdir(), `nudge-pgbouncer-${mode}-`));
  const port = await freePort();
  const asRoot = userInfo().uid === 0;
  // PgBouncer refuses to run as root; started as root, it switches to `user`
  // (the OS user the embedded server already runs as), which must read the files.
  await chmod(dir, 0o755);
  await writeFile(path.join(dir, 'userlist.txt'), `"${USER}" "${PASSWORD}"\n`, { mode: 0o644 });
  await writeFile(
    path.join(dir, 'pgbouncer.ini'),
    `[databases]
* = host=127.0.0.1 port=${serverPort}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = ${path.join(dir, 'userlist.txt')}
pool_mode = ${mode}
max_client_conn = 1000
default_pool_size = 100
${asRoot ? 'user = postgres\n' : ''}`,
    { mode: 0o644 },
  );
  let printed = '';
  // Debian installs it in /usr/sbin, which a non-root PATH may lack.
  const child: ChildProcess = spawn('pgbouncer', [path.join(dir, 'pgbouncer.ini')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/usr/local/sbin` },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone: Error | undefined;
  child.once('error', (error) => {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    gone = missing
      ? new Error('pgbouncer is not installed: apt-get install pgbouncer (.ci/run does)')
      : error;
  });
  child.once('exit', (code, signal) => {
    gone ??= new Error(`pgbouncer exited (${signal ?? code}): ${printed}`);
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      printed += chunk.toString();
    });
  }
  const stop = async () => {
    // No pid: it never started (not installed), so there is nothing to stop.
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM'); // immediate shutdown
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (gone) throw gone;
        return (await accepts(port)) ? true : undefined;
      },
      () => `pgbouncer to listen on 127.0.0.1:${port} (it printed: ${printed})`,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    mode,
    port,
    url: (database) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`,
    output: () => printed,
    stop,
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** PgBouncer in front of this run's test server for the current test file. */
export function usePgbouncer(mode: PoolMode): Pgbouncer {
  const holder = {} as Pgbouncer;
  beforeAll(async () => {
    Object.assign(holder, await startPgbouncer(mode, inject('pgPort')));
  });
  afterAll(async () => {
    await holder.stop?.();
  });
  return holder;
}
