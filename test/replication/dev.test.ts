// `nudge dev` with a project that captures by replication: the deploy line
// names the published tables, and each story step waits for the slot to be
// read, so a step's effects are shown under that step; switched away while
// the slot holds unread changes, it refuses with the ways forward dev has.
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { DEMO_DATABASE } from '../../src/dev/demo.js';
import { startEmbedded } from '../../src/dev/embedded.js';

describe('nudge dev with capture: replication', () => {
  it('names the published tables and shows each effect under its step', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-dev-replication-'));
    await chmod(cwd, 0o755); // the embedded server may run as another user than root
    try {
      await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
      await writeFile(path.join(cwd, 'nudge.yaml'), 'capture: replication\n');
      await writeFile(
        path.join(cwd, 'nudge/features/signed-up.yaml'),
        `name: signed-up
trigger: { table: auth.users, on: insert }
contact: { id: new.id, email: new.email }
stages:
  - name: tracked
    do: [{ track: { event: signed-up } }]
`,
      );
      const m = memoryIo({ cwd, env: {} });
      const code = await run(['dev', '--once', '--data-dir', path.join(cwd, 'pg')], m.io);
      const out = m.stdout();
      expect(m.stderr()).toBe('');
      expect(code).toBe(0);
      expect(out).toMatch(
        /^✓ Deployed \(deployment #1: .*\)\. Capture on auth\.users \(insert\) by replication slot nudge\.$/m,
      );
      const signUps = out.slice(out.indexOf('  Sign-ups'), out.indexOf('  Sign-in'));
      expect(signUps).toContain('signed up');
      expect(signUps).toMatch(/→ signed-up: \d+ events? tracked/);
      // --once: the dashboard is said to have been there and to stop, not to be opened now.
      expect(out).not.toContain('Now open the dashboard');
      expect(out).toMatch(
        /^What the story left \(the dashboard showed it at http:\/\/\S+ while it ran; with --once it stops now\)$/m,
      );
      expect(out).toMatch(
        /^--once: the dashboard, the engine, the stand-ins and the demo database have stopped\. `nudge dev` without --once keeps them running until Ctrl-C\.$/m,
      );
      // The other commands, as typed: the URL exported, and this folder's nudge.yaml (no --config).
      expect(out).not.toContain('--config');
      expect(out).toMatch(
        /from another terminal:\n {2}export DATABASE_URL="postgres:\/\/\S+\/nudge_demo"\n {2}[^\n]+ logs\n/,
      );

      // A sign-up while no engine runs, then the project switched to the
      // outbox: dev refuses to drop the slot, with ways forward dev has.
      const server = await startEmbedded({ dataDir: path.join(cwd, 'pg'), persistent: true });
      const demo = postgres(server.url(DEMO_DATABASE), { onnotice: () => {}, max: 1 });
      await demo`insert into auth.users (id, email) values (gen_random_uuid(), 'unread@example.com')`;
      await demo.end();
      await server.stop();
      await writeFile(path.join(cwd, 'nudge.yaml'), 'capture: outbox\n');
      const again = memoryIo({ cwd, env: {} });
      expect(await run(['dev', '--once', '--data-dir', path.join(cwd, 'pg')], again.io)).toBe(1);
      expect(again.stderr()).toContain(
        "nudge.yaml no longer says capture: replication, and the demo database's slot nudge holds 1 change not yet read",
      );
      expect(again.stderr()).toContain('`nudge dev --once`');
      expect(again.stderr()).toContain('`nudge dev --fresh`');
      expect(again.stderr()).not.toContain('--discard-unread');
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  }, 120_000);
});
