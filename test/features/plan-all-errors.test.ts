// One `nudge plan` (doctor, the engine's start) reports every problem of the
// feature files in one round: every file, and in each every independent
// problem, whether the file alone shows it (an unknown operator) or the live
// database does (a column that does not exist, a literal of the wrong type),
// in file and line order, each once.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/load.js';
import { applyDemoTables } from '../../src/dev/demo.js';
import { launch } from '../../src/engine/wiring/launch.js';
import { silentLog } from '../../src/log.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();

beforeAll(async () => {
  await applyDemoTables(db.url);
});

const STAGE = `stages:
  - name: s
    do: [{ webhook: { url: "http://127.0.0.1:1/x" } }]
`;

const FILES = {
  // Problems the file shows and problems the database shows, side by side.
  'a.yaml': `name: a
trigger:
  table: public.orders
  on: insert
  when: { new.totl: gt.5, new.status: eqq.paid, new.total: gt.abc }
contact: { id: new.user_idd }
enrich:
  profile:
    table: public.profiles
    match: { id: new.user_id }
    columns: [plann, full_name, onboardd]
${STAGE}    next: [{ to: nowhere }]
`,
  // Off the schema, yet its conditions are still read.
  'b.yaml': `name: b
trigger: { table: public.orders, on: insert, when: { new.status: eqq.paid, new.total: gtt.5 } }
max_entries: three
${STAGE}`,
  // Only the database finds this one.
  'c.yaml': `name: c
trigger: { table: public.ordres, on: insert }
${STAGE}`,
  'd.yaml': `name: d
trigger: { table: public.orders, on: insert, when: { new.total: gt.100 } }
${STAGE}`,
};

const EXPECTED = [
  'nudge/features/a.yaml:5:11 trigger.when["new.totl"]: column "totl" does not exist on public.orders (did you mean "total"?)',
  'nudge/features/a.yaml:5:39 trigger.when["new.status"]: unknown operator "eqq" (did you mean "eq"?); expected one of eq, neq, gt, gte, lt, lte, like, ilike, in, is',
  'nudge/features/a.yaml:5:60 trigger.when["new.total"]: expected a number for new.total, got "abc"',
  'nudge/features/a.yaml:6:12 contact.id: column "user_idd" does not exist on public.orders (did you mean "user_id"?)',
  'nudge/features/a.yaml:11:15 enrich.profile.columns[0]: column "plann" does not exist on public.profiles (did you mean "plan"?)',
  'nudge/features/a.yaml:11:33 enrich.profile.columns[2]: column "onboardd" does not exist on public.profiles (did you mean "onboarded"?)',
  'nudge/features/a.yaml:15:18 stages[0].next[0].to: no stage named "nowhere" (stages: s)',
  // Any max_entries needs a contact, whatever its value: said now, not once it is fixed.
  'nudge/features/b.yaml:2:1 trigger: this feature waits or limits entries per contact, so it needs contact: { id: new.<column> } (or email / phone)',
  'nudge/features/b.yaml:2:66 trigger.when["new.status"]: unknown operator "eqq" (did you mean "eq"?); expected one of eq, neq, gt, gte, lt, lte, like, ilike, in, is',
  'nudge/features/b.yaml:2:87 trigger.when["new.total"]: unknown operator "gtt" (did you mean "gt"?); expected one of eq, neq, gt, gte, lt, lte, like, ilike, in, is',
  'nudge/features/b.yaml:3:14 max_entries: expected a number, got "three"',
  'nudge/features/c.yaml:2:19 trigger.table: table public.ordres does not exist (did you mean "public.orders"?)',
];

async function project(
  files: Record<string, string>,
  more: { config?: string; templates?: Record<string, string> } = {},
): Promise<string> {
  const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-errors-'));
  await writeFile(path.join(cwd, 'nudge.yaml'), more.config ?? '');
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  for (const [name, text] of Object.entries(files))
    await writeFile(path.join(cwd, 'nudge/features', name), text);
  await mkdir(path.join(cwd, 'nudge/templates'), { recursive: true });
  for (const [name, text] of Object.entries(more.templates ?? {}))
    await writeFile(path.join(cwd, 'nudge/templates', name), text);
  return cwd;
}

