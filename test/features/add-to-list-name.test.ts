// `add_to_list:` written as it is follows the rule of a list's name (letters,
// digits, - and _; POST /v1/lists's), so `nudge plan` says file:line rather
// than every run failing; a Liquid name is known only rendered (the action
// checks it when it would make a new list), so plan takes it.
import { beforeAll, describe, expect, it } from 'vitest';
import { applyDemoTables } from '../../src/dev/demo.js';
import { useDatabase } from '../harness/db.js';
import { planProblems, tempProject } from '../harness/project.js';

const db = useDatabase();

beforeAll(async () => {
  await applyDemoTables(db.url);
});

const feature = (list: string) => `name: f
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages:
  - name: s
    do:
      - add_to_list: ${list}
`;

async function plan(list: string) {
  const cwd = await tempProject(
    { 'nudge.yaml': '', 'nudge/features/f.yaml': feature(list) },
    'nudge-list-name-',
  );
  return planProblems(cwd, db.url);
}

describe('add_to_list in a feature file', () => {
  it('refuses a written name off the list rule at its file and line', async () => {
    expect(await plan('"Pro Users!"')).toEqual({
      code: 2,
      problems: [
        '✗ nudge/features/f.yaml:7:22 stages[0].do[0].add_to_list: expected a name of letters, digits, - and _, starting with a letter or digit (e.g. email-users), got "Pro Users!"',
      ],
    });
  });

  it('takes a name of the rule, and a Liquid one (checked when rendered)', async () => {
    for (const list of [
      'pro-users',
      '"{{ new.status }}-buyers"',
      '"{% if new.total %}big{% endif %}"',
    ]) {
      expect(await plan(list), list).toEqual({ code: 0, problems: [] });
    }
  });
});
