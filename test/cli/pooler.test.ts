// Supabase's connection strings, played by PgBouncer in front of the test
// server: through a transaction pooler (what port 6543 is) `nudge doctor`
// says ✗ with the URL to use instead and `nudge start` refuses before it
// touches anything; through a session pooler (port 5432 of the pooler host)
// everything works — doctor, plan, deploy, and the engine processing a
// captured change.
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/load.js';
import { launch, type Running } from '../../src/engine/wiring/launch.js';
import { silentLog } from '../../src/log.js';
import { probeSessions } from '../../src/source/pooler.js';
import { useDatabase } from '../harness/db.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';
import { usePgbouncer } from '../harness/pgbouncer.js';
import { tempProject } from '../harness/project.js';
import { waitFor } from '../harness/wait.js';

const db = useDatabase();
const transaction = usePgbouncer('transaction');
const session = usePgbouncer('session');
let recorder: Recorder;
let cwd: string;

beforeAll(async () => {
  recorder = await startRecorder(() => ({ status: 200, body: { ok: true } }));
  await db.sql`create table public.orders (id bigserial primary key, user_id uuid references auth.users (id),
    status text not null default 'new')`;
  cwd = await tempProject(
    {
      'nudge.yaml': 'server: { port: 0 }\n',
      'nudge/features/order-paid.yaml': `name: order-paid
trigger: { table: public.orders, on: [insert, update], when: { new.status: eq.paid } }
contact: { id: new.user_id }
stages:
  - name: notified
    do:
      - webhook: { url: "${recorder.url}/paid", body: { order: "{{ new.id }}" } }
`,
    },
    'nudge-pooler-',
  );
});

