// `nudge new` against a local stand-in for an OpenAI-compatible endpoint that
// records every request: a valid answer, one in fences or YAML, an invalid one
// then a repair, never a valid one, no JSON Schema format, a 429 with
// Retry-After, a timeout, and no `ai:` at all. The database holds rows,
// comments, constraints, views, policies and functions with values found
// nowhere else, and the environment a token; no request may carry them.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { memoryIo } from '../../src/cli/io.js';
import { newFeature } from '../../src/cli/new.js';
import { run } from '../../src/cli/program.js';
import { loadFeatures } from '../../src/features/load.js';
import { useDatabase } from '../harness/db.js';
import { type RecordedRequest, type Recorder, startRecorder } from '../harness/http-recorder.js';

const db = useDatabase();
let endpoint: Recorder;

/**
 * Values that exist only in the database: in rows, in a comment on a column,
 * in a check constraint, in a view, in a policy, in a function; and a row
 * count (4271) that only counting the table would give.
 */
const SECRETS = [
  'Zebra-7741',
  'hidden-person@secret.example',
  'Quokka-Plan-3391',
  'Comment-Wombat-5512',
  'Check-Narwhal-8830',
  'View-Axolotl-2291',
  'Policy-Okapi-6604',
  'Function-Pangolin-1187',
  '4271',
];
/** A variable of the environment a draft may name (`${HOOK_TOKEN}`): its value never goes to the model. */
const HOOK_TOKEN = 'tok-Ibex-9905-secret';

const VALID = {
  name: 'first-project',
  description: 'Congratulate users on their first project.',
  trigger: { table: 'public.projects', on: 'insert' },
  contact: { id: 'new.user_id' },
  stages: [
    { name: 'congratulated', do: [{ email: { template: 'welcome', subject: 'Nice project' } }] },
  ],
  max_entries: 1,
};
/** The same with a condition on a column the table does not have. */
const INVALID = { ...VALID, trigger: { ...VALID.trigger, when: { 'new.plan_name': 'eq.pro' } } };

beforeAll(async () => {
  await db.sql.unsafe(`
    create table public.projects (
      id bigint generated always as identity primary key,
      user_id uuid not null references auth.users (id),
      name text not null, plan text, created_at timestamptz not null default now());
    insert into auth.users (id, email) values (gen_random_uuid(), '${SECRETS[1]}');
    insert into public.projects (user_id, name, plan)
      select id, '${SECRETS[0]}', '${SECRETS[2]}' from auth.users;
    analyze public.projects;
    comment on column public.projects.plan is 'e.g. ${SECRETS[3]}';
    alter table public.projects add constraint plan_known
      check (plan is null or plan <> '${SECRETS[4]}');
    create view public.pro_projects as select * from public.projects where plan = '${SECRETS[5]}';
    alter table public.projects enable row level security;
    create policy own on public.projects using (name <> '${SECRETS[6]}');
    create function public.plan_label() returns text language sql as $$ select '${SECRETS[7]}' $$;
    create table public.page_views (id bigint primary key, path text);
    insert into public.page_views select g, '/p' from generate_series(1, 4271) g;
    analyze public.page_views;`);
  endpoint = await startRecorder();
});
afterAll(async () => {
  await endpoint?.close();
});

/** Answers in order (the last one repeats); each as a Chat Completions response. A string is sent as the content as it is. */
function script(...answers: unknown[]): void {
  let next = 0;
  endpoint.route('POST', '/v1/chat/completions', () => {
    const answer = answers[Math.min(next++, answers.length - 1)];
    return {
      body: {
        id: `chatcmpl-${next}`,
        object: 'chat.completion',
        choices: [
          {
            index: 0,
            finish_reason: 'stop',
            message: {
              role: 'assistant',
              content: typeof answer === 'string' ? answer : JSON.stringify(answer),
            },
          },
        ],
      },
    };
  });
}

