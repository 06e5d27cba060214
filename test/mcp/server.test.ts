// `nudge mcp` as an assistant sees it: the SDK's own client spawns the CLI
// (through tsx) over stdio against a test database where an engine has
// already run one sign-up through a feature, so decisions, an action run and
// a contact exist. A second server on a read-only config must refuse deploy.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRuns } from '../../src/actions/queue.js';
import { signUp, testEngine } from '../engine/harness.js';
import { useDatabase } from '../harness/db.js';

const REPO = path.resolve(import.meta.dirname, '../..');
/** tsx's loader by URL: the server runs in the project's folder, where no tsx is installed. */
const TSX = pathToFileURL(path.join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;
const db = useDatabase();

const WELCOME = `name: welcome
trigger: { table: auth.users, on: insert }
stages:
  - name: welcomed
    do: [{ email: { template: welcome, subject: Hi } }]
`;
/** Not deployed by the engine harness: plan shows it, deploy installs it. */
const ORDERS = `name: order-placed
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages:
  - name: tracked
    do: [{ track: { event: order_placed } }]
`;

/** A variable YAML may name (`${HOOK_TOKEN}`): its value is never in an answer. */
const HOOK_TOKEN = 'tok-Ibex-9905-secret';

let cwd: string;
let client: Client;
let readOnly: Client;

async function connect(args: string[] = []): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', TSX, path.join(REPO, 'src/cli/main.ts'), ...args, 'mcp'],
    cwd,
    env: { ...(process.env as Record<string, string>), DATABASE_URL: db.url, HOOK_TOKEN },
    stderr: 'pipe',
  });
  const mcp = new Client({ name: 'nudge-test', version: '1.0.0' });
  await mcp.connect(transport);
  return mcp;
}

async function call(mcp: Client, name: string, args: Record<string, unknown> = {}) {
  const result = (await mcp.callTool({ name, arguments: args })) as CallToolResult;
  const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
  return { isError: !!result.isError, text };
}
const json = async (mcp: Client, name: string, args: Record<string, unknown> = {}) => {
  const { isError, text } = await call(mcp, name, args);
  expect(isError, text).toBe(false);
  return JSON.parse(text);
};

beforeAll(async () => {
  await db.sql.unsafe(`create table public.orders (
      id bigint generated always as identity primary key,
      user_id uuid not null references auth.users (id), total numeric)`);
  const engine = await testEngine(db, { 'welcome.yaml': WELCOME }, { enqueue: newRuns });
  await signUp(db.sql, 'ada@example.com');
  await engine.settle();

  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-mcp-'));
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  // The email templates the features name: plan checks each is there.
  await mkdir(path.join(cwd, 'nudge/templates'), { recursive: true });
  for (const name of ['welcome', 'thanks'])
    await writeFile(
      path.join(cwd, `nudge/templates/${name}.liquid`),
      `<p>Hello {{ contact.email }}</p>\n`,
    );
  await writeFile(path.join(cwd, 'nudge.yaml'), 'access: read-write\n');
  await writeFile(path.join(cwd, 'read-only.yaml'), 'access: read-only\n');
  await writeFile(path.join(cwd, 'nudge/features/welcome.yaml'), WELCOME);
  await writeFile(path.join(cwd, 'nudge/features/order-placed.yaml'), ORDERS);
  [client, readOnly] = await Promise.all([connect(), connect(['--config', 'read-only.yaml'])]);
});

afterAll(async () => {
  await Promise.all([client?.close(), readOnly?.close()]);
});

