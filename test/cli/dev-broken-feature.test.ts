// `nudge dev` in a project whose feature file is wrong: what stopped — the
// demo database it had started and announced (`psql "…"`) included — and
// where its data stays, then the problem at its line. It used to end on the ✗
// line alone, with the psql line above it as if the server were still there.
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exited } from './exec.js';

const BIN = path.resolve('dist/cli/main.js');

let cwd: string;

beforeAll(async () => {
  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-dev-broken-'));
  // As root, PostgreSQL runs as the postgres user, which must reach the data folder.
  await chmod(cwd, 0o755);
  const init = await exited('node', [BIN, 'init'], { cwd, env: { ...process.env, CI: 'true' } });
  expect(init.code, init.stderr).toBe(0);
  const file = path.join(cwd, 'nudge/features/welcome-drip.yaml');
  const text = await readFile(file, 'utf8');
  expect(text).toMatch(/after: \S+/);
  await writeFile(file, text.replace(/after: \S+/, 'after: 2days'));
});

afterAll(async () => {
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

describe('nudge dev with a feature file it cannot read', () => {
  it('says that it stopped the demo database, then the problem, and leaves none running', async () => {
    const { DATABASE_URL: _, ...env } = process.env;
    const result = await exited('node', [BIN, 'dev', '--once', '--data-dir', 'pg'], {
      cwd,
      env: { ...env, CI: 'true' },
    });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stdout).toContain('psql "postgres://');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(
      'nudge dev has stopped, and so has the demo database (its data stays in pg), because of:',
    );
    expect(lines[1]).toMatch(
      /^✗ nudge\/features\/welcome-drip\.yaml:\d+:\d+ stages\[\d+\]\.after: .*did you mean "2d"\?/,
    );
    expect(result.stderr).not.toContain('unexpected');
    // The server it started is down: no postmaster.pid left in its data folder.
    expect(existsSync(path.join(cwd, 'pg'))).toBe(true);
    expect(existsSync(path.join(cwd, 'pg', 'postmaster.pid'))).toBe(false);
  }, 120_000);
});
