// The commands `nudge dev` prints for another terminal work pasted one at a
// time, nothing exported first: each carries the demo database's URL. Without
// it, `--config examples/demo/nudge.yaml` looks for a store beside that file
// (examples/demo/.nudge/pg), not the database `nudge dev` runs.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { otherCommands } from '../../src/cli/dev-output.js';
import { memoryIo } from '../../src/cli/io.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { advanceStoreClock } from '../../src/engine/wiring/clock.js';
import { useDatabase } from '../harness/db.js';
import { exited } from './exec.js';

const ROOT = path.resolve('.');
const BIN = path.join(ROOT, 'dist/cli/main.js');
const DAY_MS = 24 * 3600_000;

const db = useDatabase();

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  // Two days ahead, as nudge dev leaves its database: what the pasted command must find.
  await advanceStoreClock(db.sql, 2 * DAY_MS);
});

/** The export line and the line for `args`, as the built CLI prints them from the repository's root (npm start). */
function printed(args: string): { env: string; line: string } {
  const script = process.argv[1];
  process.argv[1] = BIN;
  try {
    const terminal = otherCommands(memoryIo({ cwd: ROOT }).io, db.url, 'examples/demo/nudge.yaml');
    return { env: terminal.env, line: terminal.command(args) };
  } finally {
    if (script !== undefined) process.argv[1] = script;
  }
}

/** `line` run by a shell in a terminal with no DATABASE_URL, as if pasted there. */
function paste(line: string) {
  const { DATABASE_URL: _, ...env } = process.env;
  return exited('bash', ['-c', line], { cwd: ROOT, env });
}

describe("nudge dev's commands for another terminal", () => {
  it('work pasted alone, on the database nudge dev runs', async () => {
    const { env, line } = printed('clock show');
    const result = await paste(line);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('(2 days ahead of real time)');
    expect(line).toBe(
      `DATABASE_URL="${db.url}" node dist/cli/main.js --config examples/demo/nudge.yaml clock show`,
    );
    // For the commands not printed.
    expect(env).toBe(`export DATABASE_URL="${db.url}"`);
  });
});
