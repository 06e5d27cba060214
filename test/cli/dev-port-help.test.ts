// `nudge dev --port` places the embedded PostgreSQL, not the dashboard: its
// help says so, and that --http-port (or server.port) moves the dashboard,
// for a newcomer who reaches for --port to move the dashboard.
import { describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';

describe('nudge dev --help', () => {
  it('says --port is the embedded PostgreSQL’s, and that --http-port moves the dashboard', async () => {
    const m = memoryIo({ cwd: process.cwd(), env: {} });
    expect(await run(['dev', '--help'], m.io)).toBe(0);
    const help = m.stdout().replace(/\s+/g, ' ');
    expect(help).toMatch(/--port <port> the embedded PostgreSQL['’]s port/);
    expect(help).toContain('not the dashboard’s (--http-port)');
    expect(help).toMatch(
      /--http-port <port> the dashboard’s and API’s port \(default: server\.port in nudge\.yaml/,
    );
  });
});
