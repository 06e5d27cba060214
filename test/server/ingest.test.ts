// POST /ingest against a real engine store: every status it answers, the
// idempotence of webhook-ids, Supabase Database Webhooks with the shared
// secret, named events, the stored ingest secret, /health and /metrics.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateEngine } from '../../src/db/migrate.js';
import { getSecret } from '../../src/db/secrets.js';
import { ingestSecret } from '../../src/server/index.js';
import { useDatabase } from '../harness/db.js';
import { post, signed, startTestServer, type TestServer, testProject } from './helpers.js';

const db = useDatabase();
const LIMIT = 4096;
let nudge: TestServer;
let secret: string;

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  const project = await testProject((config) => {
    config.ingest.max_body_bytes = LIMIT;
  });
  nudge = await startTestServer(db.sql, project);
  secret = nudge.server.secrets.signing[0]!;
});
afterAll(async () => {
  await nudge?.close();
});

const batch = (rows: unknown[], extra: object = {}) =>
  JSON.stringify({
    schema: 'public',
    table: 'orders',
    operation: 'insert',
    new_rows: rows,
    old_rows: null,
    enrichment: null,
    captured_at: '2025-01-02T03:04:05.678901+00:00',
    ...extra,
  });

async function inbox(prefix: string) {
  return db.sql<
    {
      source: string;
      source_key: string;
      operation: string | null;
      event_name: string | null;
      new_row: unknown;
      old_row: unknown;
      occurred_at: Date;
    }[]
  >`select source, source_key, operation, event_name, new_row, old_row, occurred_at
      from nudge_engine.inbox where source_key like ${`${prefix}%`} order by id`;
}

