// Nudge never copies credentials, looked at the way an attacker would: after
// a sign-up, a confirmation, a password recovery, an email and a phone change,
// a re-authentication, a sign-in and a deletion — written as the Auth service
// writes them, with distinctive secret values — no row of any table in any
// `nudge*` schema holds any of those values, whatever carried the change:
// the outbox (typed rows and JSON), the webhook transport over pg_net,
// logical replication (a publication and a slot: the rows arrive whole from
// the WAL and the consumer cuts them), live sync, scheduled features,
// enrichment, and `nudge sync` in each of its modes.
// The features are the greediest there can be (webhooks without a body send
// whole rows), so only the exclusion at the trigger stands between the
// secrets and Nudge. Each run also checks that the changes did arrive, so an
// empty scan cannot pass for a clean one.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { dropReplication } from '../../src/capture/transports/replication/slot.js';
import { memoryIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { syncAllCommand } from '../../src/cli/sync.js';
import { loadConfig } from '../../src/config/load.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { ident } from '../../src/db/quote.js';
import { freePort } from '../../src/dev/embedded.js';
import { launch, type Running } from '../../src/engine/wiring/launch.js';
import { silentLog } from '../../src/log.js';
import { createTestDatabase, type TestDatabase } from '../harness/db.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';
import { installPgNetStandIn, makeForwarder } from '../harness/pg-net.js';
import { startSupabaseApi } from '../harness/supabase-api.js';
import { waitFor } from '../harness/wait.js';
import { expectOk, runCommand, serviceRoleKey } from '../sync/fixture.js';

/** One distinctive value per credential column; none can appear by chance. */
function secrets() {
  const mark = (name: string) => `S3CRET-${name}-${randomBytes(6).toString('hex')}`;
  return {
    encrypted_password: `$2a$10$${mark('bcrypt')}`,
    confirmation_token: mark('confirmation'),
    recovery_token: mark('recovery'),
    email_change_token_new: mark('email-new'),
    email_change_token_current: mark('email-current'),
    phone_change_token: mark('phone'),
    reauthentication_token: mark('reauth'),
    /** A token column of auth.identities, as newer Auth versions may add. */
    provider_refresh_token: mark('identity'),
    /** A column the user excludes in nudge.yaml. */
    ssn: mark('ssn'),
  };
}
type Secrets = ReturnType<typeof secrets>;

const KEY = Buffer.alloc(32, 9).toString('base64');
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A webhook action that sends the whole event (no body): the greediest reader. */
const everything = (url: string) => `[{ webhook: { url: "${url}" } }]`;

type Transport = 'outbox' | 'webhook' | 'replication';

function features(url: string, transport: Transport): Record<string, string> {
  // Replication cannot enrich at capture time (plan refuses it): the table
  // is still captured, without the join.
  const enrich =
    transport === 'replication'
      ? ''
      : 'enrich: { user: { table: auth.users, match: { id: new.id } } }\n';
  return {
    'users.yaml': `name: users
trigger: { table: auth.users, on: [insert, update, delete] }
contact: { id: new.id }
stages: [{ name: seen, do: ${everything(url)} }]
`,
    'updated.yaml': `name: updated
trigger: { event: user.updated }
stages: [{ name: seen, do: ${everything(url)} }]
`,
    'identities.yaml': `name: identities
trigger: { table: auth.identities, on: [insert, update] }
contact: { id: new.user_id }
stages: [{ name: seen, do: ${everything(url)} }]
`,
    // Enrichment from auth.users without a column list.
    'profiles.yaml': `name: profiles
trigger: { table: public.profiles, on: insert }
contact: { id: new.id }
${enrich}stages: [{ name: seen, do: ${everything(url)} }]
`,
    // A segment of auth.users, entered by the schedule.
    'signed-in.yaml': `name: signed-in
trigger: { table: auth.users, schedule: { every: 1h }, when: { new.last_sign_in_at: not.is.null } }
stages: [{ name: seen, do: ${everything(url)} }]
`,
  };
}

const CONFIG = (transport: Transport, extra = '', slot = 'nudge') => `capture:
  transport: ${transport}
${transport === 'replication' ? `  replication: { slot: ${slot} }\n` : ''}${extra}  exclude_columns:
    public.profiles: [ssn]
engine: { partitions: 2 }
connectors:
  supabase:
    sync: { users: true, tables: [profiles], realtime: true }
    user_mapping: { email: email, user_metadata.full_name: FIRSTNAME }
    table_mapping:
      profiles: { sync_as: events, event_name: profile_created }
`;

interface World {
  db: TestDatabase;
  cwd: string;
  env: Record<string, string>;
  recorder: Recorder;
  running: Running;
  /** Delivers what pg_net queued (webhook transport); nothing for the outbox. */
  deliver(): Promise<unknown>;
  /** The bodies pg_net sent to /ingest (webhook transport); empty for the others. */
  netSent(): string;
  transport: Transport;
}

async function world(transport: Transport): Promise<World> {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  // A database with a logical slot cannot be dropped: the slot goes first.
  if (transport === 'replication') cleanups.push(() => dropReplication(db.sql).catch(() => {}));
  const recorder = await startRecorder(() => ({ status: 200, body: { ok: true } }));
  cleanups.push(() => recorder.close());
  // auth.identities as newer Auth versions shape it, and an app table.
  await db.sql.unsafe(`ALTER TABLE auth.identities ADD COLUMN provider_refresh_token text;
    CREATE TABLE public.profiles (
      id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
      plan text, ssn text, created_at timestamptz NOT NULL DEFAULT now())`);
  const cwd = await mkdtemp(path.join(tmpdir(), 'nudge-credentials-'));
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  for (const [name, text] of Object.entries(features(recorder.url, transport))) {
    await writeFile(path.join(cwd, 'nudge/features', name), text);
  }
  const port = await freePort();
  let deliver = async (): Promise<unknown> => 0;
  let netSent = () => '';
  let extra = '';
  if (transport === 'webhook') {
    await installPgNetStandIn(db.sql);
    const forwarder = makeForwarder(db.sql);
    deliver = () => forwarder.drain();
    netSent = () => forwarder.sent.map((request) => request.body.toString('utf8')).join('\n');
    extra = `  webhook: { url: "http://127.0.0.1:${port}/ingest" }\n`;
  }
  // Slots are server-wide: one per test database.
  await writeFile(path.join(cwd, 'nudge.yaml'), CONFIG(transport, extra, `nudge_${db.name}`));
  const env = { DATABASE_URL: db.url, NUDGE_SECRET_KEY: KEY };
  await migrateEngine(db.sql, db.url);
  const io = memoryIo({ cwd, env });
  const code = await run(['deploy', '--yes'], io.io);
  if (code !== 0) throw new Error(`deploy failed:\n${io.stdout()}\n${io.stderr()}`);
  const project = await loadConfig({ cwd, env });
  const running = await launch(project, { http: true, port, log: silentLog, idleMs: 20 });
  cleanups.push(() => running.stop());
  return { db, cwd, env, recorder, running, deliver, netSent, transport };
}

/** The Auth service's writes for one user's life, as its own role makes them. */
async function asAuth(sql: postgres.Sql, work: (tx: postgres.TransactionSql) => Promise<unknown>) {
  await sql.begin(async (tx) => {
    await tx`set local role supabase_auth_admin`;
    await work(tx);
  });
}

async function signUp(sql: postgres.Sql, s: Secrets, email: string): Promise<string> {
  const id = crypto.randomUUID();
  await asAuth(sql, async (tx) => {
    await tx`
      insert into auth.users (instance_id, id, aud, role, email, encrypted_password, confirmation_token,
                              confirmation_sent_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
      values ('00000000-0000-0000-0000-000000000000', ${id}, 'authenticated', 'authenticated', ${email},
              ${s.encrypted_password}, ${s.confirmation_token}, now(),
              '{"provider": "email", "providers": ["email"]}', ${tx.json({ full_name: 'Eve Target' })}, now(), now())`;
    await tx`
      insert into auth.identities (provider_id, user_id, identity_data, provider, provider_refresh_token,
                                   last_sign_in_at, created_at, updated_at)
      values (${id}, ${id}, ${tx.json({ sub: id, email })}, 'email', ${s.provider_refresh_token}, now(), now(), now())`;
  });
  return id;
}

async function liveAndDie(sql: postgres.Sql, s: Secrets, id: string): Promise<void> {
  const users = (tx: postgres.TransactionSql, set: postgres.PendingQuery<postgres.Row[]>) =>
    tx`update auth.users set ${set}, updated_at = now() where id = ${id}`;
  await asAuth(sql, async (tx) => {
    await users(tx, tx`email_confirmed_at = now(), confirmation_token = ''`);
    await users(tx, tx`recovery_token = ${s.recovery_token}, recovery_sent_at = now()`);
    await users(
      tx,
      tx`email_change = 'eve.new@example.com', email_change_token_new = ${s.email_change_token_new},
         email_change_token_current = ${s.email_change_token_current}, email_change_sent_at = now()`,
    );
    await users(tx, tx`phone_change = '+15550000', phone_change_token = ${s.phone_change_token}`);
    await users(tx, tx`reauthentication_token = ${s.reauthentication_token}`);
  });
  // A sign-in: last_sign_in_at on the user and the identity; a refreshed provider token.
  await asAuth(sql, async (tx) => {
    await users(tx, tx`last_sign_in_at = now()`);
    await tx`update auth.identities set last_sign_in_at = now(), updated_at = now(),
               provider_refresh_token = ${`${s.provider_refresh_token}-2`} where user_id = ${id}`;
  });
  await sql`insert into public.profiles (id, plan, ssn) values (${id}, 'pro', ${s.ssn})`;
}

/** Waits until every captured change went through the engine and every action ran. */
async function settled(w: World, what: string): Promise<void> {
  let left: Record<string, number> = {};
  // Under replication, everything written so far is in the inbox once the
  // slot is acknowledged past the WAL position of now.
  const [position] = await w.db.sql<{ now: string }[]>`select pg_current_wal_lsn()::text as now`;
  await waitFor(
    async () => {
      await w.deliver();
      [left = {}] = await w.db.sql<Record<string, number>[]>`
        select (select count(*) from nudge.event_log)::int as outbox,
               (select count(*)::int from pg_replication_slots
                 where database = current_database() and confirmed_flush_lsn < ${position!.now}::pg_lsn) as unread,
               (select count(*) from nudge_engine.inbox where processed_at is null)::int as inbox,
               (select count(*) from nudge_engine.action_runs
                 where status not in ('succeeded', 'dead', 'skipped'))::int as actions,
               (select count(*) from nudge.failed_events)::int as failed`;
      return Object.values(left!).every((n) => n === 0) ? true : undefined;
    },
    () => `the engine to settle after ${what} (left: ${JSON.stringify(left)})`,
    30_000,
  );
}

/** Every row of every table in a nudge* schema, as text, by table. */
async function nudgeRows(sql: postgres.Sql): Promise<Map<string, string[]>> {
  const tables = await sql<{ schema: string; name: string }[]>`
    select n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname like 'nudge%' and c.relkind in ('r', 'p') order by 1, 2`;
  const rows = new Map<string, string[]>();
  for (const { schema, name } of tables) {
    const found = await sql.unsafe<{ row: string }[]>(
      `select t::text as row from ${ident(schema, name)} t`,
    );
    rows.set(
      `${schema}.${name}`,
      found.map((r) => r.row),
    );
  }
  return rows;
}

/** Where any secret value was found: "nudge_engine.inbox: recovery_token". */
function leaks(rows: Map<string, string[]>, s: Secrets): string[] {
  const found: string[] = [];
  for (const [table, texts] of rows) {
    for (const [column, value] of Object.entries(s)) {
      // JSON escapes '/' nowhere and '$' nowhere: the raw value is what a copy holds.
      if (texts.some((text) => text.includes(value))) found.push(`${table}: ${column}`);
    }
  }
  return found;
}

function rowsMention(rows: Map<string, string[]>, table: string, text: string): boolean {
  return (rows.get(table) ?? []).some((row) => row.includes(text));
}

describe.each(['outbox', 'webhook', 'replication'] as const)('capture: %s', (transport) => {
  it('copies no credential of a user’s whole life into any nudge schema, nor sends one', async () => {
    const w = await world(transport);
    const s = secrets();
    const email = `eve-${transport}@example.com`;
    const id = await signUp(w.db.sql, s, email);
    await liveAndDie(w.db.sql, s, id);
    await settled(w, 'the sign-up and its updates');
    // The scheduled segment enters the user while it exists: its window for
    // now ran at start-up, before the sign-up, so move the engine's clock on.
    const clock = memoryIo({ cwd: w.cwd, env: w.env });
    expect(await run(['clock', 'advance', '1h', '--yes'], clock.io), clock.stderr()).toBe(0);
    await waitFor(
      async () =>
        (
          await w.db
            .sql`select 1 from nudge_engine.decisions where feature = 'signed-in' and outcome = 'action'`
        ).length > 0 || undefined,
      'the schedule to enter the signed-in user',
    );
    await settled(w, 'the schedule');
    await w.db.sql`delete from auth.users where id = ${id}`;
    await settled(w, 'the deletion');

    const rows = await nudgeRows(w.db.sql);
    // The changes did arrive: every feature acted, and the rows carried the user.
    const acted = await w.db.sql<{ feature: string }[]>`
      select distinct feature from nudge_engine.decisions where outcome = 'action' order by 1`;
    expect(acted.map((r) => r.feature)).toEqual([
      'identities',
      'profiles',
      'signed-in',
      'updated',
      'users',
    ]);
    expect(rowsMention(rows, 'nudge_engine.inbox', email)).toBe(true);
    expect(rowsMention(rows, 'nudge_engine.inbox', 'Eve Target')).toBe(true);
    expect(rowsMention(rows, 'nudge_engine.contacts', email)).toBe(true);
    if (transport === 'webhook') {
      // What pg_net carried to /ingest. (Its nudge.webhook_deliveries rows,
      // scanned with the others below, are deleted once answered, so by now
      // they may hold nothing of the user.)
      const carried = w.netSent();
      expect(carried).toContain(email);
      expect(Object.entries(s).filter(([, value]) => carried.includes(value))).toEqual([]);
    }

    expect(leaks(rows, s)).toEqual([]);
    const sent = w.recorder.requests.map((r) => r.body).join('\n');
    expect(sent).toContain(email);
    expect(Object.entries(s).filter(([, value]) => sent.includes(value))).toEqual([]);
  });
});

describe('nudge sync', () => {
  it('copies no credential in database, in-database or API mode', async () => {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    await migrateEngine(db.sql, db.url);
    await db.sql.unsafe(`ALTER TABLE auth.identities ADD COLUMN provider_refresh_token text;
      CREATE TABLE public.profiles (
        id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
        plan text, ssn text, created_at timestamptz NOT NULL DEFAULT now())`);
    const s = secrets();
    const id = await signUp(db.sql, s, 'eve-sync@example.com');
    await liveAndDie(db.sql, s, id);
    const key = serviceRoleKey('credentials');
    const api = await startSupabaseApi(db.sql, { key });
    cleanups.push(() => api.close());

    const modes: [string, string, Record<string, string>][] = [
      // The engine store is the source: the users sync runs inside the database.
      ['in-database', CONFIG('outbox'), { DATABASE_URL: db.url }],
      // A separate engine store (here the same server): rows go through JavaScript.
      [
        'database',
        `${CONFIG('outbox')}engine: { database_url: "${db.url}" }\n`.replace(
          'engine: { partitions: 2 }\n',
          '',
        ),
        { DATABASE_URL: db.url },
      ],
      [
        'API',
        `${CONFIG('outbox')}`
          .replace('engine: { partitions: 2 }\n', `engine: { database_url: "${db.url}" }\n`)
          .replace(
            '  supabase:\n',
            `  supabase:\n    project_url: "${api.url}"\n    api_key: "${key}"\n`,
          ),
        {},
      ],
    ];
    for (const [mode, yaml, env] of modes) {
      await db.sql`truncate nudge_engine.contacts, nudge_engine.sync_state cascade`;
      const dir = await mkdtemp(path.join(tmpdir(), 'nudge-credentials-sync-'));
      await writeFile(path.join(dir, 'nudge.yaml'), yaml);
      const ran = await runCommand(syncAllCommand, dir, env);
      expectOk(ran);
      const rows = await nudgeRows(db.sql);
      expect(rowsMention(rows, 'nudge_engine.contacts', 'eve-sync@example.com'), mode).toBe(true);
      expect(rowsMention(rows, 'nudge_engine.events', 'profile_created'), mode).toBe(true);
      expect(leaks(rows, s), mode).toEqual([]);
      expect(`${ran.out}${ran.err}`, mode).not.toContain(s.encrypted_password);
    }
  });
});
