// capture: webhook end to end: the real generated trigger SQL, the pg_net
// stand-in and its forwarder, POST /ingest, the engine inbox; and pg_net's
// gaps closed by reconcile: a 500, a hang, a lost request → failed_events and
// one re-delivery, never two inbox rows.
import type postgres from 'postgres';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../src/capture/deploy.js';
import { makePlan } from '../../src/capture/plan.js';
import { readCaptureState } from '../../src/capture/state.js';
import {
  installSigningSecret,
  reconcileWebhookDeliveries,
  resolveWebhookBody,
  signingSecretState,
} from '../../src/capture/transports/webhook/index.js';
import {
  buildCaptureObjects,
  type CaptureNeed,
  type TriggerBody,
} from '../../src/capture/triggers.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { literal } from '../../src/db/quote.js';
import { PAST, restartSequencesPast, useDatabase } from '../harness/db.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';
import { type Forwarder, installPgNetStandIn, makeForwarder } from '../harness/pg-net.js';
import { onlyRollback } from '../harness/rollback.js';
import { post, startTestServer, type TestServer, testProject } from './helpers.js';

const db = useDatabase();
const orders = { schema: 'public', table: 'orders' };
const items = { schema: 'my-app', table: 'Order Items' };
const payments = { schema: 'public', table: 'payments' };
let nudge: TestServer;
let recorder: Recorder;
let net: Forwarder;
let secret: string;
let toNudge: TriggerBody;
let toRecorder: TriggerBody;

const needs = (): CaptureNeed[] => [
  { table: orders, operation: 'insert', by: 'order-placed' },
  {
    table: orders,
    operation: 'update',
    by: 'order-paid',
    filter: (row) => `${row.new('status')} IS DISTINCT FROM ${row.old('status')}`,
  },
  { table: orders, operation: 'delete', by: 'order-deleted' },
  {
    table: items,
    operation: 'insert',
    by: "it's-odd",
    filter: (row) => `${row.new('select')} <> ${literal('skip')}`,
  },
];
const route = () => 0;
const OPS = ['insert', 'update', 'delete'];

async function deployAll() {
  const objects = [
    ...buildCaptureObjects(needs(), { body: toNudge }),
    ...buildCaptureObjects([{ table: payments, operation: 'insert', by: 'payment' }], {
      body: toRecorder,
    }),
  ];
  return deploy(db.sql, objects);
}

async function inbox(table: string) {
  return db.sql<
    {
      source_key: string;
      operation: string;
      new_row: Record<string, unknown> | null;
      old_row: Record<string, unknown> | null;
    }[]
  >`
    select source_key, operation, new_row, old_row from nudge_engine.inbox where table_name = ${table} order by id`;
}

const count = async (sql: postgres.Sql, table: string) =>
  (await sql<{ n: number }[]>`select count(*)::int as n from ${sql.unsafe(table)}`)[0]!.n;

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  await installPgNetStandIn(db.sql);
  await db.sql.unsafe(`
    CREATE TABLE public.orders (id serial PRIMARY KEY, total numeric, status text NOT NULL DEFAULT 'new');
    CREATE TABLE public.payments (id serial PRIMARY KEY, amount int);
    CREATE SCHEMA "my-app";
    CREATE TABLE "my-app"."Order Items" (id serial PRIMARY KEY, "select" text, "Quote""d" int,
      n int, i int, r text, c text, e text)`);
  nudge = await startTestServer(db.sql, await testProject());
  secret = nudge.server.secrets.signing[0]!;
  recorder = await startRecorder();
  toNudge = await resolveWebhookBody(db.sql, { url: nudge.ingest, timeout_ms: 5000 });
  toRecorder = await resolveWebhookBody(db.sql, {
    url: `${recorder.url}/ingest`,
    timeout_ms: 400,
  });
  net = makeForwarder(db.sql);
});
afterAll(async () => {
  await nudge?.close();
  await recorder?.close();
});

