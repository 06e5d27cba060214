// What an action needs beyond its own file is checked by plan (and doctor)
// as well: the email template a split variant names, like a stage's, must
// exist (with the template it may mean); a function action needs
// connectors.supabase (project URL and service role key), without which
// every run of it is dead.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { applyDemoTables } from '../../src/dev/demo.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();

beforeAll(async () => {
  await applyDemoTables(db.url);
});

async function project(
  feature: string,
  more: { config?: string; templates?: Record<string, string> } = {},
): Promise<string> {
  const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-action-needs-'));
  await writeFile(path.join(cwd, 'nudge.yaml'), more.config ?? '');
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  await writeFile(path.join(cwd, 'nudge/features/f.yaml'), feature);
  await mkdir(path.join(cwd, 'nudge/templates'), { recursive: true });
  for (const [name, text] of Object.entries(more.templates ?? {}))
    await writeFile(path.join(cwd, 'nudge/templates', name), text);
  return cwd;
}

async function cli(command: string, cwd: string) {
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  const code = await run([command], m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

/** The ✗ lines of plan's output and the hints under them. */
const problemLines = (err: string) =>
  err.split('\n').filter((line) => line.startsWith('✗') || line.trimStart().startsWith('hint:'));

const TEMPLATES = {
  'welcome.liquid': '<p>Hi</p>\n',
  'welcome-long.liquid': '<p>Hi, at length</p>\n',
};

const SPLIT = `name: f
trigger: { table: auth.users, on: insert }
goal: { when: { contact.paid: is.true }, within: 7d }
stages:
  - name: welcomed
    do: [{ email: { template: welcome } }]
    split:
      - { name: short }
      - { name: long, with: { email: { template: welcome-lnog, subject: Hi } } }
`;

describe('a split variant’s email template', () => {
  it('is refused by plan when it does not exist, at its line, with the template meant', async () => {
    const result = await cli(
      'plan',
      await project(SPLIT, {
        config: 'contacts: { attributes: { paid: boolean } }\n',
        templates: TEMPLATES,
      }),
    );
    expect(result.code).toBe(2);
    expect(problemLines(result.err)).toEqual([
      '✗ nudge/features/f.yaml:9:50 stages[0].split[1].with.email.template: email template "welcome-lnog" not found: no nudge/templates/welcome-lnog.liquid or nudge/templates/welcome-lnog.html (did you mean "welcome-long"?)',
    ]);
  });

  it('passes when it exists', async () => {
    const result = await cli(
      'plan',
      await project(SPLIT.replace('welcome-lnog', 'welcome-long'), {
        config: 'contacts: { attributes: { paid: boolean } }\n',
        templates: TEMPLATES,
      }),
    );
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
  });
});

const FUNCTION = `name: f
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages:
  - name: paid
    do:
      - webhook: { url: "https://hooks.example.com/orders" }
      - function: { name: thumbs, body: { id: "{{ new.id }}" } }
`;

const CONNECTOR = `connectors:
  supabase:
    project_url: https://xyzcompany.supabase.co
    service_role_key: a-service-role-key
`;

describe('a function action without connectors.supabase', () => {
  it('is refused by plan at the action, saying what to add to nudge.yaml', async () => {
    const result = await cli('plan', await project(FUNCTION));
    expect(result.code).toBe(2);
    expect(problemLines(result.err)).toEqual([
      '✗ nudge/features/f.yaml:8:9 stages[0].do[1].function: a function action calls a Supabase Edge Function, and nudge.yaml has no connectors.supabase to reach it with: every run of it would be dead',
      '  hint: add to nudge.yaml: connectors: { supabase: { project_url: "https://<project-ref>.supabase.co", service_role_key: "${SUPABASE_SERVICE_ROLE_KEY}" } }',
    ]);
  });

  it('is refused when the connector lacks the project URL or the key', async () => {
    const noKey = await cli(
      'plan',
      await project(FUNCTION, { config: CONNECTOR.replace(/^ {4}service_role_key.*\n/m, '') }),
    );
    expect(noKey.code).toBe(2);
    expect(problemLines(noKey.err)).toEqual([
      '✗ nudge/features/f.yaml:8:9 stages[0].do[1].function: a function action calls a Supabase Edge Function, and connectors.supabase in nudge.yaml has no service_role_key (or api_key): every run of it would be dead',
      '  hint: add to nudge.yaml, under connectors.supabase: service_role_key: "${SUPABASE_SERVICE_ROLE_KEY}"',
    ]);
    const noUrl = await cli(
      'plan',
      await project(FUNCTION, { config: CONNECTOR.replace(/^ {4}project_url.*\n/m, '') }),
    );
    expect(problemLines(noUrl.err)).toEqual([
      '✗ nudge/features/f.yaml:8:9 stages[0].do[1].function: a function action calls a Supabase Edge Function, and connectors.supabase in nudge.yaml has no project_url: every run of it would be dead',
      '  hint: add to nudge.yaml, under connectors.supabase: project_url: "https://<project-ref>.supabase.co"',
    ]);
  });

  it('fails nudge doctor’s Features check', async () => {
    const result = await cli('doctor', await project(FUNCTION));
    expect(result.out).toContain(
      '✗ Features           nudge/features/f.yaml:8:9 stages[0].do[1].function: a function action calls a Supabase Edge Function, and nudge.yaml has no connectors.supabase to reach it with: every run of it would be dead',
    );
  });

  it('passes with the connector', async () => {
    const result = await cli('plan', await project(FUNCTION, { config: CONNECTOR }));
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
  });
});