/** The ✗ lines of a command's output. */
const problemLines = (err: string) => err.split('\n').filter((line) => line.startsWith('✗'));

async function cli(command: string, cwd: string, env: Record<string, string> = {}) {
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url, ...env } });
  const code = await run([command], m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

describe('every problem of the feature files in one round', () => {
  it('nudge plan lists them all, in file and line order', async () => {
    const result = await cli('plan', await project(FILES));
    expect(result.code).toBe(2);
    expect(problemLines(result.err)).toEqual(EXPECTED.map((line) => `✗ ${line}`));
  });

  it('nudge doctor counts them and lists each under its line', async () => {
    const result = await cli('doctor', await project(FILES));
    expect(result.out).toContain(
      [
        `✗ Features           ${EXPECTED.length} problems in the feature files`,
        ...EXPECTED.map((problem) => `    ${problem}`),
        '  fix: fix each problem at the file and line it names',
      ].join('\n'),
    );
  });

  it('the engine does not start, and says them all', async () => {
    const cwd = await project(FILES);
    const config = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
    const error = await launch(config, { http: false, log: silentLog }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message.split('\n')).toEqual(EXPECTED);
  });

  it('plans valid files as before', async () => {
    const result = await cli('plan', await project({ 'd.yaml': FILES['d.yaml'] }));
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/\+ capture public\.orders insert\s+statement trigger/);
  });
});

// Problems that used to hide others until they were fixed: a file off the
// schema was only read for its conditions, so a goto to no stage, a template
// that does not exist, a stage named twice, a column that does not exist or
// a misspelt attribute came in a later round; a trigger table that does not
// exist hid the attributes and enrichments; a trigger or stages that could
// not be read at all hid the file's templates and its name used twice; a
// field off the schema hid a rule across its stage's fields. Now each file
// says all at once.
const HIDING = {
  // An unknown operator and a duration off the schema, beside a missing
  // template and a goto to no stage.
  'e.yaml': `name: e
trigger: { table: public.orders, on: insert, when: { new.status: eqq.paid } }
contact: { id: new.user_id }
stages:
  - name: s
    do: [{ email: { template: welcom } }, { goto: nowhere }]
  - name: t
    after: 2days
    do: [{ webhook: { url: "http://127.0.0.1:1/x" } }]
`,
  // A bad name, cooldown and re_entry, beside a stage named twice, a column
  // that does not exist and a misspelt attribute.
  'f.yaml': `name: f!
trigger: { table: public.orders, on: insert }
contact: { id: new.nosuchcol }
cooldown: 30days
re_entry: sometimes
stages:
  - name: s
    unless: { contact.onbaorded: is.true }
    do: [{ webhook: { url: "http://127.0.0.1:1/x" } }]
  - { name: s, do: [{ webhook: { url: "http://127.0.0.1:1/y" } }] }
`,
  // A trigger table that does not exist, beside a misspelt attribute and an
  // enrichment from a table that does not exist either.
  'h.yaml': `name: h
trigger: { table: public.ordrs, on: insert, when: { contact.onbaorded: is.true } }
contact: { id: new.user_id }
enrich:
  profile: { table: public.profils, match: { id: new.user_id } }
stages:
  - name: s
    do: [{ webhook: { url: "http://127.0.0.1:1/x" } }]
`,
  // A trigger that cannot be read (table misspelt), beside a template that
  // does not exist and a misspelt attribute.
  'i.yaml': `name: i
trigger:
  tabel: auth.users
  when: { contact.onbaorded: is.true }
stages:
  - name: s
    do: [{ email: { template: welcom } }]
`,
  // No stages, and the name of a feature another file defines (h.yaml).
  'j.yaml': `name: h
trigger: { table: public.orders, on: insert }
`,
  // A stage's do written as a mapping, beside its within without until.
  'k.yaml': `name: k
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages:
  - name: s
    do: [{ webhook: { url: "http://127.0.0.1:1/x" } }]
  - name: t
    within: 2d
    do: { webhook: { url: "http://127.0.0.1:1/y" } }
`,
};

