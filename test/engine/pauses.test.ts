// Pause and resume live: `nudge pause` stores the switch in the engine store,
// every running engine picks it up without a restart (NOTIFY nudge_features),
// skips the feature's events with the reason `paused`, and `nudge plan` and
// `nudge logs` say it is paused; `nudge logs` keeps each pause and resume.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../src/capture/deploy.js';
import { buildCaptureObjects } from '../../src/capture/triggers.js';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/load.js';
import { FeatureSet } from '../../src/engine/match/features.js';
import { pauseFeature, resumeFeature, watchPauses } from '../../src/engine/match/pauses.js';
import { launch, type Running } from '../../src/engine/wiring/launch.js';
import { checkFeatures } from '../../src/features/check.js';
import { loadFeatures } from '../../src/features/load.js';
import { silentLog } from '../../src/log.js';
import { readCatalog } from '../../src/source/catalog.js';
import { useDatabase } from '../harness/db.js';
import { waitFor } from '../harness/wait.js';
import { signUp, WELCOME_FEATURE } from './harness.js';

const db = useDatabase();
let running: Running;
let cwd: string;

beforeAll(async () => {
  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-pauses-'));
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  await writeFile(path.join(cwd, 'nudge.yaml'), 'server: { port: 0 }\n');
  await writeFile(path.join(cwd, 'nudge/features/welcome.yaml'), WELCOME_FEATURE);
  const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
  const features = await loadFeatures(project.featuresDir, project.env, cwd);
  await deploy(db.sql, buildCaptureObjects(checkFeatures(features, await readCatalog(db.sql))));
  running = await launch(project, { http: false, log: silentLog, idleMs: 20 });
});

afterAll(async () => {
  await running?.stop();
});

/** The decision the engine made for the welcome feature on this user's sign-up. */
function decisionFor(userId: string) {
  return waitFor(async () => {
    const [row] = await db.sql<{ outcome: string; reason: string }[]>`
      select d.outcome, d.reason from nudge_engine.decisions d
        join nudge_engine.inbox i on i.id = d.inbox_id
       where d.feature = 'welcome' and i.new_row ->> 'id' = ${userId}
       order by d.id limit 1`;
    return row;
  }, `a decision for user ${userId}`);
}

const cli = async (...argv: string[]) => {
  const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
  const code = await run(argv, m.io);
  return { code, out: m.stdout(), err: m.stderr() };
};

describe('pause and resume live', () => {
  it('skips a paused feature in the running engine, and matches again once resumed', async () => {
    const paused = await cli('pause', 'welcome');
    expect(paused).toMatchObject({ code: 0 });
    expect(paused.out).toContain('welcome paused');
    // The engine has it within about a second: wait on its own view of the switch.
    await waitFor(
      () => (running.featureSet.isPaused(running.featureSet.get('welcome')!) ? true : undefined),
      'the running engine to see the pause',
      5000,
    );
    const skipped = await signUp(db.sql, 'paused@example.com');
    expect(await decisionFor(skipped)).toEqual({ outcome: 'skipped', reason: 'paused' });

    const plan = await cli('plan');
    expect(plan.out).toMatch(/paused live: welcome \(cli, /);
    const logs = await cli('logs', '--feature', 'welcome');
    expect(logs.out).toMatch(/paused live: welcome/);
    // No contact is in the book (a paused feature creates none): the line names whom the event was for.
    expect(logs.out).toMatch(/welcome\s+paused@example\.com\s+skipped\s+paused/);
    // A name no feature file has says so, rather than looking like a quiet feature.
    expect(await cli('logs', '--feature', 'welcom')).toMatchObject({
      code: 1,
      out: '',
      err: `✗ no feature named "welcom" in ${path.join(cwd, 'nudge/features')} (did you mean "welcome"?)\n  hint: features: welcome`,
    });
    // Replay refuses a name that is of nothing (exit 1), rather than replaying nothing.
    expect(await cli('replay', '--feature', 'welcom')).toMatchObject({
      code: 1,
      out: '',
      err: `✗ no feature named "welcom" in ${path.join(cwd, 'nudge/features')} (did you mean "welcome"?)\n  hint: features: welcome`,
    });
    expect(await cli('replay', '--key', 'nope')).toMatchObject({
      code: 1,
      err: expect.stringContaining('✗ no action run has the key nope'),
    });
    // The clock of a database that is not nudge dev's moves only when asked twice.
    const moved = await cli('clock', 'advance', '1h');
    expect(moved.code).toBe(1);
    expect(moved.err).toContain('not a nudge dev database');
    expect(moved.err).toContain('add --yes if that is what you mean');
    expect((await cli('clock', 'show')).out).toMatch(/\(real time\)$/m);

    expect((await cli('pause', 'welcome')).out).toContain('already paused');
    expect((await cli('resume', 'welcome')).out).toContain('welcome resumed');
    await waitFor(
      () => (running.featureSet.isPaused(running.featureSet.get('welcome')!) ? undefined : true),
      'the running engine to see the resume',
      5000,
    );
    const matched = await signUp(db.sql, 'resumed@example.com');
    expect(await decisionFor(matched)).toEqual({ outcome: 'matched', reason: 'trigger matched' });
    expect((await cli('plan')).out).not.toContain('paused live');
    // The log keeps both moves of the switch, by the CLI, and not the pause that changed nothing.
    const moves = (await cli('logs', '--feature', 'welcome')).out
      .split('\n')
      .flatMap((line) => /\swelcome\s+-\s+(paused|resumed)\s+(.*)$/.exec(line)?.slice(1) ?? []);
    expect(moves).toEqual([
      'paused',
      'by cli: its events are skipped until it is resumed',
      'resumed',
      'by cli: its events are no longer skipped as paused',
    ]);
  });

  it('refuses to pause a feature the project does not have, naming the ones it has', async () => {
    const result = await cli('pause', 'welcom');
    expect(result.code).toBe(1);
    expect(result.err).toContain('no feature named "welcom"');
    expect(result.err).toContain('features: welcome');
  });

  it('reaches every process that watches, and each reads the whole set again', async () => {
    const features = await loadFeatures(path.join(cwd, 'nudge/features'), {}, cwd);
    const catalog = await readCatalog(db.sql);
    const sets = [new FeatureSet(features, catalog), new FeatureSet(features, catalog)];
    const watchers = await Promise.all(sets.map((set) => watchPauses(db.sql, set, silentLog)));
    try {
      const welcome = (set: FeatureSet) => set.isPaused(set.get('welcome')!);
      expect(sets.map(welcome)).toEqual([false, false]);
      await pauseFeature(db.sql, 'welcome', 'test');
      await waitFor(() => (sets.every(welcome) ? true : undefined), 'both sets paused', 5000);
      await resumeFeature(db.sql, 'welcome', 'test');
      await waitFor(() => (sets.some(welcome) ? undefined : true), 'both sets resumed', 5000);
      // A change by hand (psql) reaches them too: the trigger announces any statement.
      await db.sql`insert into nudge_engine.feature_pauses (feature, paused_by) values ('welcome', 'psql')`;
      await waitFor(() => (sets.every(welcome) ? true : undefined), 'paused by hand', 5000);
      await db.sql`truncate nudge_engine.feature_pauses`;
      await waitFor(() => (sets.some(welcome) ? undefined : true), 'truncated', 5000);
    } finally {
      await Promise.all(watchers.map((w) => w.stop()));
    }
  });
});
