// The nudge.yaml `nudge init` writes reads `database_url: ${DATABASE_URL}`.
// With the variable unset, that is no database URL wherever Nudge has
// something to fall back on — nudge dev's embedded database in .nudge/pg for
// the commands on Nudge's state, the running demo's URL to export for the
// others — and the error naming the variable at its line where a URL is
// needed and none is found.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { type DemoDatabase, openDemoDatabase } from '../../src/dev/demo.js';

let cwd: string;
let demo: DemoDatabase | undefined;
/** Where init's nudge.yaml writes ${DATABASE_URL}: `nudge.yaml:<line>:<column>`. */
let place: string;

beforeAll(async () => {
  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-init-no-db-'));
  // The embedded server may run as another user than root.
  await chmod(cwd, 0o755);
  const init = await nudge('init');
  expect(init.code, init.err).toBe(0);
  const lines = (await readFile(path.join(cwd, 'nudge.yaml'), 'utf8')).split('\n');
  const line = lines.findIndex((l) => l.startsWith('database_url: ${DATABASE_URL}'));
  expect(line).toBeGreaterThanOrEqual(0);
  place = `nudge.yaml:${line + 1}:${'database_url: '.length + 1}`;
}, 60_000);

afterAll(async () => {
  await demo?.server.stop();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

async function nudge(...args: string[]) {
  const m = memoryIo({ cwd, env: {} });
  const code = await run(args, m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

const UNSET = () => `✗ ${place} environment variable DATABASE_URL is not set`;
const SET_IT =
  '  hint: set DATABASE_URL in the environment or in .env next to the config file, or write ${DATABASE_URL:-default}';

describe('a project made by nudge init, with DATABASE_URL unset', () => {
  it('names the variable at its line when there is no embedded database to fall back on', async () => {
    for (const command of [['deploy'], ['plan'], ['logs']]) {
      const result = await nudge(...command);
      expect(result.err, command.join(' ')).toBe([UNSET(), SET_IT].join('\n'));
      expect(result.code, command.join(' ')).toBe(2);
    }
    // doctor runs its checks, and says what to fix on its Database line.
    const doctor = await nudge('doctor');
    expect(doctor.err).toBe('');
    expect(doctor.code).toBe(1);
    expect(doctor.out).toContain(
      [
        `✗ ${'Database'.padEnd(18)} ${place} environment variable DATABASE_URL is not set`,
        '  fix: set DATABASE_URL in the environment or in .env next to the config file, or write ${DATABASE_URL:-default}',
      ].join('\n'),
    );
    // The feature files are read without it, and said to wait for it.
    expect(doctor.out).toMatch(
      /✓ Features +\d+ active features? in nudge\/features\/ read; their tables, columns and deploy state are checked once a database is set/,
    );
    // A file that does not check fails the line, with its place.
    const broken = path.join(cwd, 'nudge/features/broken.yaml');
    await writeFile(
      broken,
      'name: broken\ntrigger: { table: public.orders, on: insrt }\nstages: [{ name: seen }]\n',
    );
    try {
      const failing = await nudge('doctor');
      expect(failing.code).toBe(1);
      expect(failing.out).toContain(
        '  fix: fix each problem at the file and line it names; their tables and columns are checked once a database is set',
      );
      expect(failing.out).toMatch(
        /✗ Features +nudge\/features\/broken\.yaml:2:\d+ trigger\.on: .*did you mean "insert"\?/,
      );
      // Several problems are each listed under a count, not one and "(and 1 more)".
      await writeFile(
        broken,
        'name: broken\ntrigger: { table: public.orders, on: insrt }\nstages: [{ name: seen }]\ndescription: 5\n',
      );
      const two = await nudge('doctor');
      expect(two.out).toMatch(
        /✗ Features +2 problems in the feature files\n {4}nudge\/features\/broken\.yaml:2:\d+ trigger\.on: .*\n {4}nudge\/features\/broken\.yaml:4:\d+ description: expected a string, got 5\n {2}fix: /,
      );
    } finally {
      await rm(broken);
    }
  });

  it('with nudge dev running here: logs and clock use its database, plan says what to export, doctor names the variable', async () => {
    demo = await openDemoDatabase(path.join(cwd, '.nudge/pg'));
    const said =
      'Using the embedded demo database in .nudge/pg (DATABASE_URL, which database_url in nudge.yaml reads, is not set).';
    for (const command of [['logs'], ['clock', 'show']]) {
      const result = await nudge(...command);
      expect(result.code, `${command.join(' ')}: ${result.err}`).toBe(0);
      expect(result.err, command.join(' ')).toBe(said);
    }
    // doctor runs its checks, and its Database line names the URL to export, as plan does.
    const doctor = await nudge('doctor');
    expect(doctor.code, doctor.err).toBe(1);
    expect(doctor.out).toContain(
      [
        `✗ ${'Database'.padEnd(18)} ${place} environment variable DATABASE_URL is not set`,
        `  fix: nudge dev's demo database is running in .nudge/pg: to use it, export DATABASE_URL="${demo.url}" (as nudge dev printed for another terminal) and run this again`,
      ].join('\n'),
    );
    expect(doctor.out).toContain('Supabase API checks skipped');
    for (const command of ['plan', 'deploy']) {
      const result = await nudge(command);
      expect(result.err, command).toBe(
        [
          UNSET(),
          `  hint: nudge dev's demo database is running in .nudge/pg: to use it, export DATABASE_URL="${demo.url}" (as nudge dev printed for another terminal) and run this again`,
        ].join('\n'),
      );
      expect(result.code, command).toBe(2);
    }
  }, 120_000);

  it('with nudge dev stopped, the commands on the user’s database still name the variable', async () => {
    await demo?.server.stop();
    demo = undefined;
    const result = await nudge('deploy');
    expect(result.err).toBe([UNSET(), SET_IT].join('\n'));
    expect(result.code).toBe(2);
  });
});