describe('nudge mcp', () => {
  it('offers the tools', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'analyze_schema',
      'backtest',
      'deploy',
      'list_features',
      'lookup_contact',
      'plan',
      'query_action_results',
      'query_decisions',
      'validate_feature',
      'write_draft_feature',
    ]);
    const deploy = tools.find((t) => t.name === 'deploy')!;
    expect(deploy.inputSchema.required).toEqual(['confirm']);
  });

  it('analyzes the schema and lists the features', async () => {
    const analysis = await json(client, 'analyze_schema', { schemas: ['public'] });
    const orders = analysis.schemas[0].tables.find((t: { table: string }) => t.table === 'orders');
    expect(orders.authUserReferences[0].columns).toEqual(['user_id']);
    expect(await json(client, 'list_features')).toEqual([
      {
        name: 'order-placed',
        status: 'active',
        description: null,
        trigger: 'insert on public.orders',
        stages: ['tracked'],
        file: 'nudge/features/order-placed.yaml',
      },
      {
        name: 'welcome',
        status: 'active',
        description: null,
        trigger: 'insert on auth.users',
        stages: ['welcomed'],
        file: 'nudge/features/welcome.yaml',
      },
    ]);
  });

  it('validates YAML against the live schema, with line and column', async () => {
    const yaml = `name: big-orders
trigger:
  table: public.orders
  on: insert
  when: { new.amount: gt.100 }
contact: { id: new.user_id }
stages:
  - name: thanked
    do: [{ emial: { template: thanks } }]
`;
    const result = await json(client, 'validate_feature', { yaml });
    expect(result.valid).toBe(false);
    expect(result.errors).toEqual([
      {
        line: 9,
        column: 19,
        field: 'stages[0].do[0].emial',
        problem:
          'unknown action "emial" (did you mean "email"?); expected one of email, webhook, function, set, add_to_list, remove_from_list, track, goto, exit',
        message: expect.stringMatching(/^nudge\/features\/draft\.yaml:9:19 /),
      },
    ]);
    const fixed = await json(client, 'validate_feature', {
      yaml: yaml.replace('emial', 'email'),
    });
    expect(
      fixed.errors.map((e: { line: number; column: number; problem: string }) => [
        e.line,
        e.column,
        e.problem,
      ]),
    ).toEqual([[5, 11, 'column "amount" does not exist on public.orders']]);
    const valid = await json(client, 'validate_feature', {
      yaml: yaml.replace('emial', 'email').replace('amount', 'total'),
    });
    expect(valid).toEqual({ valid: true, errors: [] });
    // A draft names the template the user is to write: not an error until plan.
    const unwritten = await json(client, 'validate_feature', {
      yaml: yaml
        .replace('emial', 'email')
        .replace('amount', 'total')
        .replace('thanks', 'not-written-yet'),
    });
    expect(unwritten).toEqual({ valid: true, errors: [] });
  });

  it('writes a draft only when it is valid, never over a file without overwrite', async () => {
    const yaml =
      'name: big-orders\nstatus: active\ntrigger: { table: public.orders, on: insert }\ncontact: { id: new.user_id }\nstages:\n  - name: thanked\n    do: [{ email: { template: thanks } }]\n';
    const file = path.join(cwd, 'nudge/features/big-orders.yaml');
    const bad = await call(client, 'write_draft_feature', {
      yaml: yaml.replace('user_id', 'buyer'),
    });
    expect(bad.isError).toBe(true);
    expect(bad.text).toContain('column \\"buyer\\" does not exist on public.orders');
    expect(existsSync(file)).toBe(false);

    const written = await json(client, 'write_draft_feature', { yaml });
    expect(written.file).toBe('nudge/features/big-orders.yaml');
    const saved = await readFile(file, 'utf8');
    expect(saved).toContain('status: draft');
    expect(saved).not.toContain('status: active');
    const again = await call(client, 'write_draft_feature', { yaml });
    expect(again.isError).toBe(true);
    expect(again.text).toContain('nudge/features/big-orders.yaml already exists');
    expect(
      (await json(client, 'list_features')).map((f: { status: string }) => f.status),
    ).toContain('draft');
  });

  it('answers broken YAML given to write_draft_feature with located errors, writing nothing', async () => {
    const yaml =
      'name: broken\ntrigger: { table: public.orders, on: insert\nstages:\n  - name: a\n';
    const result = await call(client, 'write_draft_feature', { yaml });
    expect(result.isError).toBe(true);
    const { written, errors } = JSON.parse(result.text);
    expect(written).toBe(false);
    expect(errors[0]).toMatchObject({
      line: expect.any(Number),
      message: expect.stringMatching(/^nudge\/features\/broken\.yaml:\d+:\d+ /),
    });
    expect(existsSync(path.join(cwd, 'nudge/features/broken.yaml'))).toBe(false);
  });

  it('names a variable in its errors, never its value', async () => {
    const yaml =
      'name: hooked\ntrigger: { table: public.orders, on: "${HOOK_TOKEN}" }\ncontact: { id: new.user_id }\nstages:\n  - name: a\n';
    for (const tool of ['validate_feature', 'write_draft_feature']) {
      const result = await call(client, tool, { yaml });
      expect(result.text, tool).toContain('got \\"${HOOK_TOKEN}\\"');
      expect(result.text, tool).not.toContain(HOOK_TOKEN);
    }
  });

  it('plans, refuses deploy without confirm, deploys with it and returns what it applied', async () => {
    const plan = await json(client, 'plan');
    expect(plan.changes).toBe(true);
    expect(plan.counts.create).toBeGreaterThan(0);

    const refused = await call(client, 'deploy', { confirm: false });
    expect(refused.isError).toBe(true);
    expect(refused.text).toContain('deploy needs confirm: true');
    const trigger = () =>
      db.sql`select tgname from pg_trigger where tgrelid = 'public.orders'::regclass and not tgisinternal`;
    expect(await trigger()).toHaveLength(0);

    const deployed = await call(client, 'deploy', { confirm: true });
    expect(deployed.isError, deployed.text).toBe(false);
    expect(deployed.text).toContain('public.orders');
    expect(deployed.text).toMatch(/✓ Deployment #\d+: \d+ created/);
    expect(await trigger()).toHaveLength(1);
    expect((await json(client, 'plan')).changes).toBe(false);
  });

  it('backtests a feature over the past, drafts too, and names an unknown one', async () => {
    const report = await json(client, 'backtest', { feature: 'welcome', since: '30d' });
    expect(report).toMatchObject({
      feature: 'welcome',
      events: { read: 1, matched: 1 },
      contacts: { entered: 1 },
      actions: { email: { welcome: 1 } },
    });
    const draft = await json(client, 'backtest', { feature: 'big-orders' });
    expect(draft).toMatchObject({ feature: 'big-orders', status: 'draft', events: { read: 0 } });
    const unknown = await call(client, 'backtest', { feature: 'nope' });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toContain('no feature named "nope"');
    // Its arguments are named as the tool takes them, not as the CLI's flags.
    const bad = await call(client, 'backtest', { feature: 'welcome', since: 'soon' });
    expect(bad.isError).toBe(true);
    expect(bad.text).toContain('since "soon" is not a time');
    expect(bad.text).not.toContain('--since');
  });

  it('refuses deploy in read-only mode, even confirmed', async () => {
    const before = await db.sql`select count(*)::int as n from nudge.deployments`;
    const refused = await call(readOnly, 'deploy', { confirm: true });
    expect(refused.isError).toBe(true);
    expect(refused.text).toContain('access is read-only: deploy is not available');
    expect(await db.sql`select count(*)::int as n from nudge.deployments`).toEqual(before);
  });

  it('reads decisions, action results and a contact through the API routes', async () => {
    const decisions = await json(client, 'query_decisions', { feature: 'welcome' });
    expect(decisions.items.map((d: { outcome: string }) => d.outcome)).toEqual(
      expect.arrayContaining(['entered', 'action']),
    );
    expect(decisions.items.every((d: { contact: string }) => d.contact === 'ada@example.com')).toBe(
      true,
    );
    const actions = await json(client, 'query_action_results', { feature: 'welcome' });
    expect(actions.items).toEqual([
      expect.objectContaining({ kind: 'email', status: 'pending', contact: 'ada@example.com' }),
    ]);
    const contact = await json(client, 'lookup_contact', { contact: 'ada@example.com' });
    expect(contact.contact.email).toBe('ada@example.com');
    const missing = await call(client, 'lookup_contact', { contact: 'nobody@example.com' });
    expect(missing.isError).toBe(true);
    expect(missing.text).toContain(
      '404 contact_not_found: contact nobody@example.com does not exist',
    );
    const bad = await call(client, 'query_decisions', { outcome: 'maybe' });
    expect(bad.isError).toBe(true);
    expect(bad.text).toContain('outcome: expected one of');
    // A feature no file has and nothing recorded: said, with the known ones, as the API does.
    for (const tool of ['query_decisions', 'query_action_results']) {
      const typo = await call(client, tool, { feature: 'welcom' });
      expect(typo.isError, tool).toBe(true);
      expect(typo.text, tool).toMatch(/422 unknown_feature: feature: no feature named "welcom"/);
      expect(typo.text, tool).toContain('welcome');
    }
  });

  it('serves feature files, docs and the feature schema as resources', async () => {
    const { resources } = await client.listResources();
    const uris = resources.map((r) => r.uri);
    expect(uris).toEqual(
      expect.arrayContaining([
        'nudge://features/welcome.yaml',
        'nudge://docs/configuration.md',
        'nudge://schema/feature.schema.json',
      ]),
    );
    const welcome = await client.readResource({ uri: 'nudge://features/welcome.yaml' });
    expect(welcome.contents[0]).toMatchObject({ text: WELCOME, mimeType: 'application/yaml' });
    const doc = await client.readResource({ uri: 'nudge://docs/configuration.md' });
    expect(doc.contents[0]).toMatchObject({
      text: await readFile(path.join(REPO, 'docs/configuration.md'), 'utf8'),
    });
    await expect(client.readResource({ uri: 'nudge://features/..%2Fnudge.yaml' })).rejects.toThrow(
      /no such resource/,
    );
  });
});