describe('POST /ingest with Standard Webhooks signatures', () => {
  it('accepts a capture batch: 202, one inbox row per row, the engine woken', async () => {
    const body = batch([
      { id: 1, total: 10 },
      { id: 2, total: 20 },
    ]);
    const res = await post(nudge.ingest, body, signed(secret, body, { id: 'msg_accept' }));
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ received: 2, new: 2 });
    const rows = await inbox('msg_accept');
    expect(rows.map((r) => [r.source, r.source_key, r.operation, r.new_row, r.old_row])).toEqual([
      ['webhook', 'msg_accept:0', 'insert', { id: 1, total: 10 }, null],
      ['webhook', 'msg_accept:1', 'insert', { id: 2, total: 20 }, null],
    ]);
    expect(rows[0]!.occurred_at.toISOString()).toBe('2025-01-02T03:04:05.678Z');
    expect(nudge.wakes()).toBeGreaterThan(0);
  });

  it('keeps a bigint over 2^53 and a long numeric digit for digit', async () => {
    const body = `{"schema":"public","table":"orders","operation":"insert","old_rows":null,"enrichment":null,"captured_at":"2025-01-02T03:04:05Z","new_rows":[{"id":9007199254740993,"total":12345678901234567.25}]}`;
    const res = await post(nudge.ingest, body, signed(secret, body, { id: 'msg_big' }));
    expect(res.status).toBe(202);
    const [row] = await db.sql<{ id: string; total: string }[]>`
      select new_row->>'id' as id, new_row->>'total' as total
        from nudge_engine.inbox where source_key = 'msg_big:0'`;
    expect(row).toEqual({ id: '9007199254740993', total: '12345678901234567.25' });
    // A long number with a leading zero is not JSON: the 400, as JSON.parse says.
    const bad = body.replace('9007199254740993', '012345678901234567');
    const refused = await post(nudge.ingest, bad, signed(secret, bad, { id: 'msg_big_bad' }));
    expect(refused.status).toBe(400);
    expect((refused.json as { error: string }).error).toBe('malformed_json');
  });

  it('stores a reused webhook-id once and does not wake the engine for it', async () => {
    const body = batch([{ id: 3 }]);
    const first = await post(nudge.ingest, body, signed(secret, body, { id: 'msg_twice' }));
    const wakes = nudge.wakes();
    const second = await post(nudge.ingest, body, signed(secret, body, { id: 'msg_twice' }));
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(second.json).toEqual({ received: 1, new: 0 });
    expect(await inbox('msg_twice')).toHaveLength(1);
    expect(nudge.wakes()).toBe(wakes);
  });

  it('refuses missing, partial and wrong signatures with 401', async () => {
    const body = batch([{ id: 4 }]);
    const none = await post(nudge.ingest, body, { 'content-type': 'application/json' });
    expect(none.status).toBe(401);
    expect(none.json.error).toBe('missing_signature');

    const { 'webhook-signature': _, ...partial } = signed(secret, body);
    const half = await post(nudge.ingest, body, partial);
    expect(half.status).toBe(401);
    expect(half.json).toEqual({
      error: 'missing_signature',
      detail: 'missing header webhook-signature',
    });

    const other = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const wrongKey = await post(nudge.ingest, body, signed(other, body, { id: 'msg_wrong' }));
    expect(wrongKey.status).toBe(401);
    expect(wrongKey.json.error).toBe('bad_signature');

    const altered = await post(
      nudge.ingest,
      batch([{ id: 5 }]),
      signed(secret, body, { id: 'msg_altered' }),
    );
    expect(altered.status).toBe(401);
    expect(altered.json.error).toBe('bad_signature');
    expect(await inbox('msg_wrong')).toHaveLength(0);
    expect(await inbox('msg_altered')).toHaveLength(0);
    expect(wrongKey.text).not.toContain(secret.slice(6, 20));
  });

  it('refuses timestamps more than 5 minutes old or in the future with 401', async () => {
    const body = batch([{ id: 6 }]);
    const old = await post(
      nudge.ingest,
      body,
      signed(secret, body, { at: new Date(Date.now() - 6 * 60_000) }),
    );
    expect(old.status).toBe(401);
    expect(old.json.error).toBe('stale_timestamp');
    expect(old.json.detail).toMatch(/^webhook-timestamp is 3\d\ds old/);
    const future = await post(
      nudge.ingest,
      body,
      signed(secret, body, { at: new Date(Date.now() + 6 * 60_000) }),
    );
    expect(future.status).toBe(401);
    expect(future.json.detail).toMatch(/in the future/);
    const recent = await post(
      nudge.ingest,
      body,
      signed(secret, body, { at: new Date(Date.now() - 4 * 60_000) }),
    );
    expect(recent.status).toBe(202);
  });

  it('refuses bodies over ingest.max_body_bytes with 413, declared or streamed', async () => {
    const big = batch([{ blob: 'x'.repeat(LIMIT) }]);
    const declared = await post(nudge.ingest, big, signed(secret, big));
    expect(declared.status).toBe(413);
    expect(declared.json.error).toBe('payload_too_large');

    // Chunked: no Content-Length, so only counting the stream can catch it.
    const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(nudge.ingest, { method: 'POST', headers: signed(secret, big) }, (res) => {
        let text = '';
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      for (let i = 0; i < big.length; i += 1000) req.write(big.slice(i, i + 1000));
      req.end();
    });
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body).error).toBe('payload_too_large');
  });

  it('answers 400 with the parser’s reason for a body that is not JSON', async () => {
    const body = '{"schema": "public", "table": ';
    const res = await post(nudge.ingest, body, signed(secret, body));
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('malformed_json');
    expect(res.json.detail).toMatch(/^body is not JSON: .*(JSON|end)/);
  });

  it('answers 422 naming the field for JSON of an unknown or invalid shape', async () => {
    const cases: [string, string, RegExp][] = [
      ['{"hello": "world"}', 'unknown_shape', /unknown payload shape \(fields: hello\)/],
      ['[1, 2]', 'unknown_shape', /\(body\): expected a JSON object/],
      [
        batch([{ id: 1 }], { operation: 'upsert' }),
        'invalid_payload',
        // The value given is not repeated: a captured row is the app's data, and the detail is logged.
        /^operation: expected insert, update or delete$/,
      ],
      [batch([7]), 'invalid_payload', /^new_rows\[0\]: expected a row/],
      [
        JSON.stringify({ type: 'TRUNCATE', table: 't', schema: 'public', record: null }),
        'invalid_payload',
        /^type: expected INSERT, UPDATE or DELETE/,
      ],
      [JSON.stringify({ event: '' }), 'invalid_payload', /^event: /],
    ];
    for (const [body, code, detail] of cases) {
      const res = await post(nudge.ingest, body, signed(secret, body));
      expect(res.status, body).toBe(422);
      expect(res.json.error, body).toBe(code);
      expect(res.json.detail, body).toMatch(detail);
    }
  });

  it('accepts a named event', async () => {
    const body = JSON.stringify({
      event: 'order_placed',
      occurred_at: '2025-03-01T10:00:00Z',
      order_id: 9,
      email: 'a@b.co',
    });
    const res = await post(nudge.ingest, body, signed(secret, body, { id: 'msg_event' }));
    expect(res.status).toBe(202);
    const [row] = await inbox('msg_event');
    expect(row).toMatchObject({
      source_key: 'msg_event',
      event_name: 'order_placed',
      new_row: { order_id: 9, email: 'a@b.co' },
    });
    expect(row!.occurred_at.toISOString()).toBe('2025-03-01T10:00:00.000Z');
  });
});

