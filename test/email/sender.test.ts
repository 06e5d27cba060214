// Who an email is from. The demo project (examples/demo, what `npm start`
// runs) names a sender in its nudge.yaml: its welcome email, sent by the real
// worker to the dev mailbox, shows it in /v1/mailbox to an API key and to the
// dashboard's session. Without email.from, Resend and SMTP refuse the email
// for good, naming the field, and send nothing; the dev mailbox keeps it
// with no sender rather than invent one.
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Runner } from 'graphile-worker';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailProvider } from '../../src/actions/email.js';
import { type ActionRun, PermanentError, type RemoteProvider } from '../../src/actions/types.js';
import { loadConfig } from '../../src/config/load.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { loadFeatures } from '../../src/features/load.js';
import { createApiKey } from '../../src/server/api/keys.js';
import { makeServer, type NudgeServer } from '../../src/server/index.js';
import {
  enqueue,
  makeEnv,
  makeProject,
  newRun,
  SECRETS,
  startWorker,
  uniqueKey,
  waitForRun,
} from '../actions/setup.js';
import { useDatabase } from '../harness/db.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';
import { type SmtpRecorder, startSmtpServer } from '../harness/smtp.js';

const db = useDatabase();
/** Email is sent outside the engine store's transaction (no usesStore). */
const email = emailProvider as RemoteProvider;
const DEMO_SENDER = 'Nudge demo <hello@example.com>';

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
});

describe('the demo project', () => {
  let runner: Runner;
  let server: NudgeServer;

  beforeAll(async () => {
    // A copy: loading the project may write its master key beside nudge.yaml.
    const dir = await mkdtemp(path.join(tmpdir(), 'nudge-demo-sender-'));
    await cp(path.resolve('examples/demo'), dir, { recursive: true });
    const project = await loadConfig({ cwd: dir, env: {} });
    runner = await startWorker(db.url, makeEnv(db.sql, project));
    server = await makeServer({
      sql: db.sql,
      project,
      route: () => 0,
      log: pino({ level: 'silent' }),
      keys: { key: Buffer.alloc(32, 5) },
    });
  });

  afterAll(async () => {
    await runner?.stop();
  });

  it('sends its welcome email from its sender, which /v1/mailbox shows to a key and to the dashboard', async () => {
    const dir = path.resolve('examples/demo');
    const [drip] = (await loadFeatures(path.join(dir, 'nudge/features'), {}, dir)).filter(
      (f) => f.name === 'welcome-drip',
    );
    const welcome = drip!.machine.stages.get('welcomed')!.actions[0]!;
    expect(welcome.kind).toBe('email');
    const [contact] = await db.sql<{ id: string }[]>`
      insert into nudge_engine.contacts (email, attributes)
      values ('ada@example.com', '{"first_name": "Ada"}') returning id::text`;
    const key = uniqueKey('demo-welcome');
    await enqueue(db.sql, [
      newRun(
        key,
        welcome,
        { contact: { id: contact!.id, email: 'ada@example.com', first_name: 'Ada' } },
        contact!.id,
      ),
    ]);
    expect(await waitForRun(db.sql, key, ['succeeded', 'dead'])).toMatchObject({
      status: 'succeeded',
      last_error: null,
    });

    const bearer = {
      authorization: `Bearer ${(await createApiKey(db.sql, 'mailbox-reader', 'dashboard')).key}`,
    };
    const link = await server.app.request(`/mailbox?token=${server.dashboard.token}`);
    expect(link.status).toBe(303);
    const session = { cookie: (link.headers.get('set-cookie') ?? '').split(';')[0]! };
    expect(session.cookie).toMatch(/^nudge_session=/);
    for (const headers of [bearer, session]) {
      const list = await server.app.request('/v1/mailbox', { headers });
      expect(list.status).toBe(200);
      const { items } = (await list.json()) as { items: { id: number; from: string | null }[] };
      expect(items).toEqual([
        expect.objectContaining({ to: 'ada@example.com', from: DEMO_SENDER }),
      ]);
      const one = await server.app.request(`/v1/mailbox/${items[0]!.id}`, { headers });
      const mail = (await one.json()) as { from: string; headers: Record<string, string> };
      expect(mail).toMatchObject({ from: DEMO_SENDER, feature: 'test-feature' });
      // Unsubscribing by mail goes to the sender's address too (email.unsubscribe_mailto's default).
      expect(mail.headers['List-Unsubscribe']).toContain('<mailto:hello@example.com?subject=');
    }
  });
});

describe('a project without email.from', () => {
  let resend: Recorder;
  let smtp: SmtpRecorder;
  let env: ReturnType<typeof makeEnv>;

  beforeAll(async () => {
    resend = await startRecorder();
    resend.route('POST', '/emails', { status: 200, body: { id: 'em_1' } });
    smtp = await startSmtpServer({ user: 'mailer', password: SECRETS.SMTP_PASSWORD });
    const project = await makeProject(
      `
email:
  resend: { api_key: "\${RESEND_API_KEY}", base_url: "${resend.url}/" }
  smtp: { url: "${smtp.url}" }
`,
      { 'receipt.liquid': '<title>Your receipt</title><p>Thanks.</p>' },
    );
    env = makeEnv(db.sql, project);
  });

  afterAll(async () => {
    await resend?.close();
    await smtp?.close();
  });

  const run = (provider: string): ActionRun => ({
    id: 0,
    key: uniqueKey(`no-sender-${provider}`),
    feature: 'receipts',
    contactId: null,
    stage: 'sent',
    kind: 'email',
    params: { template: 'receipt', topic: 'transactional', provider },
    context: { contact: { email: 'ada@example.com' } },
    attempts: 0,
  });

  it('is refused for good by Resend and SMTP, naming email.from, and nothing is sent', async () => {
    for (const provider of ['resend', 'smtp']) {
      const refusal = await email.execute(run(provider), env).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refusal, provider).toBeInstanceOf(PermanentError);
      expect((refusal as Error).message).toBe(
        'email has no sender: set email.from in nudge.yaml or `from` on the action',
      );
    }
    expect(resend.requests).toEqual([]);
    expect(smtp.messages).toEqual([]);
  });

  it('is kept by the dev mailbox with no sender', async () => {
    const mail = run('dev');
    await email.execute(mail, env);
    const rows = await db.sql`
      select from_address, subject from nudge_engine.mailbox where key = ${mail.key}`;
    expect(rows).toEqual([{ from_address: null, subject: 'Your receipt' }]);
  });
});
