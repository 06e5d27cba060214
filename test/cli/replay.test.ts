// `nudge replay` refuses a filter that says nothing, or a bad --since, before
// it loads the project, saying it in the command's own options. On the engine
// store: a key no action run has, or a feature no file has and no run was
// made for, is an error that names it (exit 1); a filter of names that exist
// with nothing dead to replay says so and exits 0; a key whose run is not dead
// is an error that says --force (exit 1).
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { replay } from '../../src/cli/replay.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { enqueue, newRun, uniqueKey } from '../actions/setup.js';
import { useDatabase } from '../harness/db.js';
import { tempProject } from '../harness/project.js';

describe('nudge replay', () => {
  it('asks what to replay when no option says it', async () => {
    const { io } = memoryIo({ cwd: '/nonexistent' });
    await expect(replay({}, io)).rejects.toMatchObject({
      name: 'UsageError',
      exitCode: 2,
      message: 'say what to replay',
      hint: 'nudge replay --key <key>, --feature <name> or --since 1h',
    });
  });

  it('names --since and what it was given when it is not a duration', async () => {
    const { io } = memoryIo({ cwd: '/nonexistent' });
    await expect(replay({ feature: 'drip', since: 'lately' }, io)).rejects.toMatchObject({
      name: 'UsageError',
      exitCode: 2,
      message: '--since lately: expected a duration such as 2h or 7d',
    });
    // Bounded as logs' --since and the API's since= are.
    await expect(replay({ since: '99999999d' }, io)).rejects.toMatchObject({
      message: '--since 99999999d: expected at most 36500d',
    });
  });
});

describe('nudge replay on the engine store', () => {
  const db = useDatabase();
  let cwd: string;
  /** A run of test-feature, a feature no file has (as one since removed): dead. */
  const dead = uniqueKey('replay-dead');
  /** A run that succeeded: sent again only with --force. */
  const done = uniqueKey('replay-done');

  beforeAll(async () => {
    await migrateEngine(db.sql, db.url);
    cwd = await tempProject(
      {
        'nudge.yaml': '',
        'nudge/features/welcome-drip.yaml': await readFile(
          path.resolve('examples/demo/nudge/features/welcome-drip.yaml'),
          'utf8',
        ),
      },
      'nudge-replay-',
    );
    await enqueue(db.sql, [newRun(dead, { kind: 'track', params: { event: 'replayed' } })]);
    await db.sql`update nudge_engine.action_runs set status = 'dead' where key = ${dead}`;
    await enqueue(db.sql, [newRun(done, { kind: 'track', params: { event: 'done' } })]);
    await db.sql`update nudge_engine.action_runs set status = 'succeeded', attempts = 1 where key = ${done}`;
  });

  afterAll(async () => {
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  async function nudgeReplay(...args: string[]) {
    const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
    const code = await run(['replay', ...args], m.io);
    return { code, stdout: m.stdout(), stderr: m.stderr() };
  }

  it('refuses a key no action run has, naming it and where keys are listed', async () => {
    const result = await nudgeReplay('--key', 'nosuch');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('✗ no action run has the key nosuch');
    expect(result.stderr).toContain('nudge logs --json shows each queued action with its key');
    expect(result.stdout).toBe('');
  });

  it('refuses a feature no file has and no run was made for, listing the features', async () => {
    const result = await nudgeReplay('--feature', 'welcome-dirp');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('✗ no feature named "welcome-dirp" in ');
    expect(result.stderr).toContain('features: welcome-drip');
    expect(result.stdout).toBe('');
  });

  it('says there is nothing to replay, exit 0, for a feature with no dead runs', async () => {
    const result = await nudgeReplay('--feature', 'welcome-drip');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('Nothing to replay: no dead action runs of feature welcome-drip.');
    const since = await nudgeReplay('--since', '1h', '--feature', 'welcome-drip');
    expect(since.code).toBe(0);
    expect(since.stdout).toBe(
      'Nothing to replay: no dead action runs of feature welcome-drip, created in the last 1h.',
    );
  });

  it('says a key that exists is not what --feature narrows to, exit 0', async () => {
    const result = await nudgeReplay('--key', dead, '--feature', 'welcome-drip');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `Nothing to replay: the action run with the key ${dead} is not of feature welcome-drip.`,
    );
  });

  it('replays the dead runs of a feature no file has any more, then has nothing left', async () => {
    const first = await nudgeReplay('--feature', 'test-feature');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('1 action run queued again');
    const [row] = await db.sql<{ status: string }[]>`
      select status from nudge_engine.action_runs where key = ${dead}`;
    expect(row?.status).toBe('pending');
    // Its runs make the name known: nothing dead is left, which is no error.
    const again = await nudgeReplay('--feature', 'test-feature');
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('Nothing to replay: no dead action runs of feature test-feature.');
    const since = await nudgeReplay('--since', '1h');
    expect(since.code).toBe(0);
    expect(since.stdout).toBe('Nothing to replay: no dead action runs created in the last 1h.');
  });

  it('refuses a key whose run is not dead, saying --force; --force replays it', async () => {
    const refused = await nudgeReplay('--key', done);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `✗ the action run with the key ${done} is succeeded, not dead`,
    );
    expect(refused.stderr).toContain(`nudge replay --key ${done} --force`);
    expect(refused.stdout).toBe('');
    const [before] = await db.sql<{ status: string }[]>`
      select status from nudge_engine.action_runs where key = ${done}`;
    expect(before?.status).toBe('succeeded');

    const forced = await nudgeReplay('--key', done, '--force');
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('1 action run queued again');
    const [after] = await db.sql<{ status: string }[]>`
      select status from nudge_engine.action_runs where key = ${done}`;
    expect(after?.status).toBe('pending');
  });

  it('takes --force with --key only', async () => {
    const result = await nudgeReplay('--feature', 'test-feature', '--force');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      '--force: only with a key: it replays one run whatever its status',
    );
  });
});
