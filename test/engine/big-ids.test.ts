// Ids past 2^31. Every id of the data path is a bigint (the inbox, the
// decision log, the action runs, the outbox's event log and rows tables);
// an inbox fed 100 events a second passes 2^31 in about eight months. Each
// sequence here starts past it, and an event goes through as on the first
// day: captured, processed, its webhook sent, its decisions read back as
// nudge logs and the API read them.
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { readDecisions } from '../../src/engine/lanes/decision-log.js';
import { launch, type Running } from '../../src/engine/wiring/launch.js';
import { silentLog } from '../../src/log.js';
import { PAST, restartSequencesPast, useDatabase } from '../harness/db.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';
import { deployedProject } from '../harness/project.js';
import { waitFor } from '../harness/wait.js';
import { signUp } from './harness.js';

const db = useDatabase();
let recorder: Recorder;
let running: Running;
let cwd = '';

beforeAll(async () => {
  recorder = await startRecorder(() => ({ status: 200, body: { ok: true } }));
  await db.sql`create table public.tickets (id bigserial primary key, user_id uuid not null)`;
  await db.sql.unsafe(`alter sequence public.tickets_id_seq restart with ${PAST}`);
  cwd = await deployedProject(db.sql, db.url, 'nudge-big-ids-', 'server: { port: 0 }\n', {
    ticket: `name: ticket
trigger: { table: public.tickets, on: insert }
contact: { id: new.user_id }
stages:
  - name: opened
    do: [{ webhook: { url: "${recorder.url}/ticket" } }]
`,
  });
  const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
  // The engine store's schema is made by the engine's first start.
  running = await launch(project, { http: false, log: silentLog, idleMs: 20 });
  await running.stop();
  expect(await restartSequencesPast(db.sql, PAST)).toEqual(
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
