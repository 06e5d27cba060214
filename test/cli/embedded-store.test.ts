// With no database URL, the commands on Nudge's own state open the embedded
// demo database that nudge dev left in .nudge/pg, and say so in one line on
// stderr; the commands on the user's database still say "no database
// configured". A store kept in engine.database_url is not the demo's: nothing
// is said.
import { chmod, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { openDemoDatabase } from '../../src/dev/demo.js';
import { useDatabase } from '../harness/db.js';
import { tempProject } from '../harness/project.js';

const db = useDatabase();
let parent: string;
let cwd: string;

beforeAll(async () => {
  parent = await tempProject(
    { 'demo/nudge.yaml': '', 'demo/separate.yaml': `engine:\n  database_url: ${db.url}\n` },
    'nudge-embedded-',
    { worldReadable: true },
  );
  cwd = path.join(parent, 'demo');
  // The embedded server may run as another user than root.
  await chmod(cwd, 0o755);
  const demo = await openDemoDatabase(path.join(cwd, '.nudge/pg'));
  await demo.server.stop();
}, 120_000);

afterAll(async () => {
  if (parent) await rm(parent, { recursive: true, force: true });
});

async function nudge(args: string[], from = cwd) {
  const m = memoryIo({ cwd: from, env: {} });
  const code = await run(args, m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

const SAID = 'Using the embedded demo database in .nudge/pg (no database URL set).';

describe('no database URL, and nudge dev’s embedded database in .nudge/pg', () => {
  it('the engine store’s commands use it and say so on stderr', async () => {
    for (const args of [
      ['logs'],
      ['clock', 'show'],
      ['keys', 'list'],
      ['replay', '--since', '1h'],
    ]) {
      const result = await nudge(args);
      expect(result.code, `${args.join(' ')}: ${result.err}`).toBe(0);
      expect(result.err, args.join(' ')).toBe(SAID);
    }
    // The project has no feature and the store no action run: these open the store, then refuse the name.
    for (const args of [
      ['pause', 'welcome'],
      ['report', 'welcome'],
      ['replay', '--key', 'none'],
    ]) {
      const result = await nudge(args);
      expect(result.err.split('\n')[0], args.join(' ')).toBe(SAID);
    }
    expect((await nudge(['clock', 'show'])).out).toMatch(/\(real time\)$/);
    // Named from where the command runs.
    const above = await nudge(['--config', 'demo/nudge.yaml', 'keys', 'list'], parent);
    expect(above.err).toBe(
      'Using the embedded demo database in demo/.nudge/pg (no database URL set).',
    );
  }, 120_000);

  it('the commands on the user’s database still want a URL', async () => {
    const plan = await nudge(['plan']);
    expect(plan.code).toBe(1);
    expect(plan.err).toContain('✗ no database configured');
  });

  it('says nothing when the store is engine.database_url', async () => {
    const separate = await nudge(['--config', 'separate.yaml', 'keys', 'list']);
    expect(separate.code, separate.err).toBe(0);
    expect(separate.err).toBe('');
  }, 120_000);
});