describe('plan and deploy', () => {
  it('plans the webhook tables and triggers, installs the key, and then has nothing to do', async () => {
    const plan = makePlan(
      buildCaptureObjects(needs(), { body: toNudge }),
      await readCaptureState(db.sql),
    );
    const schema = plan.items.find((i) => i.kind === 'schema')!;
    expect(schema.sql.join('\n')).toContain('CREATE TABLE IF NOT EXISTS nudge.webhook_deliveries');
    expect(plan.items.find((i) => i.subject === 'public.orders insert')!.detail).toBe(
      'statement trigger · webhook via pg_net · used by order-placed',
    );
    // The plan's SQL never carries the signing secret; pgcrypto is found where Supabase keeps it.
    const text = plan.items.flatMap((i) => i.sql).join('\n');
    expect(text).toContain('"extensions".hmac(');
    expect(text).not.toContain(secret.slice(6));

    await deployAll();
    // Deliveries are one per statement: their ids pass 2^31 on a busy app,
    // so every test here runs past it (they were read as int4 once).
    expect(await restartSequencesPast(db.sql, PAST)).toContain('nudge.webhook_deliveries_id_seq');
    expect(await signingSecretState(db.sql, secret)).toBe('missing');
    expect(await installSigningSecret(db.sql, secret)).toBe(true);
    expect(await installSigningSecret(db.sql, secret)).toBe(false);
    expect(await signingSecretState(db.sql, secret)).toBe('current');
    expect((await deployAll()).plan.hasChanges).toBe(false);
  });

  it('replaces the triggers when the transport or its URL changes (the hash covers the body)', async () => {
    const outbox = makePlan(buildCaptureObjects(needs()), await readCaptureState(db.sql));
    expect(outbox.items.find((i) => i.subject === 'public.orders insert')).toMatchObject({
      action: 'replace',
      detail: 'statement trigger · used by order-placed · definition changed',
    });
    const moved = await resolveWebhookBody(db.sql, {
      url: `${nudge.ingest}?v=2`,
      timeout_ms: 5000,
    });
    const plan = makePlan(
      buildCaptureObjects(needs(), { body: moved }),
      await readCaptureState(db.sql),
    );
    expect(plan.items.filter((i) => i.action === 'replace').map((i) => i.subject)).toEqual(
      expect.arrayContaining([
        'public.orders insert',
        'public.orders update',
        'public.orders delete',
      ]),
    );
  });
});

