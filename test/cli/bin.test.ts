// The built `nudge` executable, as `npm start` runs it: exit codes reach the
// shell, and `nudge dev --once` takes a newcomer from nothing to captured
// events on an embedded database (its own server, in a temporary directory).
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = path.resolve('dist/cli/main.js');

async function nudge(args: string[], cwd: string) {
  try {
    const { stdout, stderr } = await run('node', [BIN, ...args], {
      cwd,
      env: { ...process.env, CI: 'true' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the nudge executable', () => {
  it('exits non-zero with a one-line error and a hint when there is no database', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-bin-'));
    const result = await nudge(['plan'], cwd);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('✗ no database configured');
    expect(result.stderr).toContain('hint:');
  });

  it('runs the demo: embedded Postgres, deployed features, captured events', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-bin-'));
    await chmod(cwd, 0o755);
    try {
      const result = await nudge(['dev', '--once', '--data-dir', path.join(cwd, 'pg')], cwd);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Plan: 5 to create');
      expect(result.stdout).toMatch(/^Ready in \d+\.\d s\.$/m);
      expect(result.stdout).toMatch(
        /welcome-drip +ada\+\d+@example\.com +attempt +email attempt 1 succeeded/,
      );
      expect(result.stdout).toMatch(
        /order-paid +ada\+\d+@example\.com +attempt +webhook attempt 1 succeeded/,
      );
      expect(result.stdout).toMatch(/to ada\+\d+@example\.com {2}"Welcome aboard, friend"/);
      // The enrichment captured in the trigger (the buyer's plan) reached the webhook body.
      expect(result.stdout).toMatch(/POST \/orders {2}\{"plan":"pro","order":1,"total":42\.5\}/);
      // The rolled-back order was never captured: one heartbeat, for order 1 only.
      expect(result.stdout.match(/heartbeat .* matched/g)).toHaveLength(1);
      // A second run reuses the database and deploys nothing new.
      const again = await nudge(['dev', '--once', '--data-dir', path.join(cwd, 'pg')], cwd);
      expect(again.stdout).toContain('No changes.');
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });
});
