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
  'nudge/features/a.yaml:15:18 stages[0].next[0].to: no stage named "nowhere"',
  'nudge/features/b.yaml:2:66 trigger.when["new.status"]: unknown operator "eqq" (did you mean "eq"?); expected one of eq, neq, gt, gte, lt, lte, like, ilike, in, is',
  'nudge/features/b.yaml:2:87 trigger.when["new.total"]: unknown operator "gtt" (did you mean "gt"?); expected one of eq, neq, gt, gte, lt, lte, like, ilike, in, is',
  'nudge/features/b.yaml:3:14 max_entries: expected a number, got a string',
  'nudge/features/c.yaml:2:19 trigger.table: table public.ordres does not exist (did you mean "public.orders"?)',
];

async function project(files: Record<string, string>): Promise<string> {
  const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-errors-'));
  await writeFile(path.join(cwd, 'nudge.yaml'), '');
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  for (const [name, text] of Object.entries(files))
    await writeFile(path.join(cwd, 'nudge/features', name), text);
  return cwd;
}

async function cli(command: string, cwd: string) {
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  const code = await run([command], m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

describe('every problem of the feature files in one round', () => {
  it('nudge plan lists them all, in file and line order', async () => {
    const result = await cli('plan', await project(FILES));
    expect(result.code).toBe(2);
    expect(result.err.split('\n').filter((line) => line.startsWith('✗'))).toEqual(
      EXPECTED.map((line) => `✗ ${line}`),
    );
  });

  it('nudge doctor shows the first and counts the rest', async () => {
    const result = await cli('doctor', await project(FILES));
    expect(result.out).toContain(
      `✗ Features           ${EXPECTED[0]} (and ${EXPECTED.length - 1} more)`,
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
