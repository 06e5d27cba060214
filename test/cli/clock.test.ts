// `nudge clock advance` and `reset` move nudge dev's demo clock as asked and
// any other store's only with --yes, refusing before they write anything (the
// engine store is not even migrated); `show` only reads, on any store. One definition of "nudge dev's demo
// database" serves them and the dashboard's clock (isDemoStore): a separate
// engine store is not the demo's because the source is.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { durationInWords } from '../../src/config/duration.js';
import { isDemoStore, openDemoDatabase } from '../../src/dev/demo.js';
import { useDatabase } from '../harness/db.js';
import { tempProject } from '../harness/project.js';
import { withDemoNamedDatabase } from './demo-database.js';

const db = useDatabase();
const folders: string[] = [];
afterAll(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

async function folder(yaml = ''): Promise<string> {
  const cwd = await tempProject({ 'nudge.yaml': yaml }, 'nudge-clock-', { worldReadable: true });
  folders.push(cwd);
  return cwd;
}

async function nudge(cwd: string, args: string[], env: Record<string, string> = {}) {
  const m = memoryIo({ cwd, env });
  const code = await run(args, m.io);
  return { code, out: m.stdout(), err: m.stderr() };
}

const engineSchema = async (sql: postgres.Sql) => {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from pg_namespace where nspname = 'nudge_engine'`;
  return row!.n;
};

describe('nudge clock', () => {
  it('names its subcommands when run bare, and asks for the duration advance is missing', async () => {
    const cwd = await folder();
    const bare = await nudge(cwd, ['clock']);
    expect(bare.code).toBe(2);
    expect(bare.err).toContain('show, advance <duration> (fires waits and cooldowns), reset');
    for (const line of ['  show ', '  advance [options] [duration] ', '  reset [options] '])
      expect(bare.err).toContain(line);
    expect((await nudge(cwd, ['clock', '--help'])).out).toContain('e.g. advance 2d');
    const unknown = await nudge(cwd, ['clock', 'later']);
    expect(unknown.err).toContain('(run nudge clock --help: show, advance <duration>, reset)');

    const missing = await nudge(cwd, ['clock', 'advance']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('✗ nudge clock advance needs a duration');
    expect(missing.err).toContain('e.g. nudge clock advance 2d (units: s, m, h, d, w)');
    expect(missing.err).not.toContain('""');
    const wrong = await nudge(cwd, ['clock', 'advance', 'soon']);
    expect(wrong.err).toContain('✗ clock advance soon: expected a duration such as 2h or 7d');
    // The path --since takes too: the duration meant when the unit is spelled out.
    const spelled = await nudge(cwd, ['clock', 'advance', '2days']);
    expect(spelled.code).toBe(2);
    expect(spelled.err).toContain(
      '✗ clock advance 2days: expected a duration such as 2h or 7d (did you mean "2d"?)',
    );
    const zero = await nudge(cwd, ['clock', 'advance', '0d']);
    expect(zero.code).toBe(2);
    expect(zero.err).toContain(
      '✗ clock advance 0d: durations are positive; the engine time only moves forward',
    );
  });

  it('says how far the engine is from real time in words', () => {
    expect(durationInWords(0)).toBe('0 s');
    expect(durationInWords(45_000)).toBe('45 s');
    expect(durationInWords(37 * 60_000)).toBe('37 min');
    expect(durationInWords(3_600_000)).toBe('1 hour');
    expect(durationInWords(90 * 60_000)).toBe('1 hour 30 min');
    expect(durationInWords(86_400_000)).toBe('1 day');
    expect(durationInWords(4 * 86_400_000)).toBe('4 days');
    expect(durationInWords(5820 * 60_000)).toBe('4 days 1 hour');
    expect(durationInWords(-2 * 3_600_000)).toBe('2 hours');
  });

  it('shows the time without migrating the store: one with no clock yet is on real time', async () => {
    const shown = await nudge(await folder(), ['clock', 'show'], { DATABASE_URL: db.url });
    expect(shown.code, shown.err).toBe(0);
    expect(shown.out).toMatch(
      /^Engine time: \d{4}-\d\d-\d\dT\S+Z \(real time: no engine clock in schema nudge_engine in the source database yet; nudge start or nudge deploy sets one up\)$/,
    );
    expect(shown.err).toBe('');
    expect(await engineSchema(db.sql)).toBe(0);
  });

  it('refuses advance and reset without --yes on a database that is not the demo, having written nothing', async () => {
    const cwd = await folder();
    const env = { DATABASE_URL: db.url };
    for (const args of [
      ['clock', 'advance', '1d'],
      ['clock', 'reset'],
    ]) {
      const refused = await nudge(cwd, args, env);
      expect(refused.code).toBe(1);
      expect(refused.err).toContain('not a nudge dev database');
      expect(refused.err).toContain('add --yes if that is what you mean');
    }
    expect(await engineSchema(db.sql)).toBe(0);

    const moved = await nudge(cwd, ['clock', 'advance', '1d', '--yes'], env);
    expect(moved.code, moved.err).toBe(0);
    expect(moved.out).toMatch(/^Engine time: \d{4}-\d\d-\d\dT\S+Z \(1 day ahead of real time\)$/m);
    expect((await nudge(cwd, ['clock', 'show'], env)).out).toContain('(1 day ahead of real time)');
    expect((await nudge(cwd, ['clock', 'reset', '--yes'], env)).out).toMatch(/\(real time\)$/m);
  });

  it('moves the clock of the database named as the demo without --yes', async () => {
    await withDemoNamedDatabase(async (url) => {
      const moved = await nudge(await folder(), ['clock', 'advance', '2h'], { DATABASE_URL: url });
      expect(moved.code, moved.err).toBe(0);
      expect(moved.out).toContain('(2 hours ahead of real time)');
    });
  });

  it('counts nudge dev’s project as the demo, but not a separate store beside it', async () => {
    const fromDev = { databaseUrlFrom: 'nudge dev' };
    expect(await isDemoStore({ sql: db.sql, where: 'source' }, fromDev)).toBe(true);
    expect(await isDemoStore({ sql: db.sql, where: 'separate' }, fromDev)).toBe(false);
    expect(await isDemoStore({ sql: db.sql, where: 'source' }, {})).toBe(false);
  });

  it('wants --yes for a separate store (engine.database_url) beside the embedded demo database', async () => {
    // No database URL: the embedded demo database under .nudge/pg is the
    // source, and the store is engine.database_url, whose clock is not the demo's.
    const cwd = await folder(`engine:\n  database_url: ${db.url}\n`);
    const demo = await openDemoDatabase(path.join(cwd, '.nudge/pg'));
    await demo.server.stop();
    const refused = await nudge(cwd, ['clock', 'advance', '1d']);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`this moves the engine clock of postgres://postgres:***@`);
    expect(refused.err).toContain('not a nudge dev database');
    const [clock] = await db.sql<{ offset_ms: string }[]>`select offset_ms from nudge_engine.clock`;
    expect(Number(clock!.offset_ms)).toBe(0);
  }, 120_000);
});
