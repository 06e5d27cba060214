// `nudge doctor` against the Supabase-shaped fixture and a recorder answering in
// the Supabase APIs' documented shapes: the all-green run, and each failure it
// recognises with its fix line and exit code.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { checkServiceKey, checkSupabaseApis, describeKey } from '../../src/source/supabase-http.js';
import { useDatabase } from '../harness/db.js';
import { type RecordedRequest, type Recorder, startRecorder } from '../harness/http-recorder.js';
import { tempProject } from '../harness/project.js';

const db = useDatabase();
const suffix = randomBytes(4).toString('hex');
let reader: string;
const plainDb = `t_plain_${suffix}`;

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (payload: object) =>
  `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}.c2lnbmF0dXJl`;
const SERVICE_KEY = jwt({
  iss: 'supabase',
  ref: 'local',
  role: 'service_role',
  exp: 4_000_000_000,
});
const ANON_KEY = jwt({ iss: 'supabase', ref: 'local', role: 'anon', exp: 4_000_000_000 });

/** Kong in front of Auth, Storage, Functions and PostgREST, as a hosted project answers. */
async function fakeSupabase(): Promise<Recorder> {
  const rec = await startRecorder();
  const users = ['a', 'b', 'c'].map((n) => ({
    id: `id-${n}`,
    email: `${n}@example.com`,
    aud: 'authenticated',
  }));
  const as = (request: RecordedRequest, service: () => unknown, anon: () => unknown) => {
    const key = request.headers.apikey;
    if (key === SERVICE_KEY && request.headers.authorization === `Bearer ${SERVICE_KEY}`)
      return service();
    if (key === ANON_KEY) return anon();
    return { status: 401, body: { message: 'Invalid API key' } };
  };
  rec.route(
    'GET',
    '/auth/v1/admin/users',
    (r) =>
      as(
        r,
        () => ({
          headers: {
            'X-Total-Count': String(users.length),
            Link: '</admin/users?page=3>; rel="last"',
          },
          body: { users: users.slice(0, Number(r.query.per_page)), aud: 'authenticated' },
        }),
        () => ({
          status: 403,
          body: { code: 403, error_code: 'not_admin', msg: 'User not allowed' },
        }),
      ) as never,
  );
  rec.route(
    'GET',
    '/storage/v1/bucket',
    (r) =>
      as(
        r,
        () => ({
          body: [
            { id: 'avatars', name: 'avatars', public: false },
            { id: 'docs', name: 'docs' },
          ],
        }),
        () => ({ body: [] }),
      ) as never,
  );
  rec.route(
    'GET',
    '/functions/v1/',
    (r) =>
      as(
        r,
        () => ({
          status: 404,
          body: { code: 'NOT_FOUND', message: 'Requested function was not found' },
        }),
        () => ({
          status: 404,
          body: { code: 'NOT_FOUND', message: 'Requested function was not found' },
        }),
      ) as never,
  );
  rec.route(
    'GET',
    '/rest/v1/',
    (r) =>
      as(
        r,
        () => ({ body: { swagger: '2.0', info: { title: 'PostgREST API' } } }),
        () => ({ body: { swagger: '2.0' } }),
      ) as never,
  );
  return rec;
}

let supabase: Recorder;

beforeAll(async () => {
  supabase = await fakeSupabase();
  await db.sql.unsafe(`
    create table public.customers (id uuid primary key references auth.users (id), email text, plan text);
    create table public.orders (id bigint generated always as identity primary key,
      user_id uuid references auth.users (id), total numeric);
    create table public.events (id bigint primary key, name text);
    alter table public.orders enable row level security;
    alter publication supabase_realtime add table public.customers, public.orders;
    insert into auth.users (id, email) select gen_random_uuid(), 'u' || i || '@example.com'
      from generate_series(1, 3) i;
    insert into public.customers (id, email) select id, email from auth.users;
    insert into public.orders (user_id, total) select id, 5 from auth.users;
    insert into public.orders (user_id, total) select id, 7 from auth.users limit 1;
    analyze public.orders;
    insert into storage.buckets (id, name) values ('avatars', 'avatars'), ('docs', 'docs');
  `);
  reader = (
    await db.loginRole(
      'doctor_reader',
      'grant usage on schema public to {role}; grant select on public.orders to {role};',
    )
  ).name;
});

