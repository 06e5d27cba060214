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
contact: { id: new.user_id }
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
      'features/a.yaml:2:38 trigger.on: expected insert, update or delete, or a list of them, got "inserted" (did you mean "insert"?)',
      'features/b.yaml:4:14 max_entries: expected a number above 0, got 0',
      'features/c.yaml:4:14 max_entries: expected a number, got "three"',
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
      // Any max_entries needs a contact: said now, not once its value is fixed.
      'features/c.yaml:2:1 trigger: this feature waits or limits entries per contact, so it needs contact: { id: new.<column> } (or email / phone)',
      'features/c.yaml:2:65 trigger.when["new.total"]: unknown operator "gtt" (did you mean "gt"?); expected one of eq, neq, gt, gte, lt, lte, like, ilike, in, is',
      'features/c.yaml:3:14 max_entries: expected a number, got "three"',
      'features/c.yaml:6:23 stages[0].if["new.status"]: unknown operator "eqq" (did you mean "eq"?); expected one of eq, neq, gt, gte, lt, lte, like, ilike, in, is',
    ]);
  });

  it('reads what fits of a file off the schema, and says the rest of its problems too', async () => {
    expect(
      await problems({
        // An unknown action keeps its place: the goto after it is located right.
        'a.yaml': `name: a
trigger: { table: public.orders, on: insert }
stages:
  - name: s
    do: [{ emial: { template: welcome } }, { goto: nowhere }, { webhook: { url: "x{{", method: GET } }]
`,
        // Table and event both, beside an operation off the schema.
        'b.yaml': `name: b
trigger: { table: public.orders, event: user.signed_up, on: inserted }
stages: [{ name: s }]
`,
        // A stage name off the schema is that problem, not also a goto to no stage.
        'c.yaml': `name: c
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages:
  - name: first stage
    do: [{ goto: second }]
  - name: second
    next: [{ to: first stage, after: 2days }]
`,
        // A holdout off the schema still needs a goal; a stage's two problems both.
        'd.yaml': `name: d
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
holdout: 150
stages:
  - name: s
    after: 2days
    within: 1d
`,
        // A variant's parameters are rendered as the stage's are: checked alike.
        'f.yaml': `name: f
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
goal: { when: { contact.paid: is.true }, within: 7d }
stages:
  - name: s
    do: [{ email: { template: welcome, subject: Hi } }]
    split:
      - { name: a }
      - { name: b, with: { email: { subject: "{{ contact.name | upcase" } } }
`,
        // No trigger to read: its condition and the stages are read all the same.
        'e.yaml': `name: e
trigger: { on: insert, when: { new.status: eqq.paid } }
stages:
  - name: s
    do: [{ goto: nowhere }]
`,
      }),
    ).toEqual([
      'features/a.yaml:5:19 stages[0].do[0].emial: unknown action "emial" (did you mean "email"?); expected one of email, webhook, function, set, add_to_list, remove_from_list, track, goto, exit',
      'features/a.yaml:5:52 stages[0].do[1].goto: no stage named "nowhere" (stages: s)',
      'features/a.yaml:5:81 stages[0].do[2].webhook.url: output "{{" not closed',
      'features/a.yaml:5:96 stages[0].do[2].webhook.method: expected one of POST, PUT, PATCH, got "GET"',
      'features/b.yaml:2:41 trigger.event: give either table or event, not both',
      'features/b.yaml:2:61 trigger.on: expected insert, update or delete, or a list of them, got "inserted" (did you mean "insert"?)',
      'features/c.yaml:5:11 stages[0].name: expected a stage name of letters, digits, - and _, got "first stage"',
      'features/c.yaml:8:18 stages[1].next[0].to: expected a stage name of letters, digits, - and _, got "first stage"',
      'features/c.yaml:8:38 stages[1].next[0].after: expected a duration such as 30s, 15m, 2h, 7d or 1w, got "2days" (did you mean "2d"?)',
      'features/d.yaml:4:1 holdout: a holdout needs a goal to measure it: add goal: { when: ..., within: 7d }',
      'features/d.yaml:4:10 holdout: expected a percentage greater than 0 and less than 100, got 150',
      'features/d.yaml:7:12 stages[0].after: expected a duration such as 30s, 15m, 2h, 7d or 1w, got "2days" (did you mean "2d"?)',
      'features/d.yaml:8:13 stages[0].within: within needs until',
      'features/e.yaml:2:10 trigger: expected a table (with on) or an event',
      'features/e.yaml:2:44 trigger.when["new.status"]: unknown operator "eqq" (did you mean "eq"?); expected one of eq, neq, gt, gte, lt, lte, like, ilike, in, is',
      'features/e.yaml:5:18 stages[0].do[0].goto: no stage named "nowhere" (stages: s)',
      'features/f.yaml:10:46 stages[0].split[1].with.email.subject: output "{{ contact.name | upcase" not closed',
    ]);
  });

  it('says a rule across the fields of a mapping whatever else of it is off the schema', async () => {
    expect(
      await problems({
        // columns without on: update, beside a when that is no mapping.
        'a.yaml': `name: a
trigger: { table: public.orders, on: insert, columns: [status], when: [] }
stages: [{ name: s }]
`,
        // A goal with neither when nor event, beside a within off the schema;
        // a match of two pairs, beside a pair off the schema.
        'b.yaml': `name: b
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
enrich:
  profile: { table: public.profiles, match: { id: new.user_id, plan: 5 } }
goal: { within: 7 }
stages: [{ name: s }]
`,
        // A within whose until is there but off the schema needs nothing more.
        'c.yaml': `name: c
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
stages: [{ name: s, until: 3, within: 1d, do: {} }]
`,
      }),
    ).toEqual([
      'features/a.yaml:2:55 trigger.columns: columns applies to on: update',
      'features/a.yaml:2:71 trigger.when: expected a condition mapping such as { "new.status": "eq.paid" }',
      'features/b.yaml:5:45 enrich.profile.match: expected one column: field pair',
      'features/b.yaml:5:70 enrich.profile.match.plan: expected a field such as new.id or new.email, got 5',
      'features/b.yaml:6:17 goal.within: expected a duration such as 30s, 15m, 2h, 7d or 1w, got 7',
      'features/b.yaml:6:7 goal: expected when (a condition on contact.*), event (an event name), or both',
      'features/c.yaml:4:28 stages[0].until: expected a condition mapping such as { "new.status": "eq.paid" }, got 3',
      'features/c.yaml:4:47 stages[0].do: expected an array, got an object',
    ]);
  });
});
