// Numbers a double cannot hold, captured by the default outbox transport
// (an insert through a typed rows table, an update through nudge.event_log):
// the engine's JS predicate agrees with the SQL on them, and the inbox, the
// action runs, the contact's attributes and the webhooks keep their digits.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { deploy } from '../../src/capture/deploy.js';
import { buildCaptureObjects } from '../../src/capture/triggers.js';
import { loadConfig } from '../../src/config/load.js';
import { launch, type Running } from '../../src/engine/wiring/launch.js';
import { checkFeatures } from '../../src/features/check.js';
import { loadFeatures } from '../../src/features/load.js';
import { silentLog } from '../../src/log.js';
import { readCatalog } from '../../src/source/catalog.js';
import { useDatabase } from '../harness/db.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';
import { expectExactEndToEnd, LEDGER_TABLE, ledgerFeatures } from './big-numbers.js';

const db = useDatabase();
let recorder: Recorder;
let running: Running;
let cwd = '';

beforeAll(async () => {
  recorder = await startRecorder(() => ({ status: 200, body: { ok: true } }));
  await db.sql.unsafe(LEDGER_TABLE);
  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-big-numbers-'));
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  await writeFile(path.join(cwd, 'nudge.yaml'), 'server: { port: 0 }\n');
  for (const [name, text] of Object.entries(ledgerFeatures(recorder.url)))
    await writeFile(path.join(cwd, `nudge/features/${name}.yaml`), text);
  const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
  const features = await loadFeatures(project.featuresDir, project.env, cwd);
  await deploy(db.sql, buildCaptureObjects(checkFeatures(features, await readCatalog(db.sql))));
  running = await launch(project, { http: false, log: silentLog, idleMs: 20 });
});

afterAll(async () => {
  await running?.stop();
  await recorder?.close();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

describe('a bigint over 2^53 and a 19-digit numeric, captured by the outbox', () => {
  it('match as SQL would and reach the store and the webhooks digit for digit', async () => {
    await expectExactEndToEnd(db, recorder);
  });
});
