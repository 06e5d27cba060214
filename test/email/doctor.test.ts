// nudge doctor's Email line (issue 21.1): a warning while non-transactional
// email exists and server.public_url is unset (or not https), and none for
// features that send only transactional email; and an email topic nudge.yaml
// does not declare, failed by doctor and refused by plan with the feature's
// other errors (drafts skipped; doctor warns on theirs).
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { emailCheck } from '../../src/email/doctor.js';
import { checkTopics, unknownTopics } from '../../src/email/topics.js';
import { ConfigErrors } from '../../src/errors.js';
import { checkFeatures } from '../../src/features/check.js';
import { loadFeatures } from '../../src/features/load.js';
import { Catalog } from '../../src/source/catalog.js';
import { catalogTable } from '../harness/catalog.js';
import { projectFiles } from './setup.js';

/** A project of these files, with its features loaded. */
async function loaded(files: Record<string, string>) {
  const cwd = await projectFiles(files);
  const project = await loadConfig({ cwd, env: {} });
  return { project, features: await loadFeatures(project.featuresDir, project.env, cwd) };
}

/** The Email lines doctor prints for a project of these files. */
async function emailLines(files: Record<string, string>) {
  const { project, features } = await loaded(files);
  const lines: string[] = [];
  emailCheck(project, features, (outcome, label, message, fix) =>
    lines.push(`${outcome} ${label}: ${message}${fix ? ` | fix: ${fix}` : ''}`),
  );
  return lines;
}

const doctorSays = (yaml: string, topic: string) =>
  emailLines({
    'nudge.yaml': yaml,
    'nudge/features/welcome.yaml': `name: welcome
trigger: { table: auth.users, on: insert }
stages:
  - name: welcomed
    do: [{ email: { template: welcome, topic: ${topic} } }]
`,
  });

const TOPICS = 'email:\n  topics: { product: {} }\n';

describe('nudge doctor: Email', () => {
  it('warns when non-transactional email exists and server.public_url is unset', async () => {
    expect(await doctorSays(TOPICS, 'product')).toEqual([
      'warn Email: 1 non-transactional email (welcome/welcomed) link to http://127.0.0.1:8787 for unsubscribing: server.public_url is not set | fix: set server.public_url in nudge.yaml to the https:// URL this server is reachable at',
    ]);
  });

  it('warns on an http public_url, and is content with https', async () => {
    const http = await doctorSays(
      `${TOPICS}server: { public_url: "http://nudge.example.com" }\n`,
      'product',
    );
    expect(http[0]).toMatch(/^warn Email: .*one-click unsubscribe needs HTTPS/);
    expect(
      await doctorSays(`${TOPICS}server: { public_url: "https://nudge.example.com" }\n`, 'product'),
    ).toEqual([
      'ok Email: 1 non-transactional email (welcome/welcomed); unsubscribe links at https://nudge.example.com',
    ]);
  });

  it('says nothing is needed when every email is transactional', async () => {
    expect(await doctorSays(TOPICS, 'transactional')).toEqual([
      'ok Email: no non-transactional email in the features',
    ]);
  });
});

describe('nudge doctor: Email senders', () => {
  const RESEND = 'email:\n  provider: resend\n  resend: { api_key: re_test }\n';
  const welcome = (from = '') => `name: welcome
trigger: { table: auth.users, on: insert }
stages:
  - name: welcomed
    do: [{ email: { template: welcome, topic: transactional${from} } }]
`;

  it('fails when Resend or SMTP would send an email with no sender', async () => {
    expect(
      await emailLines({ 'nudge.yaml': RESEND, 'nudge/features/welcome.yaml': welcome() }),
    ).toEqual([
      'fail Email: welcome/welcomed (provider resend): this email has no sender, and would be refused when sent | fix: set email.from in nudge.yaml (e.g. "Acme <hello@acme.com>", an address your provider lets you send from), or `from` on the action',
    ]);
  });

  it('is content with email.from, with `from` on the action, and with the dev mailbox', async () => {
    const ok = ['ok Email: no non-transactional email in the features'];
    expect(
      await emailLines({
        'nudge.yaml': `${RESEND}  from: "Acme <hello@acme.com>"\n`,
        'nudge/features/welcome.yaml': welcome(),
      }),
    ).toEqual(ok);
    expect(
      await emailLines({
        'nudge.yaml': RESEND,
        'nudge/features/welcome.yaml': welcome(', from: "Acme <hi@acme.com>"'),
      }),
    ).toEqual(ok);
    expect(
      await emailLines({ 'nudge.yaml': '', 'nudge/features/welcome.yaml': welcome() }),
    ).toEqual(ok);
  });

  it("reads the action's own provider before email.provider", async () => {
    expect(
      await emailLines({
        'nudge.yaml': 'email:\n  smtp: { url: "smtp://localhost:2525" }\n',
        'nudge/features/welcome.yaml': welcome(', provider: smtp'),
      }),
    ).toEqual([
      expect.stringMatching(
        /^fail Email: welcome\/welcomed \(provider smtp\): this email has no sender/,
      ),
    ]);
    expect(
      await emailLines({
        'nudge.yaml': RESEND,
        'nudge/features/welcome.yaml': welcome(', provider: dev'),
      }),
    ).toEqual(['ok Email: no non-transactional email in the features']);
  });
});

