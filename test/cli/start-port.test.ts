// `nudge start` on a port another process listens on: refused before the
// engine does anything — the engine store is not even migrated — where it
// used to start the engine (claiming events, running actions) and fail
// seconds later.
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { listenOn } from '../../src/dev/port.js';
import { useDatabase } from '../harness/db.js';
import { tempProject } from '../harness/project.js';

const db = useDatabase();
let cwd: string;
let holder: Server;
let port: number;

beforeAll(async () => {
  cwd = await tempProject({ 'nudge.yaml': '' }, 'nudge-start-port-');
  holder = createServer();
  expect(await listenOn(holder, 0)).toBe(true);
  port = (holder.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((resolve) => holder?.close(resolve));
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

describe('nudge start on a port that is taken', () => {
  it('says so and exits 1 before the engine starts', async () => {
    const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
    const code = await run(['start', '--port', String(port)], m.io);
    expect(m.stderr()).toBe(
      [
        `✗ port ${port} on 127.0.0.1 is in use: another process (another nudge start?) listens there`,
        '  hint: stop it, or choose another port with --port or server.port in nudge.yaml',
      ].join('\n'),
    );
    expect(code).toBe(1);
    expect(m.stdout()).toBe('');
    const [store] = await db.sql<{ absent: boolean }[]>`
      select to_regnamespace('nudge_engine') is null as absent`;
    expect(store?.absent).toBe(true);
  });
});
