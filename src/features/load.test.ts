// A feature file's mistakes in the words the rest of Nudge uses, at their
// line: the operations `on:` takes, with the closest; a bound and the value
// given; the type expected and the type found.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadFeatures } from './load.js';

async function problems(files: Record<string, string>): Promise<string[]> {
  const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-features-'));
  await mkdir(path.join(cwd, 'features'));
  for (const [name, text] of Object.entries(files))
    await writeFile(path.join(cwd, 'features', name), text);
  const error = await loadFeatures(path.join(cwd, 'features'), {}, cwd).then(
    () => undefined,
    (e: Error) => e,
  );
  return (error?.message ?? '').split('\n').sort();
}

const feature = (name: string, extra: string, on = 'insert') => `name: ${name}
trigger: { table: public.orders, on: ${on} }
${extra}stages:
  - name: s
    do: [{ webhook: { url: "http://127.0.0.1:1/x" } }]
`;

describe('feature files', () => {
  it('word a bad operation, a bound and a type as the rest of Nudge does', async () => {
    expect(
      await problems({
        'a.yaml': feature('a', '', 'inserted'),
        'b.yaml': feature('b', 'max_entries: 0\n'),
        'c.yaml': feature('c', 'max_entries: three\n'),
      }),
    ).toEqual([
      'features/a.yaml:2:38 trigger.on: expected insert, update or delete, or a list of them (did you mean "insert"?)',
      'features/b.yaml:3:14 max_entries: expected a number above 0, got 0',
      'features/c.yaml:3:14 max_entries: expected a number, got a string',
    ]);
  });

  it('says every problem of a file, in line order, and not what follows from one', async () => {
    expect(
      await problems({
        // Two bad entries of one condition; a stage that waits with no contact.
        'a.yaml': `name: a
trigger: { table: public.orders, on: insert, when: { new.status: eqq.paid, nwe.total: gt.5 } }
stages:
  - name: s
    do: [{ webhook: { url: "http://127.0.0.1:1/x" } }]
  - name: t
    after: 2d
    unless: { contact.vip: iss.true }
    do: [{ webhook: { url: "http://127.0.0.1:1/y" } }]
`,
        // A contact written wrong is that problem, not also "needs a contact".
        'b.yaml': `name: b
trigger: { table: public.orders, on: insert }
contact: { id: user_id }
goal: { when: { contact.paid: is.true }, within: 7d }
stages:
  - name: s
    after: 1d
    do: [{ webhook: { url: "http://127.0.0.1:1/x" } }]
`,
        // Off the schema: its conditions are read all the same.
        'c.yaml': `name: c
trigger: { table: public.orders, on: insert, when: { new.total: gtt.5 } }
max_entries: three
stages:
  - name: s
    if: { new.status: eqq.paid }
    do: [{ webhook: { url: "http://127.0.0.1:1/x" } }]
`,
      }),
    ).toEqual([
      'features/a.yaml:2:1 trigger: this feature waits or limits entries per contact, so it needs contact: { id: new.<column> } (or email / phone)',
      'features/a.yaml:2:66 trigger.when["new.status"]: unknown operator "eqq" (did you mean "eq"?); expected one of eq, neq, gt, gte, lt, lte, like, ilike, in, is',
      'features/a.yaml:2:87 trigger.when["nwe.total"]: unknown scope "nwe" in "nwe.total" (did you mean "new"?); expected one of new, old, contact',
      'features/a.yaml:8:28 stages[1].unless["contact.vip"]: unknown operator "iss" (did you mean "is"?); expected one of eq, neq, gt, gte, lt, lte, like, ilike, in, is',
      'features/b.yaml:3:16 contact.id: expected "<scope>.<column>" such as "new.user_id", got "user_id"',
      'features/c.yaml:2:65 trigger.when["new.total"]: unknown operator "gtt" (did you mean "gt"?); expected one of eq, neq, gt, gte, lt, lte, like, ilike, in, is',
      'features/c.yaml:3:14 max_entries: expected a number, got a string',
      'features/c.yaml:6:23 stages[0].if["new.status"]: unknown operator "eqq" (did you mean "eq"?); expected one of eq, neq, gt, gte, lt, lte, like, ilike, in, is',
    ]);
  });
});
