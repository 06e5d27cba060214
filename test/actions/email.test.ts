// Email through the real worker: Resend (a local stand-in recording the
// requests), SMTP (a real SMTP server), and the dev mailbox; templates with
// contact/new/enrichment variables; retries and permanent failures.
import type { Runner } from 'graphile-worker';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageIdFor } from '../../src/actions/smtp.js';
import type { TemplateContext } from '../../src/actions/types.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { useDatabase } from '../harness/db.js';
import { type RecordedRequest, type Recorder, startRecorder } from '../harness/http-recorder.js';
import { type SmtpRecorder, startSmtpServer } from '../harness/smtp.js';
import {
  enqueue,
  expectNoSecretLeaks,
  makeEnv,
  makeProject,
  newRun,
  nextAttempt,
  SECRETS,
  startWorker,
  uniqueKey,
  waitForRun,
} from './setup.js';

const db = useDatabase();
let sql: postgres.Sql;
let resend: Recorder;
let smtp: SmtpRecorder;
let env: ReturnType<typeof makeEnv>;
let runner: Runner;

const context: Partial<TemplateContext> = {
  contact: { email: 'ada@example.com', first_name: 'Ada' },
  new: { id: 'order-7', total: 42 },
  enrichment: { profile: { plan: 'pro' } },
};

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  sql = postgres(db.url, { onnotice: () => {}, max: 6 });
  // Non-transactional email goes to contacts (found by address): its links name one.
  await sql`insert into nudge_engine.contacts (email)
            values ('ada@example.com'), ('grace@example.com'), ('nobody@example.com')`;
  resend = await startRecorder();
  smtp = await startSmtpServer({ user: 'mailer', password: SECRETS.SMTP_PASSWORD });
  const smtpUrl = smtp.url.replace(SECRETS.SMTP_PASSWORD, '${SMTP_PASSWORD}');
  const project = await makeProject(
    `
email:
  provider: dev
  from: "Nudge <hello@nudge.example>"
  resend: { api_key: "\${RESEND_API_KEY}", base_url: "${resend.url}/" }
  smtp: { url: "${smtpUrl}" }
webhooks: { timeout_ms: 2000 }
actions: { max_attempts: 3, backoff_base_ms: 50, backoff_max_ms: 200 }
`,
    {
      'welcome.liquid':
        '<title>Welcome, {{ contact.first_name }}</title>\n' +
        '<p>Hi {{ contact.first_name }}, order {{ new.id }} ({{ new.total }}) on plan {{ enrichment.profile.plan }}.</p>',
      'receipt.html': '<p>Receipt for {{ new.id }}</p>',
      'broken.liquid': '<p>{% for x in %}</p>',
    },
  );
  env = makeEnv(sql, project);
  runner = await startWorker(db.url, env);
});

afterAll(async () => {
  await runner?.stop();
  await resend?.close();
  await smtp?.close();
  await sql?.end();
});

function email(label: string, params: Record<string, unknown>, ctx = context) {
  const key = uniqueKey(label);
  return {
    key,
    run: newRun(key, { kind: 'email', params: { template: 'welcome', ...params } } as never, ctx),
  };
}

