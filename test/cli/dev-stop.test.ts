// Ctrl-C in a terminal sends SIGINT to the whole process group. The
// embedded PostgreSQL nudge dev started is not in it (it used to be, and
// shut down under the stopping engine): nudge dev stops in order, the server
// last. Nothing on stderr, and the last line says it has stopped.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../../src/dev/embedded.js';
import { stopLeftPostmaster } from '../harness/postmaster.js';
import { waitFor } from '../harness/wait.js';

const BIN = path.resolve('dist/cli/main.js');
let cwd = '';

beforeAll(async () => {
  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-dev-stop-'));
  await chmod(cwd, 0o755); // the embedded server may run as another user than root
});
afterAll(async () => {
  // Left running only if the test failed before its Ctrl-C stopped it.
  if (cwd) await stopLeftPostmaster(path.join(cwd, 'pg'));
  await rm(cwd, { recursive: true, force: true });
});

it('stops quietly when Ctrl-C reaches its whole process group, the embedded server last, and says it stopped', async () => {
  const dataDir = path.join(cwd, 'pg');
  // detached: a process group of its own, as a terminal gives the command it runs.
  const dev: ChildProcess = spawn(
    process.execPath,
    [BIN, 'dev', '--data-dir', dataDir, '--http-port', String(await freePort())],
    { cwd, detached: true, env: { ...process.env, NO_COLOR: '1' } },
  );
  let stdout = '';
  let stderr = '';
  dev.stdout!.on('data', (chunk) => {
    stdout += chunk;
  });
  dev.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = once(dev, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  try {
    await waitFor(
      () => (stdout.includes('Watching:') ? true : undefined),
      () => `the story to end:\n${stdout}${stderr}`,
      150_000,
    );
    expect(stderr).toBe('');
    process.kill(-dev.pid!, 'SIGINT'); // the terminal's Ctrl-C: the whole group
    const [code] = await exited;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /\nStopping\. The demo database stays in pg for next time \(--fresh starts over\)\.\nStopped\.\n$/,
    );
    expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false);
  } finally {
    if (dev.exitCode === null && dev.signalCode === null) {
      process.kill(-dev.pid!, 'SIGKILL');
      await exited;
    }
  }
}, 240_000);
