// Secrets never reach the output: `nudge start` (text and JSON logs),
// `nudge sync` (database and API mode) and `nudge doctor`, each at its most
// verbose (--verbose/--debug, the connector's debug, log_level: debug and
// log_queries), run in-process with a distinctive value for every secret a
// project holds: the database password, the master key, the service_role and
// anon keys, the ingest and webhook signing secrets, the Resend key, API keys
// (one live, one revoked) and the ingest shared secret. Everything written to
// stdout and stderr (pino included) and to the command's Io is searched.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { createApiKey, revokeApiKey } from '../../src/server/api/keys.js';
import { ingestSharedSecret } from '../../src/server/index.js';
import { useDatabase } from '../harness/db.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';
import { deployedProject } from '../harness/project.js';
import { type SupabaseApiServer, startSupabaseApi } from '../harness/supabase-api.js';
import { waitFor } from '../harness/wait.js';
import { signed } from '../server/helpers.js';
import { createReferenceTables, insertUsers, projectDir } from '../sync/fixture.js';

const db = useDatabase();
const tag = randomBytes(4).toString('hex');
const distinct = (name: string) => `${name}${randomBytes(12).toString('hex')}`;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (role: string) =>
  `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iss: 'supabase', ref: tag, role, exp: 4_000_000_000 })}.${Buffer.from(distinct(`sig-${role}-`)).toString('base64url')}`;

const MASTER_KEY = randomBytes(32);
const SECRETS = {
  database_password: distinct('DbPass-'),
  master_key: MASTER_KEY.toString('base64'),
  service_role_key: jwt('service_role'),
  anon_key: jwt('anon'),
  ingest_secret: `whsec_${Buffer.from(distinct('ingest-')).toString('base64')}`,
  webhooks_secret: `whsec_${Buffer.from(distinct('webhooks-')).toString('base64')}`,
  resend_api_key: distinct('re_'),
  api_key: '',
  revoked_api_key: '',
  ingest_shared_secret: '',
};
const role = `nudge_logs_${tag}`;

let url: string;
let api: SupabaseApiServer;
let sink: Recorder;
const cleanup: string[] = [];

/** Every place a secret could show, in the forms it could take. */
function forms(secret: string): string[] {
  const out = [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)];
  if (secret.startsWith('whsec_')) out.push(secret.slice(6));
  if (secret.split('.').length === 3) out.push(secret.split('.')[2]!);
  return out.filter((s) => s.length >= 8);
}

function leaks(output: string): string[] {
  return Object.entries(SECRETS).flatMap(([name, secret]) =>
    forms(secret)
      .filter((form) => output.includes(form))
      .map((form) => `${name} (${form.slice(0, 12)}…)`),
  );
}

/** Runs a CLI command in-process, recording its Io and everything written to stdout/stderr. */
async function runCli(
  argv: string[],
  cwd: string,
  env: Record<string, string>,
  whileRunning?: (io: ReturnType<typeof memoryIo>) => Promise<void>,
) {
  const m = memoryIo({ cwd, env });
  const written: string[] = [];
  const capture =
    (_stream: NodeJS.WriteStream) =>
    (chunk: unknown, ...rest: unknown[]): boolean => {
      written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString());
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      done?.();
      return true;
    };
  const out = vi
    .spyOn(process.stdout, 'write')
    .mockImplementation(capture(process.stdout) as never);
  const err = vi
    .spyOn(process.stderr, 'write')
    .mockImplementation(capture(process.stderr) as never);
  let code: number;
  try {
    const running = run(argv, m.io);
    if (whileRunning) {
      await whileRunning(m);
      process.emit('SIGTERM');
    }
    code = await running;
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return { code, output: `${m.stdout()}\n${m.stderr()}\n${written.join('')}`, io: m };
}