describe('resend', () => {
  it('POSTs /emails with the API key, the run key as Idempotency-Key and the rendered template', async () => {
    resend.route('POST', '/emails', { status: 200, body: { id: 'em_123' } });
    const { key, run } = email('resend', {
      provider: 'resend',
      subject: 'Hello {{ contact.first_name }}',
    });
    await enqueue(sql, [run]);
    const done = await waitForRun(sql, key, ['succeeded', 'dead']);
    expect(done).toMatchObject({
      status: 'succeeded',
      result: { provider: 'resend', message_id: 'em_123' },
    });
    const [stored] = await sql`
      select provider_message_id from nudge_engine.action_runs where key = ${key}`;
    expect(stored).toEqual({ provider_message_id: 'em_123' });
    const request = (await resend.waitFor(
      (r) => r.headers['idempotency-key'] === key,
    )) as RecordedRequest;
    expect(request.path).toBe('/emails');
    expect(request.headers.authorization).toBe(`Bearer ${SECRETS.RESEND_API_KEY}`);
    expect(request.json).toEqual({
      from: 'Nudge <hello@nudge.example>',
      to: ['ada@example.com'],
      subject: 'Hello Ada',
      html: '<title>Welcome, Ada</title>\n<p>Hi Ada, order order-7 (42) on plan pro.</p>',
      headers: {
        'List-Unsubscribe': expect.stringMatching(
          /^<http:\/\/127\.0\.0\.1:8787\/email\/unsubscribe\/[\w-]+>, <mailto:hello@nudge\.example\?subject=unsubscribe%20[\w-]+>$/,
        ),
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      },
    });
  });

  it('gives a transactional email no unsubscribe headers', async () => {
    resend.route('POST', '/emails', { status: 200, body: { id: 'em_tx' } });
    const { key, run } = email('resend-tx', { provider: 'resend', topic: 'transactional' });
    await enqueue(sql, [run]);
    expect(await waitForRun(sql, key, ['succeeded', 'dead'])).toMatchObject({
      status: 'succeeded',
    });
    const request = await resend.waitFor((r) => r.headers['idempotency-key'] === key);
    expect(Object.keys(request.json as object).sort()).toEqual(['from', 'html', 'subject', 'to']);
  });

  it('honours Retry-After on 429, and retries a 500, with the same Idempotency-Key', async () => {
    const { key, run } = email('resend-429', { provider: 'resend', to: 'grace@example.com' });
    const delays: number[] = [];
    resend.route('POST', '/emails', async (request) => {
      if (request.headers['idempotency-key'] !== key) return { status: 200, body: { id: 'other' } };
      delays.push((await nextAttempt(sql, key)).delayMs);
      return { status: 200, body: { id: 'em_429' } };
    });
    resend.failNext(1, 500);
    resend.failNext(
      1,
      429,
      { 'Retry-After': '1' },
      { name: 'rate_limit_exceeded', message: 'Too many requests' },
    );
    await enqueue(sql, [run]);
    const done = await waitForRun(sql, key, ['succeeded', 'dead']);
    expect(done).toMatchObject({
      status: 'succeeded',
      attempts: 3,
      result: { message_id: 'em_429' },
    });
    // The attempt after the 429 was scheduled exactly Retry-After later.
    expect(delays).toEqual([1000]);
    const sent = resend.requests.filter((r) => r.headers['idempotency-key'] === key);
    expect(sent).toHaveLength(3);
    expect(new Set(sent.map((r) => r.body)).size).toBe(1);
  });

  it('fails for good on a 4xx with Resend’s message, and on a key reused for another payload', async () => {
    const invalid = email('resend-422', { provider: 'resend' });
    const reused = email('resend-409', { provider: 'resend' });
    resend.route('POST', '/emails', (request) =>
      request.headers['idempotency-key'] === invalid.key
        ? {
            status: 422,
            body: { statusCode: 422, name: 'validation_error', message: 'Invalid `from` field.' },
          }
        : {
            status: 409,
            body: { name: 'invalid_idempotent_request', message: 'Same key, other payload.' },
          },
    );
    await enqueue(sql, [invalid.run, reused.run]);
    expect(await waitForRun(sql, invalid.key, ['succeeded', 'dead'])).toMatchObject({
      status: 'dead',
      attempts: 1,
      last_error: 'Resend answered 422: Invalid `from` field.',
    });
    expect(await waitForRun(sql, reused.key, ['succeeded', 'dead'])).toMatchObject({
      status: 'dead',
      attempts: 1,
      last_error: 'Resend answered 409: Same key, other payload.',
    });
  });
});