describe('nudge doctor: Email topics', () => {
  it('fails on an email action whose topic nudge.yaml does not declare', async () => {
    expect(await doctorSays(TOPICS, 'newsletter')).toEqual([
      'fail Email: welcome/welcomed: email topic "newsletter" is not in email.topics of nudge.yaml (known: transactional, general, product) | fix: declare the topic under email.topics in nudge.yaml, or fix the action’s topic',
    ]);
  });
  it('warns on a draft whose topic nudge.yaml does not declare, as plan skips drafts', async () => {
    const lines = await emailLines({
      'nudge.yaml': `${TOPICS}server: { public_url: "https://nudge.example.com" }\n`,
      'nudge/features/welcome.yaml': `name: welcome
trigger: { table: auth.users, on: insert }
stages:
  - name: welcomed
    do: [{ email: { template: welcome, topic: product } }]
`,
      'nudge/features/later.yaml': `name: later
status: draft
trigger: { table: auth.users, on: insert }
stages:
  - name: asked
    do: [{ email: { template: welcome, topic: newsletter } }]
`,
    });
    expect(lines).toEqual([
      'warn Email: draft later/asked: email topic "newsletter" is not in email.topics of nudge.yaml (known: transactional, general, product) | fix: declare the topic under email.topics in nudge.yaml, or fix the action’s topic before activating the draft',
      'ok Email: 1 non-transactional email (welcome/welcomed); unsubscribe links at https://nudge.example.com',
    ]);
  });
});

describe('nudge plan: Email topics', () => {
  it('refuses an undeclared topic at its line in the feature file, before anything is deployed', async () => {
    const { project, features } = await loaded({
      'nudge.yaml': TOPICS,
      'nudge/features/welcome.yaml': `name: welcome
trigger: { table: auth.users, on: insert }
stages:
  - name: welcomed
    do:
      - { email: { template: welcome, topic: product } }
      - { email: { template: welcome, topic: newsletter } }
`,
    });
    const errors = checkTopics(features, project.config.email);
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(
        /^nudge\/features\/welcome\.yaml:7:46 stages\[0\]\.do\[1\]\.email\.topic: email topic "newsletter" is not in email\.topics/,
      ),
    ]);
    // The same finding as doctor reads it: the feature, the stage, the place.
    expect(
      unknownTopics(features, project.config.email).map(({ feature, ...rest }) => ({
        feature: feature.name,
        ...rest,
      })),
    ).toEqual([
      {
        feature: 'welcome',
        stage: 'welcomed',
        at: ['stages', 0, 'do', 1, 'email', 'topic'],
        problem:
          'email topic "newsletter" is not in email.topics of nudge.yaml (known: transactional, general, product)',
      },
    ]);
  });

  it("comes with the feature's other errors in one round, and skips drafts as plan does", async () => {
    const { project, features } = await loaded({
      'nudge.yaml': TOPICS,
      'nudge/features/welcome.yaml': `name: welcome
trigger: { table: auth.users, on: insert, when: { new.nickname: eq.bob } }
stages:
  - name: welcomed
    do: [{ email: { template: welcome, topic: newsletter } }]
`,
      'nudge/features/someday.yaml': `name: someday
status: draft
trigger: { table: auth.users, on: insert }
stages:
  - name: welcomed
    do: [{ email: { template: welcome, topic: newsletter } }]
`,
    });
    const catalog = new Catalog([catalogTable('auth.users', { id: 'uuid', email: 'text' })]);
    let thrown: unknown;
    try {
      checkFeatures(features, catalog, {}, { email: project.config.email });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigErrors);
    expect((thrown as ConfigErrors).errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/^nudge\/features\/welcome\.yaml:2:.*nickname/),
      expect.stringMatching(
        /^nudge\/features\/welcome\.yaml:5:.*email topic "newsletter" is not in email\.topics/,
      ),
    ]);
    // The draft, made active, is asked; without nudge.yaml's email (a backtest), it is not.
    const someday = { ...features.find((f) => f.name === 'someday')!, status: 'active' as const };
    expect(() => checkFeatures([someday], catalog, {}, { email: project.config.email })).toThrow(
      /someday\.yaml:6:.*email topic "newsletter"/,
    );
    expect(checkFeatures([someday], catalog, {}).map((need) => need.by)).toEqual(['someday']);
  });
});
