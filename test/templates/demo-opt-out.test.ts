// Every demo email that is not transactional carries its opt-out links in
// its body, at its foot (templates/opt-out.liquid): a reader sees where to
// unsubscribe, not only a mail client that reads List-Unsubscribe. A
// transactional one has no unsubscribe_url (actions/email.ts), and shows none.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { makeRenderer } from '../../src/actions/render.js';

const DEMO = path.resolve('examples/demo/nudge');
const renderer = makeRenderer(path.join(DEMO, 'templates'));
const LINKS = {
  unsubscribe_url: 'https://nudge.example.com/email/unsubscribe/TOKEN',
  preferences_url: 'https://nudge.example.com/email/preferences/TOKEN',
};
const variables = { contact: { first_name: 'Ada', email: 'ada@example.com' }, new: {}, app: {} };

/** Each email of the demo features: its template and whether its topic is transactional. */
async function demoEmails(): Promise<{ template: string; transactional: boolean }[]> {
  const emails: { template: string; transactional: boolean }[] = [];
  for (const name of await readdir(path.join(DEMO, 'features'))) {
    const feature = parse(await readFile(path.join(DEMO, 'features', name), 'utf8'));
    for (const stage of feature.stages ?? [])
      for (const action of stage.do ?? [])
        if (action.email)
          emails.push({
            template: action.email.template,
            transactional: action.email.topic === 'transactional',
          });
  }
  return emails;
}

describe('the demo emails', () => {
  it('that are not transactional show their unsubscribe and preferences links', async () => {
    const emails = await demoEmails();
    const optional = emails.filter((e) => !e.transactional);
    expect(optional.length).toBeGreaterThanOrEqual(5);
    for (const { template } of optional) {
      const { html } = await renderer.template(template, { ...variables, ...LINKS });
      expect(html, template).toContain(`<a href="${LINKS.unsubscribe_url}">Unsubscribe</a>`);
      expect(html, template).toContain(`<a href="${LINKS.preferences_url}">Email preferences</a>`);
    }
  });

  it('show no opt-out line where there is no unsubscribe link (a transactional send)', async () => {
    for (const { template } of await demoEmails()) {
      const { html } = await renderer.template(template, variables);
      expect(html, template).not.toContain('Unsubscribe');
    }
  });
});
