// What a feature reads for capture is what its actions render: every value
// of their parameters and of their variants' (a variant replaces its stage's
// parameters when it runs), never a mapping's keys, which are not rendered.
import { describe, expect, it } from 'vitest';
import { textVariables } from '../actions/render.js';
import { parseYaml } from '../config/yaml.js';
import { parseFeature } from './load.js';
import { featureReads } from './reads.js';

const templates = { textVariables, templateVariables: async () => [] };

const read = (text: string) =>
  featureReads(parseFeature(parseYaml(text, 'f.yaml', {}), 'f.yaml'), templates);

describe('featureReads', () => {
  it("reads a variant's parameters, and not a mapping's keys", async () => {
    expect(
      await read(`name: f
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
goal: { when: { contact.paid: is.true }, within: 7d }
stages:
  - name: s
    do:
      - email: { template: welcome, subject: "{{ new.total }}" }
      - set: { "{{ new.secret": "{{ new.status }}" }
    split:
      - { name: a }
      - { name: b, with: { email: { subject: "{{ new.currency }}" } } }
`),
    ).toEqual({ columns: ['currency', 'status', 'total', 'user_id'] });
  });

  it('reads the column a bare email to names, in a stage and in a variant', async () => {
    expect(
      await read(`name: f
trigger: { table: public.signups, on: insert }
contact: { id: new.user_id }
goal: { when: { contact.paid: is.true }, within: 7d }
stages:
  - name: s
    do: [{ email: { template: welcome, to: new.email } }]
    split:
      - { name: a }
      - { name: b, with: { email: { to: new.work_email } } }
`),
    ).toEqual({ columns: ['email', 'user_id', 'work_email'] });
  });
});