afterAll(async () => {
  await supabase?.close();
  await db.admin.unsafe(`drop database if exists ${plainDb} with (force)`);
});

const connector = (extra: string, { url = supabase.url, key = SERVICE_KEY } = {}) => `
connectors:
  supabase:
    project_url: "${url}"
    api_key: "${key}"
${extra}`;

const SYNC = `    sync:
      users: true
      tables: [customers, orders]
      storage: true
      realtime: true
    table_mapping:
      customers: { plan: plan }
      orders: { sync_as: events, event_name: order_placed }
`;

async function doctor(
  yaml: string | undefined,
  env: Record<string, string> = { DATABASE_URL: db.url },
) {
  const cwd = await tempProject(yaml === undefined ? {} : { 'nudge.yaml': yaml }, 'nudge-doctor-');
  const m = memoryIo({ cwd, env });
  const code = await run(['doctor'], m.io);
  const out = m.stdout();
  expect(out).not.toContain(SERVICE_KEY);
  expect(out).not.toContain(':postgres@');
  return { code, out, lines: out.split('\n'), err: m.stderr() };
}

/** A line and the fix printed under it. */
function expectProblem(lines: string[], line: string, fix: string) {
  const at = lines.indexOf(line);
  expect(at, `missing line: ${line}\n---\n${lines.join('\n')}`).toBeGreaterThanOrEqual(0);
  expect(lines[at + 1]).toBe(`  fix: ${fix}`);
}

async function withNudgeTrigger(disabled: boolean, fn: () => Promise<void>) {
  await db.sql.unsafe(`
    create schema nudge;
    -- Nudge's own job queue in the same database: not one of the app's tables
    -- (the Tables line counts 3, in public).
    create schema nudge_worker;
    create table nudge_worker.jobs (id bigint);
    create function nudge.capture() returns trigger language plpgsql as $$ begin return null; end $$;
    create trigger nudge_capture after insert on public.orders for each row execute function nudge.capture();
    ${disabled ? 'alter table public.orders disable trigger nudge_capture;' : ''}`);
  try {
    await fn();
  } finally {
    await db.sql.unsafe('drop schema nudge cascade; drop schema nudge_worker cascade');
  }
}

