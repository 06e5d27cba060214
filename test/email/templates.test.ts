// An email action's template is checked with the feature: a name with no
// file, or a file that does not parse, is an error at the action's
// `template:` line (plan, deploy, doctor; not the engine's start, nor an AI draft), not a dead
// run on the day the email is due. Drafts are not checked, as plan skips them.
import { describe, expect, it } from 'vitest';
import { rendererFor } from '../../src/actions/render.js';
import { loadConfig } from '../../src/config/load.js';
import { templateErrorsAt, templateProblems } from '../../src/email/templates.js';
import { loadFeatures } from '../../src/features/load.js';
import { projectFiles } from './setup.js';

const feature = (name: string, template: string, status = 'active') => `name: ${name}
status: ${status}
trigger: { table: auth.users, on: insert }
stages:
  - name: welcomed
    do:
      - { email: { template: welcome, subject: Hi } }
      - { email: { template: ${template}, subject: Hi } }
`;

describe('nudge plan: email templates', () => {
  it('names a missing or broken template at its line, and skips drafts', async () => {
    const cwd = await projectFiles({
      'nudge.yaml': 'access: read-write\n',
      'nudge/templates/welcome.liquid': '<p>Hi {{ contact.email }}</p>\n',
      'nudge/templates/broken.liquid': '<p>{% if contact.email %}Hi</p>\n',
      'nudge/features/typo.yaml': feature('typo', 'welcom'),
      'nudge/features/broken.yaml': feature('broken', 'broken'),
      'nudge/features/later.yaml': feature('later', 'not-written-yet', 'draft'),
    });
    const project = await loadConfig({ cwd, env: {} });
    const features = await loadFeatures(project.featuresDir, project.env, cwd);
    const problems = await templateProblems(features, rendererFor(project));
    expect([...problems.keys()].sort()).toEqual(['broken', 'welcom']);
    const messages = features.flatMap((f) =>
      templateErrorsAt(f, problems).map(({ at, problem }) => f.source.error(at, problem).message),
    );
    expect(messages.sort()).toEqual([
      expect.stringMatching(
        /^nudge\/features\/broken\.yaml:8:30 stages\[0\]\.do\[1\]\.email\.template: nudge\/templates\/broken\.liquid: tag \{% if contact\.email %\} not closed/,
      ),
      'nudge/features/typo.yaml:8:30 stages[0].do[1].email.template: email template "welcom" not found: no nudge/templates/welcom.liquid or nudge/templates/welcom.html (did you mean "welcome"?)',
    ]);
  });

  it('names a variable no email is given, which would render empty', async () => {
    const cwd = await projectFiles({
      'nudge.yaml': 'access: read-write\n',
      'nudge/templates/welcome.liquid':
        '<title>Hi {{ contct.first_name }}</title>{{ new.email }} {{ unsubscribe_url }}' +
        '{% for item in new.items %}{{ item.name }}{% endfor %}' +
        "{% render 'footer', name: contact.email %}{{ neww.id }}\n",
      'nudge/templates/footer.liquid': '<p>{{ name }} {{ preferences_url }} {{ app.url }}</p>\n',
      'nudge/templates/fine.liquid': "{{ contact.email }} {% render 'footer', name: feature %}\n",
      'nudge/features/typo.yaml': feature('typo', 'fine'),
    });
    const project = await loadConfig({ cwd, env: {} });
    const features = await loadFeatures(project.featuresDir, project.env, cwd);
    const problems = await templateProblems(features, rendererFor(project));
    expect([...problems]).toEqual([
      [
        'welcome',
        'email template "welcome" reads unknown variables, "contct" (did you mean "contact"?), "neww" (did you mean "new"?), which render empty; expected one of contact, new, old, enrichment, event, journey, feature, stage, app, unsubscribe_url, preferences_url',
      ],
    ]);
  });
  it('names a variant’s template at its split, and at no place when its stage is not there', async () => {
    const cwd = await projectFiles({
      'nudge.yaml': 'access: read-write\n',
      'nudge/templates/welcome.liquid': '<p>Hi</p>\n',
      'nudge/features/split.yaml': `name: split
trigger: { table: auth.users, on: insert }
goal: { when: { contact.paid: is.true }, within: 7d }
stages:
  - name: welcomed
    do: [{ email: { template: welcome } }]
    split:
      - { name: a }
      - { name: b, with: { email: { template: welcom } } }
`,
    });
    const project = await loadConfig({ cwd, env: {} });
    const [split] = await loadFeatures(project.featuresDir, project.env, cwd);
    const problems = await templateProblems([split!], rendererFor(project));
    expect(templateErrorsAt(split!, problems).map(({ at }) => at.join('.'))).toEqual([
      'stages.0.split.1.with.email.template',
    ]);
    // A feature not read from its file, whose split names a stage it does not have.
    const elsewhere = {
      ...split!,
      experiment: { ...split!.experiment!, split: { ...split!.experiment!.split!, stage: 'gone' } },
    };
    expect(templateErrorsAt(elsewhere, problems)).toEqual([]);
  });
});
