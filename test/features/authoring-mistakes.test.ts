// Feature files written by hand, with the mistakes hands make: each is said
// by `nudge plan` at its file:line and field, with what to write instead, or
// (for what is not a mistake) means what was written — never silently
// something else.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import {
  type Condition,
  compileJs,
  compileSql,
  numberedParams,
} from '../../src/conditions/index.js';
import { parseYaml } from '../../src/config/yaml.js';
import { applyDemoTables } from '../../src/dev/demo.js';
import { parseFeature } from '../../src/features/load.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();

beforeAll(async () => {
  await applyDemoTables(db.url);
});

const STAGE = `stages:
  - name: s
    do: [{ webhook: { url: "http://127.0.0.1:1/x" } }]
`;

async function plan(files: Record<string, string>, config = '') {
  const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-mistakes-'));
  await writeFile(path.join(cwd, 'nudge.yaml'), config);
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  for (const [name, text] of Object.entries(files))
    await writeFile(path.join(cwd, 'nudge/features', name), text);
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  const code = await run(['plan'], m.io);
  return { code, err: m.stderr() };
}

describe("a schedule's when reads the row as it is now", () => {
  // It runs as SQL over the table (engine/intake/schedule.ts), which took
  // contact.plan for a column "plan" of auth.users, and old.email for new.email.
  it('refuses contact.* and old.* there, each at its place, with what to do', async () => {
    const result = await plan(
      {
        'a.yaml': `name: a
trigger:
  table: auth.users
  schedule: { every: 1d }
  when:
    new.last_sign_in_at: lt.now()-7d
    or: [{ contact.plan: eq.pro }, { old.email: like.*@x.com }]
${STAGE}`,
      },
      'contacts: { attributes: { plan: text } }\n',
    );
    expect(result.code).toBe(2);
    expect(result.err.split('\n')).toEqual([
      `✗ nudge/features/a.yaml:7:26 trigger.when.or[0]["contact.plan"]: a schedule's when is a query over its table, which reads new.* (the row as it is now), not contact.*`,
      "  hint: test contact.plan in the first stage's if or unless, which sees the contact",
      `✗ nudge/features/a.yaml:7:49 trigger.when.or[1]["old.email"]: a schedule's when is a query over its table, which reads new.* (the row as it is now), not old.*`,
      '  hint: write new.email',
    ]);
  });
});

describe('durations', () => {
  it('refuses one past any timer, one that counts back, and says the one unit two add up to', async () => {
    const result = await plan({
      'a.yaml': `name: a
trigger: { table: public.orders, on: insert }
contact: { id: new.user_id }
cooldown: 99999999d
stages:
  - name: s
    do: [{ webhook: { url: "http://127.0.0.1:1/x" } }]
  - name: t
    after: -1d
    do: [{ webhook: { url: "http://127.0.0.1:1/y" } }]
  - name: u
    after: 1d12h
    do: [{ webhook: { url: "http://127.0.0.1:1/z" } }]
`,
    });
    expect(result.err.split('\n')).toEqual([
      '✗ nudge/features/a.yaml:4:11 cooldown: expected at most 36500d, got "99999999d"',
      '✗ nudge/features/a.yaml:9:12 stages[1].after: expected a duration such as 30s, 15m, 2h, 7d or 1w; durations are positive, got "-1d"',
      '✗ nudge/features/a.yaml:12:12 stages[2].after: expected a duration such as 30s, 15m, 2h, 7d or 1w, got "1d12h" (did you mean "36h"?)',
    ]);
  });
});

describe("a contact's own fields have their types", () => {
  it('orders created_at, checks an id is a UUID, and hints the type a test needs', async () => {
    const when = (w: string) => `name: a
trigger: { table: public.orders, on: insert, when: ${w} }
contact: { id: new.user_id }
${STAGE}`;
    const ok = await plan({
      'a.yaml': when('{ contact.created_at: lt.now()-7d, contact.email: gt.m }'),
    });
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    const bad = await plan({
      'a.yaml': when('{ contact.id: eq.abc, contact.signup: lt.now()-7d }'),
    });
    expect(bad.err.split('\n')).toEqual([
      '✗ nudge/features/a.yaml:2:66 trigger.when["contact.id"]: expected a UUID for contact.id, got "abc"',
      '✗ nudge/features/a.yaml:2:90 trigger.when["contact.signup"]: lt cannot order contact.signup: its type compares only with eq, neq, in, like, ilike and is',
      "  hint: declare the attribute's type in nudge.yaml: contacts: { attributes: { signup: timestamptz } } (or text, numeric, timestamptz, ...)",
    ]);
  });
});

