// The whole runtime as `nudge start` runs it, on a test database: a committed
// row leads, through the outbox, the engine and the job runner, to exactly the
// webhook its feature defines (signed, delivered once); a Supabase Database
// Webhook posted to /ingest feeds the same engine; `nudge logs` shows it all.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../src/capture/deploy.js';
import { buildCaptureObjects } from '../../src/capture/triggers.js';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/load.js';
import { insertInbox } from '../../src/engine/intake/inbox.js';
import { launch, type Running } from '../../src/engine/wiring/launch.js';
import { checkFeatures } from '../../src/features/check.js';
import { loadFeatures } from '../../src/features/load.js';
import { silentLog } from '../../src/log.js';
import { readCatalog } from '../../src/source/catalog.js';
import { useDatabase } from '../harness/db.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';
import { waitFor } from '../harness/wait.js';

const db = useDatabase();
const SECRET = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
let recorder: Recorder;
let running: Running;
let cwd: string;

beforeAll(async () => {
  recorder = await startRecorder(() => ({ status: 200, body: { ok: true } }));
  await db.sql`create table public.orders (id bigserial primary key, user_id uuid references auth.users (id),
    status text not null default 'new', total numeric)`;
  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-runtime-'));
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  await writeFile(
    path.join(cwd, 'nudge.yaml'),
    `webhooks: { secret: "${SECRET}" }
server: { port: 0 }
engine: { partitions: 2 }
ingest: { secret: "${SECRET}" }
`,
  );
  await writeFile(
    path.join(cwd, 'nudge/features/order-paid.yaml'),
    `name: order-paid
trigger:
  table: public.orders
  on: [insert, update]
  when: { new.status: eq.paid }
contact: { id: new.user_id }
stages:
  - name: notified
    do:
      - webhook:
          url: "${recorder.url}/orders"
          body: { order: "{{ new.id }}", total: "{{ new.total }}", email: "{{ contact.email }}" }
`,
  );
  // Two more features on the table, which these tests' rows never match.
  for (const [name, when] of [
    ['order-refunded', '{ new.status: eq.refunded }'],
    ['order-big', '{ new.total: gt.1000 }'],
  ]) {
    await writeFile(
      path.join(cwd, `nudge/features/${name}.yaml`),
      `name: ${name}
trigger: { table: public.orders, on: [insert, update], when: ${when} }
contact: { id: new.user_id }
stages:
  - name: notified
    do:
      - webhook: { url: "${recorder.url}/${name}" }
`,
    );
  }
  const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
  const features = await loadFeatures(project.featuresDir, project.env, cwd);
  await deploy(db.sql, buildCaptureObjects(checkFeatures(features, await readCatalog(db.sql))));
  running = await launch(project, { http: true, log: silentLog, idleMs: 20 });
});

afterAll(async () => {
  await running?.stop();
  await recorder?.close();
});

