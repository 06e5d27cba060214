// Ids past 2^31. Every id of the data path is a bigint (the inbox, the
// decision log, the action runs, the outbox's event log and rows tables);
// an inbox fed 100 events a second passes 2^31 in about eight months. Each
// sequence here starts past it, and an event goes through as on the first
// day: captured, processed, its webhook sent, its decisions read back as
// nudge logs and the API read them.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../src/capture/deploy.js';
import { buildCaptureObjects } from '../../src/capture/triggers.js';
import { loadConfig } from '../../src/config/load.js';
import { readDecisions } from '../../src/engine/lanes/decision-log.js';
import { launch, type Running } from '../../src/engine/wiring/launch.js';
import { checkFeatures } from '../../src/features/check.js';
import { loadFeatures } from '../../src/features/load.js';
import { silentLog } from '../../src/log.js';
import { readCatalog } from '../../src/source/catalog.js';
import { useDatabase } from '../harness/db.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';
import { waitFor } from '../harness/wait.js';
import { signUp } from './harness.js';

const db = useDatabase();
const PAST = 2 ** 31 + 1000;
let recorder: Recorder;
let running: Running;
let cwd = '';

/** Every identity or serial sequence of the two schemas Nudge writes per event. */
async function startSequencesPast(at: number): Promise<string[]> {
  const sequences = await db.sql<{ name: string }[]>`
    select format('%I.%I', n.nspname, s.relname) as name
      from pg_class s join pg_namespace n on n.oid = s.relnamespace
     where s.relkind = 'S' and n.nspname in ('nudge', 'nudge_engine')`;
  for (const { name } of sequences)
    await db.sql.unsafe(`alter sequence ${name} restart with ${at}`);
  return sequences.map((s) => s.name);
}

beforeAll(async () => {
  recorder = await startRecorder(() => ({ status: 200, body: { ok: true } }));
  await db.sql`create table public.tickets (id bigserial primary key, user_id uuid not null)`;
  await db.sql.unsafe(`alter sequence public.tickets_id_seq restart with ${PAST}`);
  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-big-ids-'));
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  await writeFile(path.join(cwd, 'nudge.yaml'), 'server: { port: 0 }\n');
  await writeFile(
    path.join(cwd, 'nudge/features/ticket.yaml'),
    `name: ticket
trigger: { table: public.tickets, on: insert }
contact: { id: new.user_id }
stages:
  - name: opened
    do: [{ webhook: { url: "${recorder.url}/ticket" } }]
`,
  );
  const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
  const features = await loadFeatures(project.featuresDir, project.env, cwd);
  await deploy(db.sql, buildCaptureObjects(checkFeatures(features, await readCatalog(db.sql))));
  // The engine store's schema is made by the engine's first start.
  running = await launch(project, { http: false, log: silentLog, idleMs: 20 });
  await running.stop();
  expect(await startSequencesPast(PAST)).toEqual(
    expect.arrayContaining(['nudge_engine.inbox_id_seq', 'nudge_engine.decisions_id_seq']),
  );
  running = await launch(project, { http: false, log: silentLog, idleMs: 20 });
});

afterAll(async () => {
  await running?.stop();
  await recorder?.close();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

describe('ids past 2^31', () => {
  it('an event is captured, processed, sent and logged as on the first day', async () => {
    const user = await signUp(db.sql, 'big-ids@example.com');
    await db.sql`insert into public.tickets (user_id) values (${user}), (${user})`;
    await waitFor(
      () => recorder.requests.filter((r) => r.path === '/ticket').length === 2 || undefined,
      'two webhooks for tickets with ids past 2^31',
    );
    const [inbox] = await db.sql<
      { min: string }[]
    >`select min(id)::text as min from nudge_engine.inbox`;
    expect(Number(inbox?.min)).toBeGreaterThanOrEqual(PAST);
    const rows = await readDecisions(db.sql, { feature: 'ticket' }, { limit: 50 });
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.id).toBeGreaterThanOrEqual(PAST);
    const [failed] = await db.sql<
      { n: number }[]
    >`select count(*)::int as n from nudge.failed_events`;
    expect(failed?.n).toBe(0);
  });
});