beforeAll(async () => {
  await db.sql.unsafe(
    `create role ${role} login superuser password '${SECRETS.database_password}'`,
  );
  url = db.urlAs(role, SECRETS.database_password);
  await migrateEngine(db.sql, db.url);
  await createReferenceTables(db.sql);
  await insertUsers(db.sql, 5);
  SECRETS.api_key = (await createApiKey(db.sql, `logs-${tag}`, 'write')).key;
  SECRETS.revoked_api_key = (await createApiKey(db.sql, `revoked-${tag}`, 'write')).key;
  await revokeApiKey(db.sql, `revoked-${tag}`);
  SECRETS.ingest_shared_secret = await ingestSharedSecret(db.sql, { key: MASTER_KEY });
  api = await startSupabaseApi(db.sql, { key: SECRETS.service_role_key });
  // A webhook receiver that refuses everything: the engine logs retries.
  sink = await startRecorder(() => ({ status: 500, body: { error: 'down for the test' } }));
});

afterAll(async () => {
  await api?.close();
  await sink?.close();
  for (const dir of cleanup) await rm(dir, { recursive: true, force: true });
  await db.sql.unsafe(`drop owned by ${role}; drop role if exists ${role}`).catch(() => {});
});

const connector = (extra = '') => `connectors:
  supabase:
    enabled: true
    project_url: "${api.url}"
    api_key: "\${SUPABASE_SERVICE_ROLE_KEY}"
    anon_key: "${SECRETS.anon_key}"
    debug: true
    log_level: debug
    log_queries: true
    log_realtime: true
    rate_limit: { requests_per_second: 1000, burst: 1000 }
    sync: { users: true, tables: [customers] }
    user_mapping: { email: email, user_metadata.full_name: FIRSTNAME }
    table_mapping:
      customers: { email: email, plan: PLAN }
${extra}`;

const secretsYaml = `ingest: { secret: "${SECRETS.ingest_secret}" }
webhooks: { secret: "${SECRETS.webhooks_secret}", timeout_ms: 2000 }
email:
  provider: dev
  resend: { api_key: "\${RESEND_API_KEY}", base_url: "${'http://127.0.0.1:9/'}" }
actions: { backoff_base_ms: 50, backoff_max_ms: 200, max_attempts: 2 }
`;

/** The configuration with the secrets from the environment written in instead. */
const literal = (yaml: string) =>
  yaml
    .replace('${SUPABASE_SERVICE_ROLE_KEY}', SECRETS.service_role_key)
    .replace('${RESEND_API_KEY}', SECRETS.resend_api_key);

const env = () => ({
  DATABASE_URL: url,
  NUDGE_SECRET_KEY: SECRETS.master_key,
  SUPABASE_SERVICE_ROLE_KEY: SECRETS.service_role_key,
  RESEND_API_KEY: SECRETS.resend_api_key,
});