const HIDING_CONFIG = 'contacts: { attributes: { onboarded: boolean } }\n';
const TEMPLATES = { 'welcome.liquid': '<p>Hi {{ contact.email }}</p>\n' };

const HIDDEN = [
  'nudge/features/e.yaml:2:66 trigger.when["new.status"]: unknown operator "eqq" (did you mean "eq"?); expected one of eq, neq, gt, gte, lt, lte, like, ilike, in, is',
  'nudge/features/e.yaml:6:31 stages[0].do[0].email.template: email template "welcom" not found: no nudge/templates/welcom.liquid or nudge/templates/welcom.html (did you mean "welcome"?)',
  'nudge/features/e.yaml:6:51 stages[0].do[1].goto: no stage named "nowhere" (stages: s, t)',
  'nudge/features/e.yaml:8:12 stages[1].after: expected a duration such as 30s, 15m, 2h, 7d or 1w, got "2days" (did you mean "2d"?)',
  'nudge/features/f.yaml:1:7 name: expected a feature name of letters, digits, - and _, got "f!"',
  'nudge/features/f.yaml:3:12 contact.id: column "nosuchcol" does not exist on public.orders',
  'nudge/features/f.yaml:4:11 cooldown: expected a duration such as 30s, 15m, 2h, 7d or 1w, got "30days" (did you mean "30d"?)',
  'nudge/features/f.yaml:5:11 re_entry: expected one of after_exit, never, restart, got "sometimes"',
  'nudge/features/f.yaml:8:34 stages[0].unless["contact.onbaorded"]: is.true needs a boolean field; contact.onbaorded is unknown',
  'nudge/features/f.yaml:10:13 stages[1].name: stage "s" is defined twice',
  'nudge/features/h.yaml:2:19 trigger.table: table public.ordrs does not exist (did you mean "public.orders"?)',
  'nudge/features/h.yaml:2:72 trigger.when["contact.onbaorded"]: is.true needs a boolean field; contact.onbaorded is unknown',
  'nudge/features/h.yaml:5:21 enrich.profile.table: table public.profils does not exist (did you mean "public.profiles"?)',
  'nudge/features/i.yaml:3:3 trigger.tabel: unknown field "tabel" (did you mean "table"?)',
  'nudge/features/i.yaml:3:3 trigger: expected a table (with on) or an event',
  'nudge/features/i.yaml:4:30 trigger.when["contact.onbaorded"]: is.true needs a boolean field; contact.onbaorded is unknown',
  'nudge/features/i.yaml:7:31 stages[0].do[0].email.template: email template "welcom" not found: no nudge/templates/welcom.liquid or nudge/templates/welcom.html (did you mean "welcome"?)',
  'nudge/features/j.yaml:1:1 stages: missing required field',
  'nudge/features/j.yaml:1:7 name: feature "h" is already defined in nudge/features/h.yaml',
  'nudge/features/k.yaml:8:13 stages[1].within: within needs until',
  'nudge/features/k.yaml:9:9 stages[1].do: expected an array, got an object',
];

/** For each problem plan lists (file and field), the edit that fixes it. */
const FIXES: Record<string, [string, string]> = {
  'e.yaml trigger.when["new.status"]': ['eqq.paid', 'eq.paid'],
  'e.yaml stages[0].do[0].email.template': ['welcom }', 'welcome }'],
  'e.yaml stages[0].do[1].goto': ['goto: nowhere', 'goto: t'],
  'e.yaml stages[1].after': ['2days', '2d'],
  'f.yaml name': ['name: f!', 'name: f'],
  'f.yaml contact.id': ['nosuchcol', 'user_id'],
  'f.yaml cooldown': ['30days', '30d'],
  'f.yaml re_entry': ['sometimes', 'never'],
  'f.yaml stages[0].unless["contact.onbaorded"]': ['onbaorded', 'onboarded'],
  'f.yaml stages[1].name': ['{ name: s,', '{ name: t,'],
  'h.yaml trigger.table': ['public.ordrs', 'public.orders'],
  'h.yaml trigger.when["contact.onbaorded"]': ['onbaorded', 'onboarded'],
  'h.yaml enrich.profile.table': ['public.profils', 'public.profiles'],
  'i.yaml trigger.tabel': ['tabel:', 'table:'],
  'i.yaml trigger': ['tabel:', 'table:'],
  'i.yaml trigger.when["contact.onbaorded"]': ['onbaorded', 'onboarded'],
  'i.yaml stages[0].do[0].email.template': ['welcom }', 'welcome }'],
  'j.yaml stages': ['insert }\n', `insert }\n${STAGE}`],
  'j.yaml name': ['name: h', 'name: j'],
  'k.yaml stages[1].within': ['within: 2d', 'until: { new.status: eq.paid }\n    within: 2d'],
  'k.yaml stages[1].do': [
    'do: { webhook: { url: "http://127.0.0.1:1/y" } }',
    'do: [{ webhook: { url: "http://127.0.0.1:1/y" } }]',
  ],
};