describe('delivery', () => {
  it('sends committed changes, signed, through pg_net to /ingest and into the inbox', async () => {
    await db.sql`insert into orders (total) values (10), (20)`;
    const [order] = await db.sql<{ id: number }[]>`select min(id) as id from orders`;
    await db.sql`update orders set total = 10 where id = ${order!.id}`; // filtered out
    await db.sql`update orders set status = 'paid' where id = ${order!.id}`;
    await db.sql`delete from orders where id = ${order!.id}`;
    await db.sql.unsafe(
      `INSERT INTO "my-app"."Order Items" ("select", "Quote""d", n, i) VALUES ('it''s', 1, 7, 8), ('skip', 2, 0, 0)`,
    );
    expect(await net.drain()).toBe(4);

    // pg_net sends a batch of requests concurrently: arrival order is not
    // capture order.
    const rows = (await inbox('orders')).sort(
      (a, b) =>
        OPS.indexOf(a.operation) - OPS.indexOf(b.operation) ||
        a.source_key.localeCompare(b.source_key),
    );
    expect(
      rows.map((r) => [
        r.operation,
        r.new_row?.total ?? r.old_row?.total,
        r.old_row?.status ?? null,
        r.new_row?.status ?? null,
      ]),
    ).toEqual([
      ['insert', 10, null, 'new'],
      ['insert', 20, null, 'new'],
      ['update', 10, 'new', 'paid'],
      ['delete', 10, 'paid', null],
    ]);
    expect(rows[1]!.source_key).toMatch(/^msg_[0-9a-f]{32}:1$/);
    const odd = await inbox('Order Items');
    expect(odd.map((r) => r.new_row)).toEqual([
      expect.objectContaining({ select: "it's", 'Quote"d': 1, n: 7, i: 8 }),
    ]);

    const result = await reconcileWebhookDeliveries(db.sql, db.sql, route);
    expect(result).toEqual({ delivered: 4, failed: 0, redelivered: 0, events: 0 });
    expect(await count(db.sql, 'nudge.webhook_deliveries')).toBe(0);
    expect(await count(db.sql, 'nudge.failed_events')).toBe(0);
  });

  it('sends a large statement in chunks of 100 rows, every row once and in order', async () => {
    await db.sql`insert into orders (total) select g from generate_series(1, 250) g`;
    expect(await net.drain()).toBe(3);
    const totals = (await inbox('orders')).slice(-250).map((r) => Number(r.new_row?.total));
    expect(totals.sort((a, b) => a - b)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    expect(await reconcileWebhookDeliveries(db.sql, db.sql, route)).toMatchObject({ delivered: 3 });
  });

  it('sends nothing for a rolled-back write, and nothing before commit', async () => {
    const before = (await inbox('orders')).length;
    await db.sql
      .begin(async (tx) => {
        await tx`insert into orders (total) values (99)`;
        throw new Error('roll back');
      })
      .catch(onlyRollback('roll back'));
    expect(await net.drain()).toBe(0);

    await db.sql.begin(async (tx) => {
      await tx`insert into orders (total) values (100)`;
      expect(await net.drain()).toBe(0); // the forwarder cannot see an uncommitted request
    });
    expect(await net.drain()).toBe(1);
    const after = await inbox('orders');
    expect(after.slice(before).map((r) => r.new_row?.total)).toEqual([100]);
    expect(await count(db.sql, 'nudge.webhook_deliveries')).toBe(1);
    await reconcileWebhookDeliveries(db.sql, db.sql, route);
  });

  it('never fails the write: without a signing key the rows go to failed_events and nothing is sent', async () => {
    await db.sql`delete from nudge.webhook_signing`;
    try {
      const [row] = await db.sql`insert into orders (total) values (7) returning id`;
      expect(row!.id).toBeDefined();
      expect(await net.drain()).toBe(0);
      const [failed] = await db.sql<
        { stage: string; message: string; new_row: { total: number } }[]
      >`
        select stage, message, new_row from nudge.failed_events order by id desc limit 1`;
      expect(failed).toMatchObject({ stage: 'capture', new_row: { total: 7 } });
      expect(failed!.message).toMatch(/no webhook signing key/);
      expect(await count(db.sql, 'nudge.webhook_deliveries')).toBe(0);
    } finally {
      await installSigningSecret(db.sql, secret);
      await db.sql`delete from nudge.failed_events`;
    }
  });
});

describe('reconcile: pg_net does not retry, Nudge does', () => {
  async function dispatchFailures() {
    return db.sql<
      {
        message: string;
        new_row: { amount: number };
        webhook_id: string;
        resolved: boolean;
        attempts: number;
      }[]
    >`
      select message, new_row, webhook_id, resolved_at is not null as resolved, attempts
        from nudge.failed_events where stage = 'dispatch' order by id`;
  }

  it('records a 500 in failed_events and re-delivers the batch into the inbox exactly once', async () => {
    recorder.failNext(1, 500);
    await db.sql`insert into payments (amount) values (500)`;
    expect(await net.drain()).toBe(1);
    const sent = await recorder.waitFor((r) => r.path === '/ingest');
    // What the trigger signed in SQL verifies with the Standard Webhooks library.
    expect(
      new Webhook(secret).verify(sent.body, sent.headers as Record<string, string>),
    ).toMatchObject({ table: 'payments' });

    const result = await reconcileWebhookDeliveries(db.sql, db.sql, route);
    expect(result).toEqual({ delivered: 0, failed: 1, redelivered: 1, events: 1 });
    const [failure] = await dispatchFailures();
    expect(failure).toMatchObject({
      message: 'webhook delivery failed: HTTP 500',
      new_row: { amount: 500 },
      resolved: true,
      attempts: 1,
    });
    expect((await inbox('payments')).map((r) => [r.source_key, r.new_row?.amount])).toEqual([
      [`${sent.headers['webhook-id']}:0`, 500],
    ]);

    // Again, and the original request replayed against /ingest: still one row.
    expect(await reconcileWebhookDeliveries(db.sql, db.sql, route)).toEqual({
      delivered: 0,
      failed: 0,
      redelivered: 0,
      events: 0,
    });
    const replay = await post(nudge.ingest, sent.body, sent.headers as Record<string, string>);
    expect(replay.json).toEqual({ received: 1, new: 0 });
    expect(await inbox('payments')).toHaveLength(1);
  });

  it('re-delivers a request that timed out (the endpoint hung)', async () => {
    recorder.failNext(1, 'hang');
    await db.sql`insert into payments (amount) values (408)`;
    expect(await net.drain()).toBe(1);
    const [response] = await db.sql<{ timed_out: boolean }[]>`
      select timed_out from net._http_response order by created desc limit 1`;
    expect(response!.timed_out).toBe(true);
    expect(await reconcileWebhookDeliveries(db.sql, db.sql, route)).toMatchObject({
      failed: 1,
      redelivered: 1,
      events: 1,
    });
    const failures = await dispatchFailures();
    expect(failures.at(-1)).toMatchObject({
      message: 'webhook delivery failed: timed out (pg_net)',
      new_row: { amount: 408 },
    });
    expect((await inbox('payments')).map((r) => r.new_row?.amount)).toEqual([500, 408]);
  });

  it('re-delivers a request with no response by the deadline; a late arrival is stored once', async () => {
    await db.sql`insert into orders (total) values (555)`;
    const early = await reconcileWebhookDeliveries(db.sql, db.sql, route, { deadlineMs: 60_000 });
    expect(early).toEqual({ delivered: 0, failed: 0, redelivered: 0, events: 0 });
    const late = await reconcileWebhookDeliveries(db.sql, db.sql, route, { deadlineMs: 0 });
    expect(late).toEqual({ delivered: 0, failed: 1, redelivered: 1, events: 1 });
    expect((await dispatchFailures()).at(-1)!.message).toMatch(/no response from pg_net within 0s/);
    // pg_net sends it after all: /ingest accepts it and stores nothing new.
    expect(await net.drain()).toBe(1);
    const [response] = await db.sql<{ status_code: number; content: string }[]>`
      select status_code, content from net._http_response order by created desc limit 1`;
    expect(response!.status_code).toBe(202);
    expect(JSON.parse(response!.content)).toEqual({ received: 1, new: 0 });
    expect((await inbox('orders')).filter((r) => r.new_row?.total === 555)).toHaveLength(1);
  });
});

describe('privileges', () => {
  it('keeps the signing key and deliveries away from anon and authenticated, yet captures their writes', async () => {
    for (const role of ['anon', 'authenticated']) {
      const [access] = await db.sql<{ key: boolean; deliveries: boolean }[]>`
        select has_table_privilege(${role}, 'nudge.webhook_signing', 'SELECT') as key,
               has_table_privilege(${role}, 'nudge.webhook_deliveries', 'SELECT') as deliveries`;
      expect(access).toEqual({ key: false, deliveries: false });
      await expect(
        db.sql.begin(async (tx) => {
          await tx.unsafe(`SET LOCAL ROLE ${role}`);
          await tx`select signing_key from nudge.webhook_signing`;
        }),
      ).rejects.toThrow(/permission denied/);
    }
    await db.sql`grant insert on payments to authenticated`;
    await db.sql`grant usage on sequence payments_id_seq to authenticated`;
    recorder.respondWith({ status: 202, body: { received: 1, new: 1 } });
    await db.sql.begin(async (tx) => {
      await tx`set local role authenticated`;
      await tx`insert into payments (amount) values (42)`;
    });
    expect(await net.drain()).toBe(1);
    const sent = await recorder.waitFor(
      (r) => (r.json as { new_rows?: { amount: number }[] })?.new_rows?.[0]?.amount === 42,
    );
    expect(sent.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
  });
});
