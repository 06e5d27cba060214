// Processes started together in a project without .nudge/secret.key (a
// `nudge start` and two `nudge worker`s) each make the key or read the one
// another made: none may read it half-written. CI saw one read it empty
// ("is not base64") when the file was created in place and written after.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const SECRETS = pathToFileURL(path.resolve('dist/db/secrets.js')).href;
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** Runs masterKey in a process of its own; its key as base64, or its error. */
function keyInProcess(dir: string): Promise<{ code: number | null; out: string; err: string }> {
  const script = `import(${JSON.stringify(SECRETS)}).then((m) => process.stdout.write(m.masterKey({ dir: ${JSON.stringify(dir)}, env: {} }).toString('base64')))`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', script]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('the master key file, made by processes started together', () => {
  it('is read whole by every one of them, and is the same key', async () => {
    for (let round = 0; round < 5; round++) {
      const dir = await mkdtemp(path.join(tmpdir(), 'nudge-key-race-'));
      dirs.push(dir);
      const results = await Promise.all(Array.from({ length: 6 }, () => keyInProcess(dir)));
      expect(results.map((r) => r.err)).toEqual(Array(6).fill(''));
      expect(results.map((r) => r.code)).toEqual(Array(6).fill(0));
      const stored = Buffer.from(
        (await readFile(path.join(dir, '.nudge', 'secret.key'), 'utf8')).trim(),
        'base64',
      ).toString('base64');
      expect(new Set(results.map((r) => r.out))).toEqual(new Set([stored]));
    }
  });
});
