// Shared by the email tests: a project with topics, the SMTP server and the
// Resend stand-in, the action worker, a Nudge server driven in-process, and
// the Svix-style signature of a Resend webhook built from the documented
// scheme (HMAC-SHA256 over id.timestamp.body with the whsec_ key's bytes).
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Runner } from 'graphile-worker';
import pino from 'pino';
import postgres from 'postgres';
import type { LoadedConfig } from '../../src/config/load.js';
import { migrateEngine } from '../../src/db/migrate.js';
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
import type { TestDatabase } from '../harness/db.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';
import { type SmtpRecorder, startSmtpServer } from '../harness/smtp.js';

export const RESEND_WEBHOOK_SECRET = `whsec_${randomBytes(24).toString('base64')}`;

export interface EmailWorld {
  sql: postgres.Sql;
  project: LoadedConfig;
  env: ReturnType<typeof makeEnv>;
  smtp: SmtpRecorder;
  resend: Recorder;
  server: NudgeServer;
  runner: Runner;
  /** A contact with this email, its id. */
  contact(email: string): Promise<string>;
  /** Enqueues one email action to the contact and waits until it is final. */
  send(
    contactId: string,
    params: Record<string, unknown>,
  ): Promise<{ key: string; status: string; last_error: string | null; result: unknown }>;
  close(): Promise<void>;
}

export async function startEmailWorld(
  db: TestDatabase,
  /** More lines of nudge.yaml's email block, indented two spaces. */
  emailYaml = '',
  templates: Record<string, string> = {},
): Promise<EmailWorld> {
  await migrateEngine(db.sql, db.url);
  const sql = postgres(db.url, { onnotice: () => {}, max: 8 });
  const smtp = await startSmtpServer({ user: 'mailer', password: SECRETS.SMTP_PASSWORD });
  const resend = await startRecorder();
  // The password reaches nudge.yaml through ${ENV} interpolation, as a user writes it.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${...} for the config loader
  const smtpUrl = smtp.url.replace(SECRETS.SMTP_PASSWORD, '${SMTP_PASSWORD}');
  const project = await makeProject(
    `
server: { public_url: "https://nudge.example.com/" }
email:
  provider: smtp
  from: "Acme <hello@acme.example>"
  resend: { api_key: "\${RESEND_API_KEY}", base_url: "${resend.url}", webhook_secret: "${RESEND_WEBHOOK_SECRET}" }
  smtp: { url: "${smtpUrl}" }
${emailYaml}  topics:
    product: { label: Product news }
    marketing: { label: Offers, description: Discounts and promotions }
webhooks: { timeout_ms: 2000 }
actions: { max_attempts: 2, backoff_base_ms: 50, backoff_max_ms: 100 }
`,
    {
      'news.liquid':
        '<title>News for {{ contact.email }}</title><p>Hello.</p>' +
        '<a href="{{ unsubscribe_url }}">Unsubscribe</a> <a href="{{ preferences_url }}">Preferences</a>',
      'promo.liquid': '<title>Promo</title><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
      ...templates,
    },
  );
  const env = makeEnv(sql, project);
  const runner = await startWorker(db.url, env);
  const server = await makeServer({
    sql,
    project,
    route: () => 0,
    log: pino({ level: process.env.EMAIL_TEST_LOG ?? 'silent' }),
    keys: { key: Buffer.alloc(32, 7) },
  });
  const world: EmailWorld = {
    sql,
    project,
    env,
    smtp,
    resend,
    server,
    runner,
    async contact(email) {
      const [row] = await sql<{ id: string }[]>`
        insert into nudge_engine.contacts (email) values (${email}) returning id`;
      return row!.id;
    },
    async send(contactId, params) {
      const key = uniqueKey('email');
      const [contact] = await sql<{ email: string }[]>`
        select email from nudge_engine.contacts where id = ${contactId}`;
      await enqueue(sql, [
        newRun(
          key,
          { kind: 'email', params: { template: 'news', ...params } } as never,
          { contact: { id: contactId, email: contact?.email ?? null } },
          contactId,
        ),
      ]);
      const run = await waitForRun(sql, key, ['succeeded', 'dead', 'skipped']);
      return { key, status: run.status, last_error: run.last_error, result: run.result };
    },
    async close() {
      await world.runner.stop();
      await smtp.close();
      await resend.close();
      await sql.end();
    },
  };
  return world;
}

/** The headers of a Resend webhook delivery, signed as Svix signs them. */
export function svixHeaders(
  body: string,
  options: { id?: string; timestamp?: number; secret?: string } = {},
): Record<string, string> {
  const id = options.id ?? `msg_${randomBytes(8).toString('hex')}`;
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const secret = options.secret ?? RESEND_WEBHOOK_SECRET;
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return {
    'content-type': 'application/json',
    'svix-id': id,
    'svix-timestamp': timestamp,
    'svix-signature': `v1,${signature}`,
  };
}

/** A temporary project directory holding `files` (path → text); its path. */
export async function projectFiles(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nudge-email-'));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  return dir;
}

/** The Resend stand-in accepts every email, its id made from the run's idempotency key. */
export function resendAccepts(world: EmailWorld): void {
  world.resend.route('POST', '/emails', (request) => ({
    status: 200,
    body: { id: `em_${String(request.headers['idempotency-key']).split(':').slice(-2).join('_')}` },
  }));
}
