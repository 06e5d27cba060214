// What a newcomer types wrong is said as their error, never as "this is
// unexpected": a feature name no file has and nothing was recorded for
// (exit 1, as pause and report), and a value the command cannot take (exit
// 2, as commander's own refusals): a duration past 36500d (the API's bound,
// in its words), a date the calendar has not, a clock moved backwards or
// past 100 years ahead, an API key with no name or a path for one.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';

const db = useDatabase();
const DEMO = path.resolve('examples/demo/nudge.yaml');

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
});

async function nudge(...args: string[]) {
  const m = memoryIo({ env: { DATABASE_URL: db.url } });
  const code = await run(['--config', DEMO, ...args], m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

/** A refusal: its exit code and first line, no "unexpected" hint. */
function expectRefused(result: Awaited<ReturnType<typeof nudge>>, code: number, line: string) {
  expect(result.err.split('\n')[0]).toBe(`✗ ${line}`);
  expect(result.err).not.toContain('unexpected');
  expect(result.code).toBe(code);
}

async function offset(): Promise<number> {
  const [row] = await db.sql<{ offset_ms: string }[]>`select offset_ms from nudge_engine.clock`;
  return Number(row?.offset_ms);
}

describe('logs --feature', () => {
  it('refuses a name no feature file has and nothing was recorded for, as pause does', async () => {
    const typo = await nudge('logs', '--feature', 'welcom-drip');
    expectRefused(
      typo,
      1,
      `no feature named "welcom-drip" in ${path.resolve('examples/demo/nudge/features')} (did you mean "welcome-drip"?)`,
    );
    expect(typo.err).toContain('hint: features: abandoned-cart, heartbeat,');
    expect((await nudge('pause', 'welcom-drip')).code).toBe(typo.code);
  });

  it('outside a project, says that its folder has no feature file and how to name the project', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'nudge-no-project-'));
    const m = memoryIo({ cwd: dir, env: { DATABASE_URL: db.url } });
    const code = await run(['logs', '--feature', 'nosuch'], m.io);
    expectRefused(
      { code, out: m.stdout(), err: m.stderr() },
      1,
      `no feature named "nosuch" in ${path.join(dir, 'nudge/features')}`,
    );
    expect(m.stderr()).toContain(
      'hint: no feature file is there: run the command in your project (where nudge.yaml is), or pass --config path/to/nudge.yaml',
    );
  });

  it('shows a feature of the files with no decisions yet, and one since removed from them', async () => {
    const quiet = await nudge('logs', '--feature', 'welcome-drip');
    expect(quiet).toMatchObject({ code: 0, out: 'No decisions for feature welcome-drip.' });
    await db.sql`insert into nudge_engine.decisions (feature, outcome, reason)
                 values ('retired-drip', 'matched', 'trigger matched')`;
    const retired = await nudge('logs', '--feature', 'retired-drip');
    expect(retired.code, retired.err).toBe(0);
    expect(retired.out).toContain('retired-drip');
  });
});

describe('durations and times on the command line', () => {
  it('refuses a --since past 36500d, as the API does, before it reaches the database', async () => {
    expectRefused(
      await nudge('logs', '--since', '99999999d'),
      2,
      '--since 99999999d: expected at most 36500d',
    );
    expectRefused(await nudge('logs', '--since', '-1d'), 2, '--since -1d: durations are positive');
    expectRefused(
      await nudge('logs', '--since', '2x'),
      2,
      '--since 2x: expected a duration such as 2h or 7d',
    );
    expect((await nudge('logs', '--since', '36500d')).code).toBe(0);
    // Or a time, as backtest takes one.
    expect((await nudge('logs', '--since', '2020-01-01')).code).toBe(0);
    expectRefused(
      await nudge('logs', '--since', '2026-02-30'),
      2,
      '--since "2026-02-30" is not a time (the calendar has no 2026-02-30)',
    );
    for (const flag of ['--since', '--from']) {
      expectRefused(
        await nudge('backtest', 'welcome-drip', flag, '99999999d'),
        2,
        `${flag} 99999999d: expected at most 36500d`,
      );
    }
  });

  it('refuses a date the calendar has not, as the API does, and a time that is none', async () => {
    expectRefused(
      await nudge('backtest', 'welcome-drip', '--since', '2020-02-30'),
      2,
      '--since "2020-02-30" is not a time (the calendar has no 2020-02-30)',
    );
    expectRefused(
      await nudge(
        'backtest',
        'welcome-drip',
        '--from',
        '2024-01-01',
        '--to',
        '2024-13-01T00:00:00Z',
      ),
      2,
      '--to "2024-13-01T00:00:00Z" is not a time (the calendar has no 2024-13-01)',
    );
    const soon = await nudge('backtest', 'welcome-drip', '--since', 'soon');
    expectRefused(soon, 2, '--since "soon" is not a time');
    expect(soon.err).toContain('hint: give an ISO time such as 2024-01-01');
  });

  it('moves the clock forward only, by at most 36500d, and never past 36500d ahead in all', async () => {
    expectRefused(
      await nudge('clock', 'advance', '-1d'),
      2,
      'clock advance -1d: durations are positive; the engine time only moves forward',
    );
    expectRefused(
      await nudge('clock', 'advance', '1000000d'),
      2,
      'clock advance 1000000d: expected at most 36500d',
    );
    expect(await offset()).toBe(0);
    expect((await nudge('clock', 'advance', '36000d', '--yes')).code).toBe(0);
    const further = await nudge('clock', 'advance', '1000d', '--yes');
    expectRefused(
      further,
      1,
      'the engine clock is 36000 days ahead of real time; moving it 1000 days more would put it past 36500d ahead',
    );
    expect(further.err).toContain('hint: nudge clock reset goes back to real time');
    expect(await offset()).toBe(36_000 * 86_400_000);
    expect((await nudge('clock', 'reset', '--yes')).code).toBe(0);
  });
});

describe('keys create', () => {
  it('wants a name of letters, digits, ., - and _, said as the user’s error', async () => {
    const empty = await nudge('keys', 'create', '');
    expectRefused(empty, 2, 'an API key needs a name: who uses it, e.g. ci-sync');
    expect(empty.err).toContain('hint: e.g. nudge keys create ci-sync --scope read');
    for (const name of ['a b c/../', '../etc', '.hidden', 'x'.repeat(65)]) {
      expectRefused(
        await nudge('keys', 'create', name),
        2,
        `API key name ${JSON.stringify(name)}: expected letters, digits, ., - and _, starting with a letter or digit (at most 64)`,
      );
    }
    const [none] = await db.sql<
      { n: number }[]
    >`select count(*)::int as n from nudge_engine.api_keys`;
    expect(none?.n).toBe(0);
    const made = await nudge('keys', 'create', 'grafana.prod_2-ci');
    expect(made.code, made.err).toBe(0);
    expect(made.out).toContain('API key "grafana.prod_2-ci" (write) created');
  });
});