describe('smtp', () => {
  it('sends through the SMTP server with its login and a Message-ID derived from the key', async () => {
    const { key, run } = email('smtp', {
      provider: 'smtp',
      template: 'receipt',
      subject: 'Your receipt',
    });
    await enqueue(sql, [run]);
    const done = await waitForRun(sql, key, ['succeeded', 'dead']);
    expect(done.status).toBe('succeeded');
    const messageId = messageIdFor(key, 'hello@nudge.example');
    expect(messageId).toMatch(/^<[0-9a-f]{40}\.nudge@nudge\.example>$/);
    const mail = await smtp.waitFor((m) => m.headers['message-id'] === messageId);
    expect(mail).toMatchObject({
      from: 'hello@nudge.example',
      to: ['ada@example.com'],
      user: 'mailer',
    });
    expect(mail.headers.subject).toBe('Your receipt');
    expect(mail.headers['list-unsubscribe']).toMatch(
      /^<http:\/\/127\.0\.0\.1:8787\/email\/unsubscribe\/[\w-]+>, <mailto:hello@nudge\.example\?subject=unsubscribe%20[\w-]+>$/,
    );
    expect(mail.headers['list-unsubscribe-post']).toBe('List-Unsubscribe=One-Click');
    expect(mail.raw).toContain('<p>Receipt for order-7</p>');
    expect(done.result).toMatchObject({ provider: 'smtp', message_id: messageId });
  });

  it('retries a 4xx reply with the same Message-ID, and gives up on a 5xx', async () => {
    const deferred = email('smtp-451', { provider: 'smtp', to: 'grace@example.com' });
    smtp.failNext(1, 451, 'greylisted, try again later');
    await enqueue(sql, [deferred.run]);
    expect(await waitForRun(sql, deferred.key, ['succeeded', 'dead'])).toMatchObject({
      status: 'succeeded',
      attempts: 2,
    });
    const messageId = messageIdFor(deferred.key, 'hello@nudge.example');
    expect(smtp.rejected.at(-1)!.headers['message-id']).toBe(messageId);
    expect(smtp.messages.filter((m) => m.headers['message-id'] === messageId)).toHaveLength(1);

    const rejected = email('smtp-550', { provider: 'smtp', to: 'nobody@example.com' });
    smtp.failNext(1, 550, 'no such user');
    await enqueue(sql, [rejected.run]);
    const dead = await waitForRun(sql, rejected.key, ['succeeded', 'dead']);
    expect(dead).toMatchObject({ status: 'dead', attempts: 1 });
    expect(dead.last_error).toMatch(/^SMTP server rejected the message: .*550 no such user/);
  });
});

describe('dev mailbox and composition', () => {
  it('keeps mail in the mailbox once per key, with the template title as default subject', async () => {
    const { key, run } = email('dev', {});
    await enqueue(sql, [run]);
    expect(await waitForRun(sql, key, ['succeeded', 'dead'])).toMatchObject({
      status: 'succeeded',
    });
    const rows =
      await sql`select to_address, from_address, subject, html from nudge_engine.mailbox where key = ${key}`;
    expect(rows).toEqual([
      {
        to_address: 'ada@example.com',
        from_address: 'Nudge <hello@nudge.example>',
        subject: 'Welcome, Ada',
        html: '<title>Welcome, Ada</title>\n<p>Hi Ada, order order-7 (42) on plan pro.</p>',
      },
    ]);
  });

  it('fails for good, saying why, without a recipient or with a broken template', async () => {
    const noRecipient = email('no-to', {}, { contact: { first_name: 'Nobody' } });
    const missing = email('missing', { template: 'nope' });
    const broken = email('broken', { template: 'broken' });
    await enqueue(sql, [noRecipient.run, missing.run, broken.run]);
    const errors = await Promise.all(
      [noRecipient, missing, broken].map(async ({ key }) => {
        const run = await waitForRun(sql, key, ['succeeded', 'dead']);
        expect(run).toMatchObject({ status: 'dead', attempts: 1 });
        return run.last_error;
      }),
    );
    expect(errors[0]).toBe(
      'email has no recipient: the contact has no email and the action gives no `to`',
    );
    expect(errors[1]).toBe(
      'email template "nope" not found: no nudge/templates/nope.liquid or nudge/templates/nope.html',
    );
    expect(errors[2]).toMatch(/^nudge\/templates\/broken\.liquid: .*line:1/);
  });

  it('never logs or records a secret', async () => {
    expect(env.logs.length).toBeGreaterThan(0);
    await expectNoSecretLeaks(sql, env.logs);
  });
});