describe('values written the way SQL or YAML would take them differently', () => {
  const when = (w: string) => `name: a
trigger:
  table: public.orders
  on: insert
  when: ${w}
${STAGE}`;

  it('refuses an in-list in SQL quotes, which would match nothing', async () => {
    const result = await plan({ 'a.yaml': when(`{ new.status: "in.('paid','open')" }`) });
    expect(result.err).toBe(
      `✗ nudge/features/a.yaml:5:23 trigger.when["new.status"]: item 'paid' of in.('paid','open') is in single quotes, which would be part of the value; write in.(paid,open), or "'paid'" to match the quotes too`,
    );
  });

  it('says a value cut at a comma inside { } and how to quote it', async () => {
    const result = await plan({ 'a.yaml': when('{ new.status: not.in.(paid,open) }') });
    expect(result.err.split('\n')).toEqual([
      '✗ nudge/features/a.yaml:5:23 trigger.when["new.status"]: expected a list in parentheses, e.g. "in.(a,b)", got "in.(paid"; inside { } a comma ends a value, so quote it: "in.(a,b)"',
      '✗ nudge/features/a.yaml:5:36 trigger.when["open)"]: expected "<scope>.<column>" such as "new.open)", got "open)"; if it is the rest of the value before it, quote that value: inside { } a comma ends a value',
    ]);
  });

  it('refuses a key with its filter forgotten, which would have tested for NULL', async () => {
    const result = await plan({ 'a.yaml': when('\n    new.status:\n    new.total: gt.5') });
    expect(result.err).toBe(
      '✗ nudge/features/a.yaml:6:16 trigger.when["new.status"]: nothing after the key; write a filter such as "eq.paid", or is.null to test for NULL',
    );
    const written = await plan({ 'a.yaml': when('{ new.status: null, new.total: gt.5 }') });
    expect(written.err).toBe('');
  });

  it('names a key written twice and says how to test a field twice', async () => {
    const result = await plan({
      'a.yaml': when('\n    new.total: gt.1\n    new.total: lt.5'),
    });
    expect(result.err.split('\n')).toEqual([
      '✗ nudge/features/a.yaml:7:5 trigger.when["new.total"]: written twice in one mapping (first on line 6)',
      '  hint: to test one field twice, list the tests: and: [{ new.total: gt.1 }, { new.total: lt.5 }]',
    ]);
  });

  // YAML reads `01` as the number 1 and 12345678901234567890 as a float
  // that prints 12345678901234567000: a condition compares what was written.
  it.each([
    ['text', '{ new.v: 01 }', '01', true],
    ['text', '{ new.v: 01 }', '1', false],
    ['text', '{ new.v: 1.50 }', '1.50', true],
    ['text', '{ new.v: 1e3 }', '1e3', true],
    ['numeric', '{ new.v: 12345678901234567890 }', '12345678901234567890', true],
    ['numeric', '{ new.v: 12345678901234567890 }', '12345678901234567000', false],
    ['numeric', '{ or: [{ new.v: 1.50 }] }', '1.5', true],
    ['bigint', '{ new.v: 9007199254740993 }', '9007199254740993', true],
  ])('%s column, %s, value %s: %s', async (type, condition, value, expected) => {
    const source = parseYaml(when(condition), 'a.yaml', {});
    const when_ = parseFeature(source, 'a.yaml').trigger.when as Condition;
    const valueType = type === 'text' ? 'text' : type === 'bigint' ? 'integer' : 'numeric';
    const params = numberedParams(2);
    const sql = compileSql(when_, { column: () => ({ sql: 'x.v', type: valueType }), ...params });
    const [row] = await db.sql.unsafe(
      `select (${sql}) is true as kept from (select $1::text::${type} as v) as x`,
      [value, ...params.values] as never[],
    );
    expect(row!.kept).toBe(expected);
    // The row as a lossless JSON reader gives it: JSON.parse would round
    // 12345678901234567890 before any condition sees it.
    const js = compileJs(when_, { typeOf: () => valueType });
    expect(js({ now: new Date(), new: { v: value } }).result).toBe(expected);
  });
});