describe('POST /ingest from Supabase Database Webhooks (shared secret)', () => {
  const hook = JSON.stringify({
    type: 'UPDATE',
    table: 'profiles',
    schema: 'public',
    record: { id: 'u1', plan: 'pro' },
    old_record: { id: 'u1', plan: 'free' },
  });

  it('accepts the payload with x-nudge-secret or Authorization: Bearer', async () => {
    const shared = nudge.server.secrets.shared;
    const byHeader = await post(nudge.ingest, hook, {
      'content-type': 'application/json',
      'x-nudge-secret': shared,
      'idempotency-key': 'sb-1',
    });
    expect(byHeader.status).toBe(202);
    expect(byHeader.json).toEqual({ received: 1, new: 1 });
    const byBearer = await post(nudge.ingest, hook, {
      'content-type': 'application/json',
      authorization: `Bearer ${shared}`,
      'idempotency-key': 'sb-2',
    });
    expect(byBearer.status).toBe(202);
    const rows = await inbox('sb-');
    expect(rows.map((r) => [r.source_key, r.operation, r.new_row, r.old_row])).toEqual([
      ['sb-1', 'update', { id: 'u1', plan: 'pro' }, { id: 'u1', plan: 'free' }],
      ['sb-2', 'update', { id: 'u1', plan: 'pro' }, { id: 'u1', plan: 'free' }],
    ]);
    // Without an Idempotency-Key each webhook is its own delivery.
    const plain = await post(nudge.ingest, hook, {
      'content-type': 'application/json',
      'x-nudge-secret': shared,
    });
    expect(plain.json).toEqual({ received: 1, new: 1 });
  });

  it('refuses it without the shared secret or with a wrong one, never echoing it', async () => {
    const none = await post(nudge.ingest, hook, { 'content-type': 'application/json' });
    expect(none.status).toBe(401);
    const wrong = await post(nudge.ingest, hook, {
      'content-type': 'application/json',
      'x-nudge-secret': 'guess-123456',
      'idempotency-key': 'sb-wrong',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toEqual({
      error: 'bad_secret',
      detail:
        'the shared secret does not match (`nudge secret shared` prints it; the whsec_ secret signs, it is not sent)',
    });
    expect(wrong.text).not.toContain('guess-123456');
    expect(wrong.text).not.toContain(nudge.server.secrets.shared);
    // The signing secret is not a shared secret.
    const signingAsBearer = await post(nudge.ingest, hook, { authorization: `Bearer ${secret}` });
    expect(signingAsBearer.status).toBe(401);
    expect(await inbox('sb-wrong')).toHaveLength(0);
    // The right secret beside a webhook-id: the request reads as signed, and says so.
    const mixed = await post(nudge.ingest, hook, {
      'content-type': 'application/json',
      'x-nudge-secret': nudge.server.secrets.shared,
      'webhook-id': 'sb-mixed',
    });
    expect([mixed.status, mixed.json]).toEqual([
      401,
      {
        error: 'missing_signature',
        detail:
          'missing header webhook-timestamp, webhook-signature; a webhook-* header makes it a signed request (Standard Webhooks), so the shared secret sent is not read: sign it, or drop the webhook-* headers and name the delivery with idempotency-key',
      },
    ]);
    expect(mixed.text).not.toContain(nudge.server.secrets.shared);
  });
});

describe('secrets, health and metrics', () => {
  it('generates the ingest secret once and keeps it encrypted in the engine store', async () => {
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const [row] = await db.sql<{ ciphertext: Buffer }[]>`
      select ciphertext from nudge_engine.secrets where name = 'ingest'`;
    expect(row!.ciphertext.toString('latin1')).not.toContain(secret.slice(6, 16));
    // A second server over the same store with another master key cannot read it.
    const project = await testProject();
    await expect(ingestSecret(db.sql, project, { key: Buffer.alloc(32, 7) })).rejects.toThrow(
      /secret "ingest" cannot be decrypted/,
    );
    const configured = await testProject((config) => {
      config.ingest.secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    });
    expect(await ingestSecret(db.sql, configured, { key: Buffer.alloc(32, 7) })).toEqual({
      secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      from: 'config',
    });
    expect(
      await getSecret(db.sql, 'ingest-shared', { key: Buffer.alloc(32, 7) }).catch(
        () => 'unreadable',
      ),
    ).toBe('unreadable');
  });

  it('reports health and counts accepted and rejected requests by reason', async () => {
    const health = await fetch(`${nudge.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true, engine_store: 'ok' });
    const missing = await fetch(`${nudge.url}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'not_found', detail: 'no route for GET /nope' });

    const metrics = await (await fetch(`${nudge.url}/metrics`)).text();
    expect(metrics).toMatch(/nudge_ingest_accepted_total\{shape="capture"\} [1-9]/);
    expect(metrics).toMatch(/nudge_ingest_accepted_total\{shape="supabase"\} [1-9]/);
    expect(metrics).toMatch(/nudge_ingest_rejected_total\{reason="stale_timestamp"\} 2/);
    expect(metrics).toMatch(/nudge_ingest_rejected_total\{reason="payload_too_large"\} 2/);
    expect(metrics).toMatch(/nudge_ingest_rejected_total\{reason="bad_signature"\} 2/);
    expect(metrics).toMatch(/nudge_ingest_rows_total\{stored="duplicate"\} 1/);
  });
});