afterAll(async () => {
  await recorder?.close();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

async function nudge(argv: string[], databaseUrl: string) {
  const { io, stdout, stderr } = memoryIo({ cwd, env: { DATABASE_URL: databaseUrl } });
  const code = await run(argv, io);
  return { code, out: stdout(), err: stderr(), lines: stdout().split('\n') };
}

const REFUSAL =
  /is a transaction pooler: two connections ran in one server session \(backend \d+\); Nudge needs its sessions kept \(LISTEN\/NOTIFY, advisory locks, SET\)/;
const FIX =
  /use the pooler in session mode \(PgBouncer: pool_mode = session; Supabase: the session pooler, port 5432\) or connect to the database directly/;

describe('the session probe', () => {
  it('finds PgBouncer in transaction mode, and sessions kept directly and in session mode', async () => {
    const pooled = await probeSessions({ url: transaction.url(db.name), readOnly: false });
    expect(pooled).toMatchObject({
      kind: 'transaction',
      why: expect.stringMatching(/^two connections ran in one server session/),
    });
    for (const url of [db.url, session.url(db.name)]) {
      expect(await probeSessions({ url, readOnly: false })).toEqual({
        kind: 'session',
        supabasePooler: false,
      });
    }
  });
});

describe('through a transaction pooler', () => {
  it('nudge doctor says ✗ with what to use instead, and skips the checks that need a session', async () => {
    const { code, lines } = await nudge(['doctor'], transaction.url(db.name));
    const at = lines.findIndex((line) => line.startsWith('✗ Pooler'));
    expect(lines[at]).toMatch(REFUSAL);
    expect(lines[at]).toContain(`postgres://postgres:***@127.0.0.1:${transaction.port}/`);
    expect(lines[at + 1]).toMatch(new RegExp(`^ {2}fix: ${FIX.source}$`));
    expect(lines[at + 2]).toBe(
      '- auth, tables, storage, capture and realtime checks skipped: no session',
    );
    expect(lines[at - 2]).toMatch(/^✓ Connection/);
    expect(lines[at - 1]).toMatch(/^✓ Encryption {9}not encrypted \(a loopback host/);
    expect(code).toBe(1);
  });

  it('nudge start refuses with the same message before it creates or reads anything', async () => {
    const { code, err } = await nudge(['start'], transaction.url(db.name));
    const [message, hint] = err.split('\n');
    expect(message).toMatch(
      new RegExp(`^✗ postgres://postgres:\\*\\*\\*@127.0.0.1:\\d+/${db.name} ${REFUSAL.source}$`),
    );
    expect(hint).toMatch(new RegExp(`^ {2}hint: ${FIX.source}$`));
    expect(code).toBe(1);
    // Refused before the engine store was migrated.
    const [store] = await db.sql`select to_regnamespace('nudge_engine') as schema`;
    expect(store!.schema).toBeNull();
  });

  it('nudge doctor checks a separate engine store behind one too', async () => {
    const separate = await tempProject(
      { 'nudge.yaml': 'engine: { database_url: "${ENGINE_URL}" }\n' },
      'nudge-pooler-store-',
    );
    try {
      const { io, stdout } = memoryIo({
        cwd: separate,
        env: { DATABASE_URL: db.url, ENGINE_URL: transaction.url(db.name) },
      });
      const code = await run(['doctor'], io);
      const lines = stdout().split('\n');
      expect(lines).toContain(
        '✓ Pooler             sessions kept (a direct connection or a session pooler)',
      );
      const store = lines.findIndex((line) => line.startsWith('Engine store'));
      expect(lines[store]).toBe(
        `Engine store  postgres://postgres:***@127.0.0.1:${transaction.port}/${db.name}`,
      );
      expect(lines[store + 1]).toMatch(new RegExp(`^✗ Pooler {13}.*${REFUSAL.source}`));
      expect(lines[store + 2]).toMatch(new RegExp(`^ {2}fix: ${FIX.source}$`));
      expect(code).toBe(1);
    } finally {
      await rm(separate, { recursive: true, force: true });
    }
  });

  it('refuses a separate engine store behind one too', async () => {
    const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
    const engine = { ...project.config.engine, database_url: transaction.url(db.name) };
    const separate = { ...project, config: { ...project.config, engine } };
    await expect(launch(separate, { http: false, log: silentLog })).rejects.toThrow(REFUSAL);
  });
});

describe('through a session pooler', () => {
  let running: Running | undefined;
  afterAll(async () => {
    await running?.stop();
  });

  it('doctor, plan, deploy and the engine all work', async () => {
    const url = session.url(db.name);
    const doctor = await nudge(['doctor'], url);
    expect(doctor.lines).toContain(
      '✓ Pooler             sessions kept (a direct connection or a session pooler)',
    );
    expect(doctor.out).not.toMatch(/✗/);
    expect(doctor.code).toBe(0);

    const plan = await nudge(['plan'], url);
    expect(plan.out).toMatch(/\+ .*public\.orders/);
    expect(plan.code).toBe(0);
    const deploy = await nudge(['deploy', '--yes'], url);
    expect(deploy.err).toBe('');
    expect(deploy.code).toBe(0);
    const [trigger] = await db.sql`
      select count(*)::int as n from pg_trigger where tgrelid = 'public.orders'::regclass and not tgisinternal`;
    expect(trigger!.n).toBeGreaterThan(0);

    running = await launch(await loadConfig({ cwd, env: { DATABASE_URL: url } }), {
      http: true,
      log: silentLog,
      idleMs: 20,
    });
    const [user] =
      await db.sql`insert into auth.users (id, email) values (gen_random_uuid(), 'ada@example.com') returning id`;
    const [order] =
      await db.sql`insert into public.orders (user_id, status) values (${user!.id}, 'paid') returning id`;
    const request = await recorder.waitFor((r) => r.path === '/paid', 20_000);
    expect(request.json).toEqual({ order: Number(order!.id) });
    const run = await waitFor(async () => {
      const [row] =
        await db.sql`select status from nudge_engine.action_runs where feature = 'order-paid'`;
      return row?.status === 'succeeded' ? row : undefined;
    }, 'the action run to succeed');
    expect(run.status).toBe('succeeded');
  });
});
