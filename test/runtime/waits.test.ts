// Waits survive a restart: a journey waiting in a stage is a row, not a timer
// in memory. The engine (launch(), what `nudge start` runs) sends the first
// stage's webhook, is stopped, and a new engine — after the store's clock has
// moved past the wait — sends the second stage's webhook, once.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deploy } from '../../src/capture/deploy.js';
import { buildCaptureObjects } from '../../src/capture/triggers.js';
import { type LoadedConfig, loadConfig } from '../../src/config/load.js';
import { advanceStoreClock } from '../../src/engine/wiring/clock.js';
import { launch, type Running } from '../../src/engine/wiring/launch.js';
import { checkFeatures } from '../../src/features/check.js';
import { loadFeatures } from '../../src/features/load.js';
import { silentLog } from '../../src/log.js';
import { readCatalog } from '../../src/source/catalog.js';
import { useDatabase } from '../harness/db.js';
import { type Sink, startSink, waitFor } from './helpers.js';

const db = useDatabase();
let sink: Sink | undefined;
let running: Running | undefined;
let cwd: string | undefined;

afterAll(async () => {
  await running?.stop();
  await sink?.close();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

describe('a wait across a restart', () => {
  it('fires in the next engine once its time has come, once', async () => {
    sink = await startSink();
    await db.sql`create table public.trials (id bigserial primary key, email text not null)`;
    cwd = await mkdtemp(path.join(tmpdir(), 'nudge-waits-'));
    await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
    await writeFile(path.join(cwd, 'nudge.yaml'), 'server: { port: 0 }\n');
    await writeFile(
      path.join(cwd, 'nudge/features/trial.yaml'),
      `name: trial
trigger: { table: public.trials, on: insert }
contact: { email: new.email }
stages:
  - name: started
    do: [{ webhook: { url: "${sink.url}/started", body: { trial: "{{ new.id }}" } } }]
  - name: reminded
    after: 3d
    do: [{ webhook: { url: "${sink.url}/reminded", body: { trial: "{{ new.id }}" } } }]
`,
    );
    const project: LoadedConfig = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
    const features = await loadFeatures(project.featuresDir, project.env, cwd);
    await deploy(db.sql, buildCaptureObjects(checkFeatures(features, await readCatalog(db.sql))));
    const start = () => launch(project, { http: false, log: silentLog, idleMs: 20 });
    const paths = () => sink!.recorder.requests.map((r) => r.path);

    running = await start();
    await db.sql`insert into public.trials (email) values ('tess@example.com')`;
    await waitFor(
      () => (paths().includes('/started') ? true : undefined),
      'the first stage',
      20_000,
    );
    const [waiting] = await db.sql<{ stage: string; status: string }[]>`
      select stage, status from nudge_engine.journeys where feature = 'trial'`;
    expect(waiting).toEqual({ stage: 'started', status: 'active' });
    await running.stop();
    running = undefined;

    // Three days pass while no engine runs.
    await advanceStoreClock(db.sql, 3 * 86_400_000 + 60_000);
    running = await start();
    await waitFor(
      () => (paths().includes('/reminded') ? true : undefined),
      'the second stage',
      20_000,
    );
    await waitFor(
      async () => {
        const [run] = await db.sql<{ n: number }[]>`
          select count(*)::int as n from nudge_engine.action_runs where status <> 'succeeded'`;
        return run?.n === 0 ? true : undefined;
      },
      'every run recorded',
      20_000,
    );
    expect(paths()).toEqual(['/started', '/reminded']);
    const [done] = await db.sql<{ stage: string; status: string }[]>`
      select stage, status from nudge_engine.journeys where feature = 'trial'`;
    expect(done).toEqual({ stage: 'reminded', status: 'completed' });
  }, 60_000);
});