describe('nudge doctor', () => {
  it('passes every check on a healthy Supabase project', async () => {
    await withNudgeTrigger(false, async () => {
      const { code, lines, out, err } = await doctor(connector(SYNC));
      expect(err).toBe('');
      expect(out).not.toMatch(/[✗⚠]/);
      expect(lines).toEqual([
        expect.stringMatching(
          /^Database {2}postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/t_\w+ \(from DATABASE_URL\)$/,
        ),
        expect.stringMatching(/^✓ Connection {9}PostgreSQL \d+\.\d+, role postgres \(superuser\)$/),
        '✓ Encryption         not encrypted (a loopback host: nothing leaves this machine)',
        '✓ Pooler             sessions kept (a direct connection or a session pooler)',
        '✓ Auth               auth.users readable (3 users)',
        '✓ Tables             readable (3 tables in public)',
        '✓ Storage            storage.buckets readable (2 buckets)',
        '✓ Nudge schema       exists (owner postgres); role postgres can use it',
        '✓ Trigger privilege  can create triggers on auth.users, public.customers, public.orders, storage.objects',
        '✓ pg_net             not installed; not needed with capture: outbox',
        '✓ wal_level          logical',
        '✓ Realtime           publication supabase_realtime (2 tables)',
        '✓ Nudge capture      1 trigger on 1 table, all enabled',
        '✓ Features           none yet in nudge/features/ (start from a template: nudge init)',
        '✓ Email              no non-transactional email in the features',
        '',
        'Engine store  schema nudge_engine in the source database',
        '✓ Secrets            none stored yet',
        '',
        `Supabase API  ${supabase.url}`,
        '✓ API key            service_role key (not shown)',
        '✓ Auth admin API     reachable (3 users)',
        '✓ Storage API        reachable (2 buckets)',
        '✓ Edge Functions     gateway reachable (HTTP 404)',
        '✓ REST API           reachable (PostgREST)',
        '',
        'All checks passed.',
      ]);
      expect(code).toBe(0);
      const request = await supabase.waitFor((r) => r.path === '/auth/v1/admin/users');
      expect(request.query).toEqual({ page: '1', per_page: '1' });
      expect(request.headers.apikey).toBe(SERVICE_KEY);
    });
  });

  it('says nothing is deployed yet when schema nudge is missing, without failing', async () => {
    const { code, lines } = await doctor(undefined);
    expectProblem(
      lines,
      '⚠ Nudge capture      nothing deployed yet',
      'run nudge plan, then nudge deploy',
    );
    expect(lines).toContain(
      '- Supabase API checks skipped: set connectors.supabase.project_url and api_key to run them',
    );
    expect(lines.at(-1)).toBe('No problems; 1 warning.');
    expect(code).toBe(0);
  });

  it('fails on a disabled Nudge trigger: triggers not firing', async () => {
    await withNudgeTrigger(true, async () => {
      const { code, lines } = await doctor(undefined);
      expectProblem(
        lines,
        '✗ Nudge capture      triggers not firing: nudge_capture on public.orders (disabled)',
        'run nudge deploy (it re-enables them), or ALTER TABLE public.orders ENABLE TRIGGER nudge_capture',
      );
      expect(lines.at(-1)).toBe('1 problem: see the fix under each ✗');
      expect(code).toBe(1);
    });
  });

  it('names a mapped table that does not exist, with a suggestion and its place in nudge.yaml', async () => {
    const yaml = connector(`    sync:
      tables: [custmers]
    table_mapping:
      ordrs:
        sync_as: events
        event_name: order_placed
`);
    const { code, lines } = await doctor(yaml);
    const line = (at: number, field: string, guess: string) =>
      expect.stringMatching(
        new RegExp(
          `^✗ Tables {13}public\\.\\w+ does not exist \\(did you mean ${guess}\\?\\) — ${field} at .*nudge\\.yaml:${at}$`,
        ),
      );
    expect(lines).toContainEqual(
      line(7, 'connectors\\.supabase\\.sync\\.tables\\[0\\]', 'public\\.customers'),
    );
    expect(lines).toContainEqual(
      line(9, 'connectors\\.supabase\\.table_mapping\\.ordrs', 'public\\.orders'),
    );
    expect(lines).toContain('  fix: write public.customers in nudge.yaml, or create the table');
    expect(lines).toContain(
      '✓ Trigger privilege  nothing to check until the configured tables exist',
    );
    expect(code).toBe(1);
  });

  it('warns of a table in sync.tables with no table_mapping entry, and checks no trigger on it', async () => {
    const yaml = connector(`    sync:
      tables: [customers, events]
      realtime: true
    table_mapping:
      customers: { plan: plan }
`);
    const { code, lines } = await doctor(yaml);
    const at = lines.findIndex((line) =>
      /^⚠ Tables {13}public\.events is in sync\.tables but has no table_mapping entry, so nothing syncs from it and nothing is captured for it — connectors\.supabase\.sync\.tables\[1\] at .*nudge\.yaml:7$/.test(
        line,
      ),
    );
    expect(at, lines.join('\n')).toBeGreaterThanOrEqual(0);
    expect(lines[at + 1]).toBe(
      '  fix: add connectors.supabase.table_mapping.events (its columns as attributes, or sync_as: events), or take it out of sync.tables',
    );
    expect(lines).toContain('✓ Trigger privilege  can create triggers on public.customers');
    expect(code).toBe(0);
  });

  it('warns about RLS hiding every row and explains what a limited role cannot do', async () => {
    const yaml = `connectors:\n  supabase:\n    sync:\n      tables: [orders]\n      realtime: true\n    table_mapping:\n      orders: { sync_as: events }\n`;
    const { code, lines } = await doctor(yaml, { DATABASE_URL: db.urlAs(reader, 'pw') });
    expect(lines[1]).toMatch(
      new RegExp(`^✓ Connection {9}PostgreSQL \\d+\\.\\d+, role ${reader} \\(RLS applies\\)$`),
    );
    expectProblem(
      lines,
      `⚠ RLS                empty results under RLS: public.orders has ~4 rows, role ${reader} sees none`,
      `connect as postgres (or a BYPASSRLS role like service_role), or add a policy that lets ${reader} read the rows`,
    );
    expectProblem(
      lines,
      `✗ Auth               permission denied reading auth.users as role ${reader}`,
      `connect as postgres (Dashboard → Settings → Database → Connection string), or GRANT USAGE ON SCHEMA auth and SELECT ON auth.users TO ${reader}`,
    );
    expectProblem(
      lines,
      `✗ Nudge schema       role ${reader} cannot create schema nudge (no CREATE on database ${db.name})`,
      `connect as postgres, or GRANT CREATE ON DATABASE ${db.name} TO ${reader}`,
    );
    expectProblem(
      lines,
      `✗ Trigger privilege  role ${reader} cannot create triggers on public.orders`,
      `GRANT TRIGGER ON public.orders TO ${reader}, or connect as its owner (postgres)`,
    );
    expect(lines).toContain(
      `⚠ Tables             2 of 3 tables not readable by role ${reader}: public.customers, public.events`,
    );
    expect(code).toBe(1);

    // In read-only access deploy never runs: what it would need is a warning.
    const readOnly = await doctor(`access: read-only\n${yaml}`, {
      DATABASE_URL: db.urlAs(reader, 'pw'),
    });
    expect(readOnly.lines).toContain(
      `⚠ Nudge schema       role ${reader} cannot create schema nudge (no CREATE on database ${db.name}) (needed by nudge deploy; access is read-only)`,
    );
  });

  it('fails when capture is webhook and pg_net is missing', async () => {
    const { code, lines } = await doctor(
      'capture:\n  transport: webhook\n  webhook:\n    url: http://127.0.0.1:9/ingest\n',
    );
    expectProblem(
      lines,
      '✗ pg_net             not installed; capture: webhook needs it',
      'Database → Extensions → pg_net → Enable; this server does not ship pg_net: install it, or set capture: outbox',
    );
    expect(code).toBe(1);
  });

  it('warns when a synced table is not in the realtime publication', async () => {
    const { code, lines } = await doctor(
      connector(`    sync:\n      tables: [orders, events]\n      realtime: true\n`),
    );
    expectProblem(
      lines,
      '⚠ Realtime           Realtime not enabled for public.events; Nudge captures changes with its own triggers, Realtime clients get nothing',
      'ALTER PUBLICATION supabase_realtime ADD TABLE public.events; (or Dashboard → Database → Replication)',
    );
    expect(code).toBe(0);
  });

  it('says so when the database is not a Supabase project', async () => {
    await db.admin.unsafe(`create database ${plainDb}`);
    const { code, lines } = await doctor(undefined, {
      DATABASE_URL: db.url.replace(db.name, plainDb),
    });
    expect(lines).toContain(
      '⚠ Auth               no auth.users: not a Supabase project; auth features unavailable',
    );
    expect(lines).toContain(
      '⚠ Storage            no storage.buckets: not a Supabase project; storage events unavailable',
    );
    expect(lines).toContain(
      '✓ Realtime           no supabase_realtime publication (Nudge does not need it)',
    );
    expect(code).toBe(0);
  });

  it('reports a rejected key (401) once for the APIs that refuse it', async () => {
    const wrong = jwt({ role: 'service_role', exp: 4_000_000_000, ref: 'other' });
    const { code, lines } = await doctor(connector('', { key: wrong }));
    expect(lines).toContain('✓ API key            service_role key (not shown)');
    expectProblem(
      lines,
      '✗ Supabase API       401 Unauthorized: invalid or expired API key ("Invalid API key") (Auth admin API, Storage API, REST API)',
      'copy the service_role key from Dashboard → Settings → API into connectors.supabase.api_key',
    );
    expectProblem(
      lines,
      '⚠ Edge Functions     gateway reachable, but it rejects this key (HTTP 401)',
      'functions that verify JWTs need the service_role JWT, or deploy them with --no-verify-jwt',
    );
    expect(code).toBe(1);
  });

  it('explains the anon key used where the service_role key is needed', async () => {
    const { code, lines, out } = await doctor(connector('', { key: ANON_KEY }));
    expect(out).not.toContain(ANON_KEY);
    expectProblem(
      lines,
      '✗ API key            api_key is a JWT whose role is anon: it respects RLS and cannot list users or read all of Storage',
      'copy the service_role key from Dashboard → Settings → API into connectors.supabase.api_key',
    );
    expectProblem(
      lines,
      '✗ Auth admin API     403 Forbidden: an RLS policy or a non-service key ("User not allowed")',
      'use the service_role key (Dashboard → Settings → API), or check the RLS policies',
    );
    expect(lines).toContain('✓ Storage API        reachable (0 buckets)');
    expect(code).toBe(1);
  });

  it('reports a 5xx from one API and keeps checking the others', async () => {
    const rec = await fakeSupabase();
    rec.route('GET', '/storage/v1/bucket', {
      status: 503,
      body: { message: 'upstream unavailable' },
    });
    try {
      const { code, lines } = await doctor(connector('', { url: rec.url }));
      expect(lines).toContain('✓ Auth admin API     reachable (3 users)');
      expectProblem(
        lines,
        '✗ Storage API        Supabase returned 503 ("upstream unavailable")',
        'check status.supabase.com (or the logs of a self-hosted stack) and try again',
      );
      expect(lines).toContain('✓ REST API           reachable (PostgREST)');
      expect(code).toBe(1);
    } finally {
      await rec.close();
    }
  });

  it('reports an unreachable project once, and runs only API checks without a database URL', async () => {
    const port = await closedPort();
    const down = await doctor(connector('', { url: `http://127.0.0.1:${port}` }), {});
    expectProblem(
      down.lines,
      '⚠ Database           no database URL: only the Supabase API checks run',
      "set database_url or DATABASE_URL (Dashboard → Settings → Database → Connection string); tables, RLS, capture triggers (nudge deploy), the realtime publication and Nudge's trigger state need it",
    );
    expectProblem(
      down.lines,
      `✗ Supabase API       connection refused by 127.0.0.1:${port}`,
      'check project_url; for a local stack, is `supabase start` running?',
    );
    expect(down.code).toBe(1);

    const up = await doctor(connector(''), {});
    expect(up.lines).toContain('✓ Auth admin API     reachable (3 users)');
    expect(up.lines.at(-1)).toBe('No problems; 1 warning.');
    expect(up.code).toBe(0);
  });

  it('reports a database it cannot reach and still checks the APIs', async () => {
    const port = await closedPort();
    const { code, lines } = await doctor(connector(''), {
      DATABASE_URL: `postgres://postgres:secret@127.0.0.1:${port}/app`,
    });
    expect(lines[0]).toBe(
      `Database  postgres://postgres:***@127.0.0.1:${port}/app (from DATABASE_URL)`,
    );
    expectProblem(
      lines,
      `✗ Connection         cannot connect to postgres://postgres:***@127.0.0.1:${port}/app: connection refused`,
      'is the database running, and are host and port right?',
    );
    expect(lines).toContain(
      '- auth, tables, storage, capture and realtime checks skipped: no connection',
    );
    expect(lines).toContain('✓ Auth admin API     reachable (3 users)');
    expect(code).toBe(1);
  });

  it('reads the feature files when the database cannot be reached, and names a features path that is no directory', async () => {
    const port = await closedPort();
    const cwd = await tempProject(
      {
        'nudge.yaml': 'features: nudge/features\n',
        'nudge/features/broken.yaml':
          'name: broken\ntrigger: { table: public.orders, on: insrt }\nstages: [{ name: seen }]\n',
      },
      'nudge-doctor-',
    );
    const env = { DATABASE_URL: `postgres://postgres:secret@127.0.0.1:${port}/app` };
    const unreachable = memoryIo({ cwd, env });
    expect(await run(['doctor'], unreachable.io)).toBe(1);
    expect(unreachable.stdout()).toMatch(
      /✗ Features +nudge\/features\/broken\.yaml:2:\d+ trigger\.on: expected insert, update or delete, or a list of them, got "insrt"/,
    );
    // A typo in features: is not "none yet" (plan refuses it the same way).
    await writeFile(path.join(cwd, 'nudge.yaml'), 'features: nudge/feature\n');
    const typo = memoryIo({ cwd, env: { DATABASE_URL: db.url } });
    expect(await run(['doctor'], typo.io)).toBe(1);
    expect(typo.stdout()).toMatch(
      /✗ Features +nudge\.yaml:1:11 features: no directory nudge\/feature: fix the path/,
    );
  });

  it('gives up on an API that never answers, after the timeout', async () => {
    const rec = await startRecorder();
    rec.failNext(4, 'hang');
    try {
      const probing = checkSupabaseApis({ projectUrl: rec.url, key: SERVICE_KEY, timeoutMs: 300 });
      // All four are sent and never answered; each gives up on its own.
      await rec.waitFor(() => rec.requests.length === 4);
      const findings = await probing;
      expect(findings.map((f) => [f.outcome, f.message])).toEqual(
        Array(4).fill(['fail', `no answer from ${rec.url.slice(7)} within 0.3s`]),
      );
      expect(findings[0]?.fix).toBe(
        'check your network, proxy or firewall, and status.supabase.com',
      );
      expect(rec.requests).toHaveLength(4);
    } finally {
      await rec.close();
    }
  });

  it('reads the role of legacy and new Supabase keys without verifying them', () => {
    expect(describeKey(SERVICE_KEY)).toMatchObject({ kind: 'jwt', role: 'service_role' });
    expect(describeKey(ANON_KEY)).toMatchObject({ kind: 'jwt', role: 'anon' });
    expect(describeKey('sb_publishable_abc')).toEqual({ kind: 'publishable', role: 'anon' });
    expect(describeKey('sb_secret_abc')).toEqual({ kind: 'secret', role: 'service_role' });
    expect(describeKey('not-a-key')).toEqual({ kind: 'unknown' });

    const expired = jwt({ role: 'service_role', exp: 1_000_000_000 });
    expect(checkServiceKey(expired)).toMatchObject({
      outcome: 'fail',
      message: 'api_key expired on 2001-09-09',
    });
    expect(checkServiceKey('sb_publishable_abc')).toMatchObject({
      outcome: 'fail',
      message:
        'api_key is a publishable key: it respects RLS and cannot list users or read all of Storage',
      fix: 'use a secret key (sb_secret_…) from Dashboard → Settings → API Keys',
    });
    expect(checkServiceKey('sb_secret_abc')).toMatchObject({
      outcome: 'ok',
      message: 'secret key (not shown)',
    });
  });
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
