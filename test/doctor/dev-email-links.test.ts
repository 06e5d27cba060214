// The Email check of `nudge doctor` and the dashboard's Overview on the
// demo: under `nudge dev`, with no server.public_url, links in emails point
// at the dev server's own address, where its mailbox opens them — a ✓ naming
// that address (the port it got). A real project's database with no public
// URL, or an email sent for real (Resend), still warns.
import { rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import type { DoctorChecks } from '../../src/client/index.js';
import { type LoadedConfig, loadConfig } from '../../src/config/load.js';
import { runDoctor } from '../../src/doctor/checks.js';
import { launch, type Running } from '../../src/engine/wiring/launch.js';
import { silentLog } from '../../src/log.js';
import { createApiKey } from '../../src/server/api/keys.js';
import { withDemoNamedDatabase } from '../cli/demo-database.js';
import { useDatabase } from '../harness/db.js';
import { tempProject } from '../harness/project.js';

const db = useDatabase();
const folders: string[] = [];
let running: Running | undefined;

afterAll(async () => {
  await running?.stop();
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

/**
 * A project whose one feature sends a non-transactional email (topic
 * product); `email` is more of nudge.yaml's email block, `more` more of
 * nudge.yaml.
 */
async function emailProject(email = '', more = ''): Promise<string> {
  const cwd = await tempProject({
    'nudge.yaml': `email:
  from: "Acme <hello@acme.example>"
  topics: { product: {} }
${email}${more}`,
    'nudge/features/welcome.yaml': `name: welcome
trigger: { table: auth.users, on: insert }
contact: { email: new.email }
stages:
  - name: welcomed
    do: [{ email: { template: welcome, topic: product } }]
`,
    'nudge/templates/welcome.liquid':
      '<title>Welcome</title><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
  });
  folders.push(cwd);
  return cwd;
}

/** The project in `cwd` as `nudge dev` runs it: on its demo database (here the test's). */
async function asNudgeDev(cwd: string): Promise<LoadedConfig> {
  const loaded = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
  return { ...loaded, databaseUrlFrom: 'nudge dev' };
}

/** The Email lines of the checks, as `outcome message`. */
async function emailLines(project: LoadedConfig): Promise<string[]> {
  const lines: string[] = [];
  await runDoctor(project, {
    say: (outcome, label, message) => {
      if (label === 'Email') lines.push(`${outcome} ${message}`);
    },
    section: () => {},
    skip: () => {},
    gap: () => {},
  });
  return lines;
}

describe('the Email check under nudge dev', () => {
  it('is a ✓ on the Overview, naming the address the dev server got', async () => {
    const project = await asNudgeDev(await emailProject('', 'server: { port: 0 }\n'));
    running = await launch(project, { http: true, log: silentLog, idleMs: 20 });
    const { key } = await createApiKey(db.sql, 'dev-links', 'dashboard');
    const response = await fetch(`${running.url}/v1/overview/checks`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(response.status).toBe(200);
    const { checks } = (await response.json()) as DoctorChecks;
    expect(checks.filter((c) => c.label === 'Email')).toEqual([
      {
        section: 'Database',
        outcome: 'ok',
        label: 'Email',
        message: `1 non-transactional email (welcome/welcomed) link to ${running.url} for unsubscribing: nudge dev's own address, where its mailbox opens them`,
        fix: null,
      },
    ]);
    expect(running.url).not.toBe('http://127.0.0.1:0');
  });

  it('is a ✓ from another terminal, with the URL nudge dev printed', async () => {
    const cwd = await emailProject();
    const out = await withDemoNamedDatabase(async (url) => {
      const m = memoryIo({ cwd, env: { DATABASE_URL: url } });
      await run(['doctor'], m.io);
      return m.stdout();
    });
    expect(out).toContain(
      "✓ Email              1 non-transactional email (welcome/welcomed) link to http://127.0.0.1:8787 for unsubscribing: nudge dev's address (unless it said it took another port), where its mailbox opens them\n",
    );
  });

  it('still warns when an email leaves for a real inbox (Resend)', async () => {
    const project = await asNudgeDev(
      await emailProject('  provider: resend\n  resend: { api_key: re_test }\n'),
    );
    expect(await emailLines(project)).toEqual([
      'warn 1 non-transactional email (welcome/welcomed) link to http://127.0.0.1:8787 for unsubscribing: server.public_url is not set',
    ]);
  });
});

describe('the Email check on a real project', () => {
  it('warns that server.public_url is not set, as nudge doctor always has', async () => {
    const m = memoryIo({ cwd: await emailProject(), env: { DATABASE_URL: db.url } });
    await run(['doctor'], m.io);
    expect(m.stdout()).toContain(
      '⚠ Email              1 non-transactional email (welcome/welcomed) link to http://127.0.0.1:8787 for unsubscribing: server.public_url is not set\n  fix: set server.public_url in nudge.yaml to the https:// URL this server is reachable at',
    );
  });
});
