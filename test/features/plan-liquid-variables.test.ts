// The variables an action's Liquid reads are checked with the feature, so
// that a typo is an error at its field in `nudge plan`, not an email that
// goes out with blanks: a root no run is given (`neww`), `enrichment.*` with
// no such enrichment, a column the trigger's table does not have, and a
// contact field that is plainly a typo of a known one. A condition entry
// with an unknown operator still has its column checked, in the same round.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyDemoTables } from '../../src/dev/demo.js';
import { useDatabase } from '../harness/db.js';
import { planProblems } from '../harness/project.js';

const db = useDatabase();

beforeAll(async () => {
  await applyDemoTables(db.url);
});

async function project(
  files: Record<string, string>,
  config = 'contacts: { attributes: { first_name: text } }\n',
): Promise<string> {
  const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-liquid-'));
  await writeFile(path.join(cwd, 'nudge.yaml'), config);
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  for (const [name, text] of Object.entries(files))
    await writeFile(path.join(cwd, 'nudge/features', name), text);
  await mkdir(path.join(cwd, 'nudge/templates'), { recursive: true });
  await writeFile(path.join(cwd, 'nudge/templates/welcome.liquid'), '<p>Hi</p>\n');
  return cwd;
}

const plan = (cwd: string) => planProblems(cwd, db.url);

const WELCOME = `name: welcome
trigger: { table: auth.users, on: insert, when: { new.emial: eqq.x } }
stages:
  - name: s
    do:
      - email: { template: welcome, subject: "Hi {{ contact.frist_name }} {{ neww.id }}" }
      - webhook:
          url: "http://127.0.0.1:1/x"
          body: { name: "{{ enrichment.profile.full_name }}", id: "{{ new.idd }}", pw: "{{ old.encrypted_password }}" }
`;

const ROOTS = 'expected one of contact, new, old, enrichment, event, journey, feature, stage, app';

describe('nudge plan: what an action’s Liquid reads', () => {
  it('lists every variable that would render empty, with the operator, in one round', async () => {
    const result = await plan(await project({ 'welcome.yaml': WELCOME }));
    expect(result.code).toBe(2);
    expect(result.problems).toEqual([
      // The column at the key, the operator at the value: both now, not one per round.
      '✗ nudge/features/welcome.yaml:2:51 trigger.when["new.emial"]: column "emial" does not exist on auth.users (did you mean "email"?)',
      '✗ nudge/features/welcome.yaml:2:62 trigger.when["new.emial"]: unknown operator "eqq" (did you mean "eq"?); expected one of eq, neq, gt, gte, lt, lte, like, ilike, in, is',
      `✗ nudge/features/welcome.yaml:6:46 stages[0].do[0].email.subject: unknown variable "neww" (did you mean "new"?); ${ROOTS}`,
      '✗ nudge/features/welcome.yaml:6:46 stages[0].do[0].email.subject: contact.frist_name is not a field of the contact, nor an attribute nudge.yaml declares or syncs, or a feature sets (did you mean "first_name"?)',
      '✗ nudge/features/welcome.yaml:9:25 stages[0].do[1].webhook.body.name: enrichment.profile is always empty: this feature has no enrich',
      '✗ nudge/features/welcome.yaml:9:67 stages[0].do[1].webhook.body.id: new.idd: column "idd" does not exist on auth.users (did you mean "id"?)',
      '✗ nudge/features/welcome.yaml:9:88 stages[0].do[1].webhook.body.pw: old.encrypted_password: encrypted_password holds credentials: Nudge never captures it from auth.users',
    ]);
  });

  it('fixing what that round lists leaves nothing for a next round', async () => {
    const fixed = WELCOME.replace('new.emial: eqq.x', 'new.email: eq.x')
      .replace('frist_name', 'first_name')
      .replace('neww.id', 'new.id')
      .replace('enrichment.profile.full_name', 'new.raw_user_meta_data.full_name')
      .replace('new.idd', 'new.id')
      .replace('old.encrypted_password', 'old.email');
    const result = await plan(await project({ 'welcome.yaml': fixed }));
    expect(result.problems).toEqual([]);
    expect(result.code).toBe(0);
  });

  it('refuses a path into a column that is not json, as a condition’s -> path is', async () => {
    const feature = (subject: string) => `name: paths
trigger: { table: auth.users, on: insert }
stages:
  - name: s
    do: [{ email: { template: welcome, subject: "${subject}" } }]
`;
    const refused = await plan(await project({ 'paths.yaml': feature('{{ new.email.domain }}') }));
    expect(refused.code).toBe(2);
    expect(refused.problems).toEqual([
      '✗ nudge/features/paths.yaml:5:49 stages[0].do[0].email.subject: new.email.domain: email is character varying(255), not json, so it renders empty',
    ]);
    // Liquid's own size of a text, and a path into a json column.
    const passed = await plan(
      await project({
        'paths.yaml': feature('{{ new.email.size }} {{ old.raw_user_meta_data.plan.name }}'),
      }),
    );
    expect(passed.problems).toEqual([]);
    expect(passed.code).toBe(0);
  });

  it('passes a contact field that is no typo of a known one, or that is known', async () => {
    const feature = (subject: string) => `name: known
trigger: { table: auth.users, on: insert }
stages:
  - name: s
    do:
      - email: { template: welcome, subject: "${subject}" }
      - set: { tier: gold }
`;
    const config = `contacts: { attributes: { first_name: text } }
connectors:
  supabase:
    project_url: "https://xyzcompany.supabase.co"
    service_role_key: a-key
    user_mapping: { user_metadata.company: company_name }
    table_mapping: { public.subscriptions: { plan: plan_name } }
`;
    // Set by the API, say: not close to any known field.
    const loose = '{{ contact.tz }} {{ contact.favourite_colour }} {{ contact.referrer }}';
    // Known: the contact's own, declared, synced (the default mapping too), set by a feature.
    const known =
      '{{ contact.email }} {{ contact.external_id }} {{ contact.first_name }} {{ contact.company_name }} {{ contact.plan_name }} {{ contact.full_name }} {{ contact.tier }}';
    const result = await plan(
      await project({ 'known.yaml': feature(`${loose} ${known}`) }, config),
    );
    expect(result.problems).toEqual([]);
    expect(result.code).toBe(0);

    const typos = await plan(
      await project(
        {
          'known.yaml': feature('{{ contact.company_nam }} {{ contact.emial }} {{ contact.teir }}'),
        },
        config,
      ),
    );
    expect(typos.problems.map((line) => line.replace(/^.*?\(did you mean /, ''))).toEqual([
      '"company_name"?)',
      '"email"?)',
      '"tier"?)',
    ]);
  });

  it('says the topic an email action may mean', async () => {
    const result = await plan(
      await project(
        {
          'order.yaml': `name: order
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages:
  - name: s
    do: [{ email: { template: welcome, topic: order } }]
`,
        },
        'email: { topics: { orders: {} } }\n',
      ),
    );
    expect(result.problems).toEqual([
      '✗ nudge/features/order.yaml:6:47 stages[0].do[0].email.topic: email topic "order" is not in email.topics of nudge.yaml (did you mean "orders"?) (known: transactional, general, orders)',
    ]);
  });
});
