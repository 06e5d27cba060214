// No database URL, with `nudge dev` running in the working directory on
// .nudge/pg and a project elsewhere (--config examples/demo/nudge.yaml): the
// error says to export the URL nudge dev printed, that very URL, where it
// said "or run `nudge dev`" — which was running. Without one running, it
// still says to export what nudge dev prints.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { type DemoDatabase, openDemoDatabase } from '../../src/dev/demo.js';
import { tempProject } from '../harness/project.js';

let cwd: string;
let demo: DemoDatabase | undefined;

beforeAll(async () => {
  cwd = await tempProject({ 'app/nudge.yaml': '' }, 'nudge-no-db-', { worldReadable: true });
  demo = await openDemoDatabase(path.join(cwd, '.nudge/pg'));
}, 120_000);

afterAll(async () => {
  await demo?.server.stop();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

async function nudge(...args: string[]) {
  const m = memoryIo({ cwd, env: {} });
  const code = await run(['--config', 'app/nudge.yaml', ...args], m.io);
  return { code, err: m.stderr() };
}

describe('no database configured', () => {
  it('names the URL of the nudge dev running here, for the store’s commands and the source’s', async () => {
    for (const command of ['logs', 'plan']) {
      const result = await nudge(command);
      expect(result.code, command).toBe(1);
      expect(result.err, command).toBe(
        [
          '✗ no database configured',
          `  hint: nudge dev's demo database is running in .nudge/pg: to use it, export DATABASE_URL="${demo?.url}" (as nudge dev printed for another terminal) and run this again; or set database_url in nudge.yaml`,
        ].join('\n'),
      );
    }
  });

  it('says to export what nudge dev prints when none is running', async () => {
    await demo?.server.stop();
    demo = undefined;
    const result = await nudge('logs');
    expect(result.code).toBe(1);
    expect(result.err).toContain(
      'with `nudge dev` running, export the DATABASE_URL it printed for another terminal',
    );
  });
});