describe('problems that hid others are said in the same round', () => {
  it('nudge plan lists every problem of a file off the schema or of an unknown table', async () => {
    const cwd = await project(HIDING, { config: HIDING_CONFIG, templates: TEMPLATES });
    const result = await cli('plan', cwd);
    expect(result.code).toBe(2);
    expect(problemLines(result.err)).toEqual(HIDDEN.map((line) => `✗ ${line}`));
  });

  it('fixing what one round lists leaves nothing for a next round', async () => {
    const files: Record<string, string> = { ...HIDING };
    const cwd = await project(files, { config: HIDING_CONFIG, templates: TEMPLATES });
    const first = await cli('plan', cwd);
    for (const line of problemLines(first.err)) {
      const [, file, field] = /^✗ nudge\/features\/(\S+):\d+:\d+ (.+?): /.exec(line)!;
      const fix = FIXES[`${file} ${field}`];
      expect(fix, `a fix for ${line}`).toBeDefined();
      files[file!] = files[file!]!.replace(fix![0], fix![1]);
    }
    for (const [name, text] of Object.entries(files))
      await writeFile(path.join(cwd, 'nudge/features', name), text);
    const second = await cli('plan', cwd);
    expect(problemLines(second.err)).toEqual([]);
    expect(second.code).toBe(0);
  });
});

// Actions that could never run: Liquid that does not parse (an output left
// open, a filter that does not exist, a tag not closed, a partial, which
// parameters have none) in any templated parameter of any kind, a URL that
// is not one (as written, from \${ENV}, or before its Liquid), a recipient
// that is neither an address nor a field that holds one, a function with no
// connectors.supabase to call it with, and a template file with a syntax error.
const DEAD = {
  'g.yaml': `name: g
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages:
  - name: s
    do:
      - email: { template: welcome, subject: "Hi {{ contact.first_name | defalt: 'x' " }
      - email: { template: broken, from: "{{ app.url | nosuch }}" }
      - email: { template: welcome, to: ada }
      - webhook: { url: "not a url", headers: { x-id: "{% if new.id %}" } }
      - webhook: { url: "\${HOOK_URL}", body: { total: ["{{ new.total | plus: 1 }}", "{{ new.total | plu }}"] } }
      - webhook: { url: "ftp://{{ new.currency }}/x" }
      - webhook: { url: "https://{{ new.currency }}/orders/{{ new.id }}" }
      - function: { name: "thumbs/v2", body: { id: "{{ new.id | money }}" } }
      - track: { event: paid, properties: { total: "{{ new.total" } }
      - set: { plan: "{% render 'footer' %}" }
      - add_to_list: "{{ new.status | upcase "
`,
};

const DEAD_TEMPLATES = {
  ...TEMPLATES,
  'broken.liquid': '<p>Hi</p>\n{% if contact.email %}\n<p>{{ contact.email }}</p>\n',
};