describe('nudge start', () => {
  it('turns a committed row into exactly the webhook its feature defines', async () => {
    const [user] =
      await db.sql`insert into auth.users (id, email) values (gen_random_uuid(), 'ada@example.com') returning id`;
    const [order] =
      await db.sql`insert into public.orders (user_id, total) values (${user!.id}, 42) returning id`;
    await db.sql`update public.orders set status = 'paid' where id = ${order!.id}`;
    const request = await recorder.waitFor((r) => r.path === '/orders', 20_000);
    expect(request.json).toEqual({ order: Number(order!.id), total: 42, email: 'ada@example.com' });
    const verified = new Webhook(SECRET).verify(request.body, {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    });
    expect(verified).toEqual(request.json);
    const run = await waitFor(async () => {
      const [row] =
        await db.sql`select status, attempts from nudge_engine.action_runs where feature = 'order-paid'`;
      return row?.status === 'succeeded' ? row : undefined;
    }, 'the run to succeed');
    expect(run.attempts).toBe(1);
    expect(recorder.requests.filter((r) => r.path === '/orders')).toHaveLength(1);
  });

  it('accepts a Supabase Database Webhook on /ingest and runs the same feature', async () => {
    const [user] =
      await db.sql`insert into auth.users (id, email) values (gen_random_uuid(), 'grace@example.com') returning id`;
    const { secrets } = await import('../../src/server/ingest-secrets.js').then(async (m) => ({
      secrets: await m.resolveIngestSecrets(
        running.store.sql,
        await loadConfig({ cwd, env: { DATABASE_URL: db.url } }),
      ),
    }));
    const payload = {
      type: 'UPDATE',
      table: 'orders',
      schema: 'public',
      record: { id: 999, user_id: user!.id, status: 'paid', total: 7 },
      old_record: { id: 999, user_id: user!.id, status: 'new', total: 7 },
    };
    const response = await fetch(`${running.url}/ingest`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-nudge-secret': secrets.shared },
      body: JSON.stringify(payload),
    });
    expect(response.status).toBe(202);
    const request = await recorder.waitFor(
      (r) => r.path === '/orders' && (r.json as { order?: number })?.order === 999,
      20_000,
    );
    expect(request.json).toEqual({ order: 999, total: 7, email: 'grace@example.com' });
  });

  it('shows every decision in nudge logs', async () => {
    const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
    expect(await run(['logs', '--feature', 'order-paid'], m.io)).toBe(0);
    const out = m.stdout();
    expect(out).toMatch(/order-paid\s+ada@example\.com\s+matched\s+trigger matched/);
    expect(out).toMatch(
      /order-paid\s+ada@example\.com\s+action\s+stage notified: webhook queued\n/,
    );
    expect(out).toMatch(/order-paid\s+ada@example\.com\s+attempt\s+webhook attempt 1 succeeded/);
    expect(out).toMatch(/order-paid\s+grace@example\.com\s+completed/);
  });

  it('logs why each other feature skipped an event, in one row per event', async () => {
    const rows = await db.sql<{ inbox_id: string; detail: { skipped: Record<string, string> } }[]>`
      select inbox_id, detail from nudge_engine.decisions
       where outcome = 'skipped' and feature is null order by id`;
    // Ada's order paid (captured) and Grace's through /ingest: the two other
    // features skipped each, together.
    expect(rows).toHaveLength(2);
    expect(rows[0]!.detail.skipped).toEqual({
      'order-refunded': 'trigger condition false: new.status eq.refunded was false (value "paid")',
      'order-big': 'trigger condition false: new.total gt.1000 was false (value 42)',
    });
    const m = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
    expect(await run(['logs', '--feature', 'order-big'], m.io)).toBe(0);
    const lines = m.stdout().trim().split('\n');
    expect(lines.length).toBe(rows.length);
    // --limit counts lines: the newest row here stands for two.
    await db.sql`insert into nudge_engine.decisions (feature, outcome, reason, detail)
      values (null, 'skipped', '2 features skipped',
              '{"skipped": {"order-big": "feature paused", "order-refunded": "feature paused"}}')`;
    const one = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
    expect(await run(['logs', '--limit', '1'], one.io)).toBe(0);
    expect(one.stdout().trim().split('\n')).toEqual([
      'Showing the last 1 line: --limit 5 shows more; --since, --feature, --contact and --outcome narrow them.',
      expect.stringMatching(/order-refunded\s+-\s+skipped\s+feature paused$/),
    ]);
    // No contact was looked up for these: the line names the event instead.
    for (const line of lines) {
      expect(line).toMatch(
        /order-big\s+(insert|update) on public\.orders\s+skipped\s+trigger condition false: new\.total gt\.1000/,
      );
    }
  });

  it('finds inbox rows nobody announced, by polling, also after a quiet spell', async () => {
    const [user] =
      await db.sql`insert into auth.users (id, email) values (gen_random_uuid(), 'lin@example.com') returning id`;
    // Let every lane find nothing a few times: an idle lane looks before it takes a transaction.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const order = { id: 777, user_id: user!.id, status: 'paid', total: 3 };
    // Written straight into the inbox: no NOTIFY, no bell.
    await insertInbox(
      db.sql,
      [
        {
          source: 'api',
          sourceKey: 'unannounced-777',
          schema: 'public',
          table: 'orders',
          operation: 'insert',
          newRow: order,
          occurredAt: new Date(),
        },
      ],
      () => 1,
    );
    const request = await recorder.waitFor(
      (r) => r.path === '/orders' && (r.json as { order?: number })?.order === 777,
      20_000,
    );
    expect(request.json).toEqual({ order: 777, total: 3, email: 'lin@example.com' });
  });
});
