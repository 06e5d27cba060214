// The commands `nudge dev` prints for another terminal work pasted one at a
// time, nothing exported first: each carries the demo database's URL. Without
// it, `--config examples/demo/nudge.yaml` looks for a store beside that file
// (examples/demo/.nudge/pg), not the database `nudge dev` runs. And with no
// server.public_url, where the links in the mailbox's emails open — said
// only while every email stays in the dev mailbox, not one Resend or SMTP
// sends to a real inbox.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { emailLinksAt, otherCommands, printAfterStory } from '../../src/cli/dev-output.js';
import { memoryIo } from '../../src/cli/io.js';
import { type LoadedConfig, loadConfig } from '../../src/config/load.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { startDemoReceiver } from '../../src/dev/receiver.js';
import { advanceStoreClock } from '../../src/engine/wiring/clock.js';
import { loadFeatures } from '../../src/features/load.js';
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

/** `fn` as if run by the built CLI (npm start): the commands printed name it. */
/** What nudge dev prints after the story, as lines. */
async function afterStory(dashboardUrl: string, linksAt?: string): Promise<string[]> {
  const receiver = await startDemoReceiver();
  const m = memoryIo({ cwd: ROOT });
  try {
    await printAfterStory(db.sql, receiver, m.io, {
      dashboardUrl,
      once: false,
      terminal: otherCommands(m.io, db.url, 'examples/demo/nudge.yaml'),
      ...(linksAt ? { linksAt } : {}),
    });
  } finally {
    await receiver.close();
  }
  return m.stdout().split('\n');
}

async function asBuilt<T>(fn: () => T | Promise<T>): Promise<T> {
  const script = process.argv[1];
  process.argv[1] = BIN;
  try {
    return await fn();
  } finally {
    if (script !== undefined) process.argv[1] = script;
  }
}

/** The export line and the line for `args`, as the built CLI prints them from the repository's root (npm start). */
function printed(args: string): Promise<{ env: string; line: string }> {
  return asBuilt(() => {
    const terminal = otherCommands(memoryIo({ cwd: ROOT }).io, db.url, 'examples/demo/nudge.yaml');
    return { env: terminal.env, line: terminal.command(args) };
  });
}

/** `line` run by a shell in a terminal with no DATABASE_URL, as if pasted there. */
function paste(line: string) {
  const { DATABASE_URL: _, ...env } = process.env;
  return exited('bash', ['-c', line], { cwd: ROOT, env });
}

describe("nudge dev's commands for another terminal", () => {
  it('work pasted alone, on the database nudge dev runs', async () => {
    const { env, line } = await printed('clock show');
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

  it('say how to make an API key for an app, in a line that works pasted alone', async () => {
    const command = `DATABASE_URL="${db.url}" node dist/cli/main.js --config examples/demo/nudge.yaml`;
    const lines = await asBuilt(() => afterStory('http://127.0.0.1:8787/?token=t'));
    const at = lines.findIndex((l) => l.startsWith('To make an API key'));
    expect(lines.slice(at)).toEqual([
      'To make an API key for your app to call the API at http://127.0.0.1:8787/v1 (events, contacts; nudge/client), run this; it prints the key once:',
      `  ${command} keys create my-app`,
    ]);
    const result = await paste(lines[at + 1]!.trim());
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('API key "my-app" (write) created');
    const keys = await db.sql`
      select scope from nudge_engine.api_keys where name = 'my-app' and revoked_at is null`;
    expect(keys).toEqual([{ scope: 'write' }]);

    // The next start: my-app has its key, and `keys create my-app` would be
    // refused. What is printed then works pasted too.
    const again = await asBuilt(() => afterStory('http://127.0.0.1:8787/?token=t'));
    const next = again.findIndex((l) => l.startsWith('An API key'));
    expect(again.slice(next)).toEqual([
      'An API key for your app to call the API at http://127.0.0.1:8787/v1 (events, contacts; nudge/client) exists: my-app, printed once when it was made. To list the keys, or make another (it prints the key once):',
      `  ${command} keys list`,
      `  ${command} keys create my-app-2`,
    ]);
    const list = await paste(again[next + 1]!.trim());
    expect(list.stderr).toBe('');
    expect(list.stdout).toMatch(/^my-app +write .* active/m);
    const another = await paste(again[next + 2]!.trim());
    expect(another.stderr).toBe('');
    expect(another.code).toBe(0);
    expect(another.stdout).toContain('API key "my-app-2" (write) created');
  });
});

describe("nudge dev's Mailbox line", () => {
  it("says that the emails' links open at nudge dev's own address when server.public_url is not set", async () => {
    const said = (linksAt?: string) => afterStory('http://127.0.0.1:8800/?token=t', linksAt);
    const lines = await said('http://127.0.0.1:8800');
    const at = lines.findIndex((l) => l.startsWith('  Mailbox  '));
    expect(lines[at + 1]).toBe(
      "           Their unsubscribe and preference links open here, at http://127.0.0.1:8800 (nudge dev's own address: server.public_url is not set).",
    );
    // No address given (emailLinksAt gave none, below): nothing is said of them.
    expect((await said()).join('\n')).not.toContain('Their unsubscribe');
  });

  it('says it only while every email stays in the dev mailbox, never for one that leaves for a real inbox', async () => {
    const demo = await loadConfig({ cwd: path.join(ROOT, 'examples/demo'), env: {} });
    const features = await loadFeatures(path.join(ROOT, 'examples/demo/nudge/features'), {}, ROOT);
    const url = 'http://127.0.0.1:8800';
    const email = (more: Partial<LoadedConfig['config']['email']>): LoadedConfig => ({
      ...demo,
      config: { ...demo.config, email: { ...demo.config.email, ...more } },
    });
    expect(demo.config.email.provider).toBe('dev');
    expect(emailLinksAt(demo, features, url)).toBe(url);
    // Resend or SMTP: the links reach a real inbox, where this address leads nowhere.
    expect(emailLinksAt(email({ provider: 'resend' }), features, url)).toBeUndefined();
    expect(emailLinksAt(email({ provider: 'smtp' }), features, url)).toBeUndefined();
    // server.public_url set: the links point there.
    const publicUrl: LoadedConfig = {
      ...demo,
      config: {
        ...demo.config,
        server: { ...demo.config.server, public_url: 'https://nudge.example' },
      },
    };
    expect(emailLinksAt(publicUrl, features, url)).toBeUndefined();
    expect(emailLinksAt(demo, features, undefined)).toBeUndefined();
  });
});