/** What the engine's start says too: all but the template file's, which only fails its own runs. */
const DEAD_IN_FILE = [
  'nudge/features/g.yaml:7:46 stages[0].do[0].email.subject: output "{{ contact.first_name | defal..." not closed',
  'nudge/features/g.yaml:8:42 stages[0].do[1].email.from: undefined filter: nosuch',
  'nudge/features/g.yaml:9:41 stages[0].do[2].email.to: "ada" is not an email address',
  'nudge/features/g.yaml:10:25 stages[0].do[3].webhook.url: expected an absolute http(s) URL such as https://example.com/hooks',
  'nudge/features/g.yaml:10:55 stages[0].do[3].webhook.headers.x-id: tag {% if new.id %} not closed',
  'nudge/features/g.yaml:11:25 stages[0].do[4].webhook.url: expected an absolute http(s) URL such as https://example.com/hooks',
  'nudge/features/g.yaml:11:85 stages[0].do[4].webhook.body.total[1]: undefined filter: plu (did you mean "plus"?)',
  'nudge/features/g.yaml:12:25 stages[0].do[5].webhook.url: expected an absolute http(s) URL such as https://example.com/hooks; the text before its first Liquid tag must begin http:// or https://',
  'nudge/features/g.yaml:14:9 stages[0].do[7].function: a function action calls a Supabase Edge Function, and nudge.yaml has no connectors.supabase to reach it with: every run of it would be dead',
  'nudge/features/g.yaml:14:27 stages[0].do[7].function.name: "thumbs/v2" is not an Edge Function name (letters, digits, - and _)',
  'nudge/features/g.yaml:14:52 stages[0].do[7].function.body.id: undefined filter: money',
  'nudge/features/g.yaml:15:52 stages[0].do[8].track.properties.total: output "{{ new.total" not closed',
  'nudge/features/g.yaml:16:22 stages[0].do[9].set.plan: no template "footer" to render or include: an action\'s parameters have none',
  'nudge/features/g.yaml:17:22 stages[0].do[10].add_to_list: output "{{ new.status | upcase " not closed',
];

const DEAD_ERRORS = [
  ...DEAD_IN_FILE.slice(0, 1),
  'nudge/features/g.yaml:8:28 stages[0].do[1].email.template: nudge/templates/broken.liquid: tag {% if contact.email %} not closed, line:2, col:1',
  ...DEAD_IN_FILE.slice(1),
];

const HOOK_URL = 'hooks.example.com/orders';

describe('actions that could never run are refused before deploy', () => {
  it('nudge plan names each at its field, and plans no capture', async () => {
    const cwd = await project(DEAD, { templates: DEAD_TEMPLATES });
    const result = await cli('plan', cwd, { HOOK_URL });
    expect(result.code).toBe(2);
    expect(problemLines(result.err)).toEqual(DEAD_ERRORS.map((line) => `✗ ${line}`));
    // Not a plan that captures every column because a template could not be read.
    expect(result.out).not.toContain('capture');
  });

  it('the engine does not start with them', async () => {
    const cwd = await project(DEAD, { templates: DEAD_TEMPLATES });
    const config = await loadConfig({ cwd, env: { DATABASE_URL: db.url, HOOK_URL } });
    const error = await launch(config, { http: false, log: silentLog }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message.split('\n')).toEqual(DEAD_IN_FILE);
  });

  it('nudge plan passes the same actions written right', async () => {
    const cwd = await project(
      {
        'g.yaml': `name: g
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages:
  - name: s
    do:
      - email: { template: welcome, subject: "Hi {{ contact.first_name | default: 'x' }}", to: "{{ contact.email }}" }
      - webhook: { url: "\${HOOK_URL}", headers: { x-id: "{{ new.id }}" }, body: { total: "{{ new.total | plus: 1 }}" } }
      - webhook: { url: "https://{{ new.currency }}/orders/{{ new.id }}" }
      - webhook: { url: "{{ new.status }}" }
      - function: { name: thumbs, body: { id: "{{ new.id }}" } }
      - track: { event: paid, properties: { total: "{{ new.total }}" } }
      - set: { plan: "{% if new.total > 100 %}big{% else %}small{% endif %}" }
      - add_to_list: "{{ new.status | upcase }}"
`,
      },
      {
        templates: TEMPLATES,
        config:
          'connectors: { supabase: { project_url: "https://xyzcompany.supabase.co", service_role_key: a-key } }\n',
      },
    );
    const result = await cli('plan', cwd, { HOOK_URL: 'https://hooks.example.com/orders' });
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
  });
});