async function project(
  ai = `ai: { base_url: "${'${AI_URL}'}/v1", model: test-model, timeout_ms: 2000 }`,
) {
  const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-new-'));
  await mkdir(path.join(cwd, 'nudge/templates'), { recursive: true });
  await writeFile(path.join(cwd, 'nudge/templates/welcome.liquid'), '<p>Hello</p>');
  await writeFile(path.join(cwd, 'nudge.yaml'), `templates: nudge/templates\n${ai}\n`);
  return cwd;
}

async function nudgeNew(cwd: string, sentence: string, sleep?: (ms: number) => Promise<void>) {
  const from = endpoint.requests.length;
  const m = memoryIo({
    cwd,
    env: {
      DATABASE_URL: db.url,
      AI_URL: endpoint.url,
      NUDGE_AI_API_KEY: 'sk-test-key',
      HOOK_TOKEN,
    },
  });
  const code = sleep
    ? await newFeature(sentence, {}, m.io, { sleep })
    : await run(['new', ...sentence.split(' ')], m.io);
  return {
    code,
    out: m.stdout(),
    err: m.stderr(),
    requests: endpoint.requests.slice(from),
  };
}

const messagesOf = (request: RecordedRequest) =>
  (request.json as { messages: { role: string; content: string }[] }).messages;