describe('secrets in the output', () => {
  it('finds each secret in this test’s own record of them, so the search can find them', () => {
    const all = Object.values(SECRETS);
    expect(all.every((s) => s.length >= 20)).toBe(true);
    expect(leaks(all.join(' ')).length).toBeGreaterThanOrEqual(all.length);
  });

  for (const json of [false, true]) {
    it(`nudge start --verbose${json ? ' --json' : ''}: none in the engine's output`, async () => {
      const cwd = await deployedProject(
        db.sql,
        url,
        'nudge-logs-',
        // Written into the file (deployedProject reads only DATABASE_URL from the environment).
        `database_url: "\${DATABASE_URL}"
server: { port: 0 }
${literal(secretsYaml + connector())}`,
        {
          'customer-added': `name: customer-added
trigger: { table: public.customers, on: insert }
contact: { email: new.email }
stages:
  - name: told
    do:
      - webhook:
          url: "${sink.url}/customers"
          body: { email: "{{ new.email }}" }
`,
        },
      );
      cleanup.push(cwd);
      const before = sink.requests.length;
      const argv = ['start', '--verbose', '--debug', ...(json ? ['--json'] : [])];
      const { code, output } = await runCli(argv, cwd, env(), async (m) => {
        const base = await waitFor(
          () => /http {6}(http:\/\/\S+)/.exec(m.stdout())?.[1],
          () => `nudge start to be running:\n${m.stdout()}\n${m.stderr()}`,
        );
        const body = JSON.stringify({ event: 'probe', email: 'probe@example.com' });
        const answers = await Promise.all([
          fetch(`${base}/ingest`, {
            method: 'POST',
            headers: signed(SECRETS.ingest_secret, body),
            body,
          }),
          fetch(`${base}/ingest`, {
            method: 'POST',
            headers: { 'x-nudge-secret': SECRETS.ingest_shared_secret },
            body,
          }),
          fetch(`${base}/ingest`, {
            method: 'POST',
            headers: { authorization: `Bearer ${SECRETS.api_key}` },
            body,
          }),
          fetch(`${base}/v1/contacts?limit=1`, {
            headers: { authorization: `Bearer ${SECRETS.api_key}` },
          }),
          fetch(`${base}/v1/contacts`, {
            headers: { authorization: `Bearer ${SECRETS.revoked_api_key}` },
          }),
          fetch(`${base}/metrics`, {
            headers: { authorization: `Bearer ${SECRETS.revoked_api_key}` },
          }),
        ]);
        expect(answers.map((a) => a.status)).toEqual([202, 202, 401, 200, 401, 401]);
        await db.sql`insert into public.customers (email, plan) values (${`c-${json}@example.com`}, 'pro')`;
        // The receiver refuses the webhook twice (max_attempts: 2): the failures are logged.
        await waitFor(
          () => (sink.requests.length >= before + 2 ? true : undefined),
          'the webhook to be tried twice',
        );
      });
      expect(code).toBe(0);
      expect(output).toContain('Nudge is running');
      // The engine logged its start, the refused ingest and the failed webhook (it has no debug lines).
      for (const line of ['engine started', 'ingest refused', 'action webhook is dead']) {
        expect(output).toContain(line);
      }
      expect(leaks(output)).toEqual([]);
    });
  }

  it('nudge sync --debug, database mode: none in the output', async () => {
    const cwd = await projectDir(`database_url: "\${DATABASE_URL}"\n${secretsYaml}${connector()}`);
    cleanup.push(cwd);
    const { code, output } = await runCli(['sync', '--debug'], cwd, env());
    expect(output).toContain('[debug]');
    expect(code, output).toBe(0);
    expect(leaks(output)).toEqual([]);
  });

  it('nudge sync --debug, API mode: none in the output', async () => {
    const cwd = await projectDir(
      `engine:\n  database_url: "\${ENGINE_DATABASE_URL}"\n${secretsYaml}${connector()}`,
    );
    cleanup.push(cwd);
    const { DATABASE_URL: _, ...apiEnv } = env();
    const { code, output } = await runCli(['sync', '--debug', '--full'], cwd, {
      ...apiEnv,
      ENGINE_DATABASE_URL: url,
    });
    expect(output).toContain('[query] GET /auth/v1/admin/users');
    expect(code, output).toBe(0);
    expect(leaks(output)).toEqual([]);
  });

  it('nudge doctor --debug: none in the output', async () => {
    const cwd = await projectDir(`database_url: "\${DATABASE_URL}"\n${secretsYaml}${connector()}`);
    cleanup.push(cwd);
    const { output } = await runCli(['doctor', '--debug'], cwd, env());
    expect(output).toContain('Connection');
    expect(leaks(output)).toEqual([]);
  });

  // Connection strings that fail in different places: refused, bad port, bad host, one or three
  // slashes (the URL parser then sees no password), a space in the password.
  const broken = () => [
    url.replace(/@127\.0\.0\.1:\d+/, '@127.0.0.1:9'),
    url.replace(/@127\.0\.0\.1:\d+/, '@127.0.0.1:99999'),
    url.replace(/@127\.0\.0\.1:\d+/, '@[::1'),
    url.replace('postgres://', 'postgres:/'),
    url.replace('postgres://', 'postgres:///'),
    url.replace(SECRETS.database_password, `${SECRETS.database_password} x`),
  ];
  for (const command of ['start', 'sync', 'doctor']) {
    it(`nudge ${command} --debug failing on a broken connection string (stack traces included): none in the output`, async () => {
      for (const databaseUrl of broken()) {
        const cwd = await projectDir(
          `database_url: "\${DATABASE_URL}"\nserver: { port: 0 }\n${secretsYaml}${connector()}`,
        );
        cleanup.push(cwd);
        const argv = command === 'start' ? ['start', '--debug', '--json'] : [command, '--debug'];
        const { code, output } = await runCli(argv, cwd, { ...env(), DATABASE_URL: databaseUrl });
        expect(code, output).not.toBe(0);
        expect(leaks(output), output).toEqual([]);
      }
    });
  }
});