describe('nudge new', () => {
  it('drafts a valid feature from the live schema and saves it as a draft', async () => {
    script(VALID);
    const cwd = await project();
    const { code, out, err, requests } = await nudgeNew(
      cwd,
      'email users when they create their first project',
    );
    expect(err).toContain('Asking test-model');
    expect(code).toBe(0);
    expect(requests).toHaveLength(1);
    const request = requests[0]!;
    expect(request.headers.authorization).toBe('Bearer sk-test-key');
    const body = request.json as {
      model: string;
      response_format: {
        type: string;
        json_schema: {
          name: string;
          schema: { required: string[]; properties: Record<string, unknown> };
        };
      };
    };
    expect(body.model).toBe('test-model');
    expect(body.response_format.type).toBe('json_schema');
    expect(body.response_format.json_schema.schema.required).toEqual(
      expect.arrayContaining(['trigger', 'stages', 'name']),
    );
    expect(Object.keys(body.response_format.json_schema.schema.properties)).toContain('cooldown');
    const [system, user] = messagesOf(request);
    expect(user!.content).toContain('email users when they create their first project');
    expect(system!.content).toContain('table public.projects');
    expect(system!.content).toContain('  user_id uuid (not null, references auth.users(id))');
    expect(system!.content).toContain('Email templates that exist: welcome.');
    expect(system!.content).toContain('name: welcome-drip'); // an example
    // Credentials of auth.users are never described, let alone sent.
    expect(system!.content).toContain('table auth.users');
    expect(system!.content).not.toContain('encrypted_password');

    const file = path.join(cwd, 'nudge/features/first-project.yaml');
    const saved = await readFile(file, 'utf8');
    expect(saved).toMatch(
      /^# Drafted by `nudge new` from: email users when they create their first project\n/,
    );
    expect(out).toContain(saved.trimEnd());
    expect(out).toContain('✓ Saved nudge/features/first-project.yaml: status draft, not deployed');
    // Then tried on the last 30 days: the one project row, rebuilt as an insert.
    expect(out).toMatch(
      /\nBacktest of first-project \(status: draft\) from \d{4}-\d\d-\d\d \d\d:\d\d:\d\d to \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, in /,
    );
    expect(out).toContain('\nEvents read: 1, matched: 1\n');
    expect(out).toContain('\nContacts entered: 1 (1 entries)\n');
    expect(out).toContain('\n  email welcome: 1\n');
    const [feature] = await loadFeatures(path.join(cwd, 'nudge/features'), {}, cwd);
    expect(feature).toMatchObject({ name: 'first-project', status: 'draft' });

    const plan = memoryIo({ cwd, env: { DATABASE_URL: db.url, AI_URL: endpoint.url } });
    expect(await run(['plan'], plan.io)).toBe(0);
    expect(plan.stdout()).toContain('1 draft (not deployed)');
  });

  it('asks again when the answer is not a JSON object', async () => {
    script(JSON.stringify('a feature that emails people'), VALID);
    const cwd = await project();
    const { code, requests } = await nudgeNew(cwd, 'email users about new projects');
    expect(code).toBe(0);
    expect(requests).toHaveLength(2);
    expect(messagesOf(requests[1]!).at(-1)!.content).toBe(
      'Your answer was not a JSON object. Answer with one JSON object for the feature.',
    );
  });

  it('reads an answer in ``` fences with prose around it, as JSON or YAML', async () => {
    const fenced = `Here is the feature:\n\n\`\`\`json\n${JSON.stringify(VALID, null, 2)}\n\`\`\`\n\nIt emails once.`;
    const yaml = `\`\`\`yaml\n${stringify(VALID)}\`\`\``;
    for (const answer of [fenced, yaml]) {
      script(answer);
      const cwd = await project();
      const { code, err, requests } = await nudgeNew(cwd, 'email users about new projects');
      expect(code, err).toBe(0);
      expect(requests).toHaveLength(1);
      expect(await readFile(path.join(cwd, 'nudge/features/first-project.yaml'), 'utf8')).toContain(
        'template: welcome',
      );
    }
  });

  it('asks again without the JSON Schema format when the server has none', async () => {
    script(VALID);
    endpoint.failNext(
      1,
      400,
      {},
      {
        error: {
          message: 'Invalid parameter: response_format of type json_schema is not supported',
        },
      },
    );
    const cwd = await project();
    const { code, requests } = await nudgeNew(cwd, 'email users about new projects');
    expect(code).toBe(0);
    expect(requests).toHaveLength(2);
    expect(requests[1]!.json).not.toHaveProperty('response_format');
    expect(existsSync(path.join(cwd, 'nudge/features/first-project.yaml'))).toBe(true);
  });

  it('never sends the value of a variable a draft names, only its name', async () => {
    const hook = {
      ...VALID,
      trigger: { ...VALID.trigger, on: '${HOOK_TOKEN}' },
    };
    script(hook, VALID);
    const cwd = await project();
    const { code, requests } = await nudgeNew(cwd, 'email users about new projects');
    expect(code).toBe(0);
    const repair = messagesOf(requests[1]!).at(-1)!.content;
    expect(repair).toMatch(/trigger\.on: expected .*, got "\$\{HOOK_TOKEN\}"/);
    for (const request of requests) expect(request.body).not.toContain(HOOK_TOKEN);
  });

  it('sends the located errors back and saves the repaired answer', async () => {
    script(INVALID, VALID);
    const cwd = await project();
    const { code, out, err, requests } = await nudgeNew(cwd, 'a pro plan project drip');
    expect(code).toBe(0);
    expect(requests).toHaveLength(2);
    expect(err).toContain('Repair 1 of 3: sending back 1 problem');
    const repair = messagesOf(requests[1]!).at(-1)!.content;
    expect(repair).toMatch(
      /- nudge\/features\/first-project\.yaml:\d+:\d+ trigger\.when\["new\.plan_name"\]: column "plan_name" does not exist on public\.projects/,
    );
    // The draft it refers to, with line numbers, is in the same message.
    const line = Number(/first-project\.yaml:(\d+):/.exec(repair)![1]);
    expect(repair).toMatch(new RegExp(`\\n\\s*${line} \\|\\s+new\\.plan_name: eq\\.pro`));
    expect(messagesOf(requests[1]!).at(-2)!.role).toBe('assistant');
    expect(out).toContain('(valid after 1 repair)');
    expect(
      await readFile(path.join(cwd, 'nudge/features/first-project.yaml'), 'utf8'),
    ).not.toContain('plan_name');
  });

  it('fails with the last errors when no answer is valid after three repairs', async () => {
    script(INVALID);
    const cwd = await project();
    const { code, err, requests } = await nudgeNew(cwd, 'a pro plan project drip');
    expect(code).toBe(1);
    expect(requests).toHaveLength(4);
    expect(err).toContain(
      '✗ the model gave no valid feature after 3 repairs; its last draft, first-project.yaml (not saved):',
    );
    expect(err).toMatch(
      /had these problems:\n\s+nudge\/features\/first-project\.yaml:\d+:\d+ trigger\.when\["new\.plan_name"\]: column "plan_name" does not exist/,
    );
    // The draft is printed, numbered as the problems refer to it: nothing is lost.
    const line = Number(/first-project\.yaml:(\d+):/.exec(err)![1]);
    expect(err).toMatch(new RegExp(`\\n\\s*${line} \\|\\s+new\\.plan_name: eq\\.pro`));
    expect(existsSync(path.join(cwd, 'nudge/features/first-project.yaml'))).toBe(false);
  });

  it('prints the last answer when none could be read', async () => {
    script('I cannot help with that: no such table.');
    const cwd = await project();
    const { code, err } = await nudgeNew(cwd, 'a pro plan project drip');
    expect(code).toBe(1);
    expect(err).toContain(
      'its last answer (not saved):\nI cannot help with that: no such table.\nhad these problems:\n  Your answer was not valid JSON',
    );
  });

  it('waits as long as a 429 Retry-After asks, then goes on', async () => {
    script(VALID);
    endpoint.failNext(1, 429, { 'Retry-After': '7' }, { error: { message: 'rate limited' } });
    const cwd = await project();
    const waits: number[] = [];
    const { code, requests } = await nudgeNew(cwd, 'email users about new projects', async (ms) => {
      waits.push(ms);
    });
    expect(code).toBe(0);
    expect(waits).toEqual([7000]);
    expect(requests).toHaveLength(2);
    expect(existsSync(path.join(cwd, 'nudge/features/first-project.yaml'))).toBe(true);
  });

  it('stops with a clear error when the endpoint does not answer in time', async () => {
    script(VALID);
    endpoint.failNext(1, 'hang');
    const cwd = await project(
      `ai: { base_url: "${'${AI_URL}'}/v1", model: test-model, timeout_ms: 300 }`,
    );
    const { code, err, requests } = await nudgeNew(cwd, 'email users about new projects');
    expect(code).toBe(1);
    expect(requests).toHaveLength(1);
    expect(err).toContain(
      `✗ the AI endpoint ${endpoint.url}/v1/chat/completions did not answer within 300 ms`,
    );
    expect(err).toContain('raise ai.timeout_ms');
    expect(existsSync(path.join(cwd, 'nudge/features'))).toBe(false);
  });

  it('names what to set when ai: is missing or incomplete', async () => {
    const cwd = await project('');
    const { code, err, requests } = await nudgeNew(cwd, 'anything');
    expect(code).toBe(1);
    expect(requests).toHaveLength(0);
    expect(err).toContain(
      '✗ no AI model configured: `nudge new` needs ai.base_url and ai.model in nudge.yaml',
    );
    expect(err).toContain('NUDGE_AI_API_KEY');

    const partial = await project('ai:\n  base_url: http://127.0.0.1:1/v1');
    const second = await nudgeNew(partial, 'anything');
    expect(second.code).toBe(2);
    expect(second.err).toMatch(/nudge\.yaml:3:3 ai\.model: missing required field/);
  });

  it("never sends a row value, a count or a variable's value to the model", () => {
    expect(endpoint.requests.length).toBeGreaterThan(0);
    for (const request of endpoint.requests) {
      for (const secret of [...SECRETS, HOOK_TOKEN]) expect(request.body).not.toContain(secret);
    }
  });
});
