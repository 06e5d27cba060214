// Mappings are checked against the live schema before anything is written:
// each bad entry is reported at its nudge.yaml line with "did you mean", and
// the database is left as it was. Debug settings print what they promise and
// never a secret.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncAllCommand, syncUsersCommand } from '../../src/cli/sync.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { ident } from '../../src/db/quote.js';
import { useDatabase } from '../harness/db.js';
import {
  createReferenceTables,
  expectOk,
  insertUsers,
  projectDir,
  REFERENCE_CONNECTOR_AS_WRITTEN,
  runCommand,
  serviceRoleKey,
} from './fixture.js';

const db = useDatabase();

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  await createReferenceTables(db.sql);
  await insertUsers(db.sql, 5);
});

const BAD = `connectors:
  supabase:
    user_mapping:
      user_metadata.full_name: FIRSTNAME
      last_sign_in: LAST_SEEN
      user_metdata.plan: PLAN
      encrypted_password: PW
    table_mapping:
      custmers:
        email: email
      customers:
        ful_name: FIRSTNAME
        contact: { email: e_mail }
      orders:
        sync_as: events
        properties:
          total: amont
          order_status: status
      products:
        name: PRODUCT
`;

describe('a mapping that does not match the database', () => {
  it('fails before writing, naming each place in nudge.yaml with the nearest name', async () => {
    const cwd = await projectDir(BAD);
    const ran = await runCommand(syncAllCommand, cwd, { DATABASE_URL: db.url });
    expect(ran.code).toBe(2);
    const lines = ran.err.split('\n');
    const expected = [
      'nudge.yaml:5:7 connectors.supabase.user_mapping.last_sign_in: auth.users has no column "last_sign_in" (did you mean "last_sign_in_at"?)',
      'nudge.yaml:6:7 connectors.supabase.user_mapping["user_metdata.plan"]: "user_metdata" is neither user_metadata nor app_metadata (did you mean "user_metadata"?)',
      'nudge.yaml:7:7 connectors.supabase.user_mapping.encrypted_password: encrypted_password holds credentials; Nudge never reads it',
      'nudge.yaml:9:7 connectors.supabase.table_mapping.custmers: no table public.custmers (did you mean "customers"?)',
      'nudge.yaml:12:9 connectors.supabase.table_mapping.customers.ful_name: public.customers has no column "ful_name" (did you mean "full_name"?)',
      'nudge.yaml:13:27 connectors.supabase.table_mapping.customers.contact.email: public.customers has no column "e_mail" (did you mean "email"?)',
      'nudge.yaml:17:18 connectors.supabase.table_mapping.orders.properties.total: public.orders has no column "amont" (did you mean "amount"?)',
      'nudge.yaml:18:25 connectors.supabase.table_mapping.orders.properties.order_status: public.orders has no column "status"',
      'nudge.yaml:19:7 connectors.supabase.table_mapping.products: cannot tell how a row of public.products finds its contact',
    ];
    for (const line of expected) expect(lines).toContain(`✗ ${line}`);
    expect(lines.filter((l) => l.startsWith('✗'))).toHaveLength(expected.length);
    expect(ran.err).toContain(
      'hint: properties are written property: column — did you mean status: order_status?',
    );
    const [written] = await db.sql`
      select (select count(*)::int from nudge_engine.contacts) as contacts,
             (select count(*)::int from nudge_engine.events) as events,
             (select count(*)::int from nudge_engine.sync_state) as checkpoints`;
    expect(written).toEqual({ contacts: 0, events: 0, checkpoints: 0 });
  });
});

describe('debug settings', () => {
  const suffix = randomBytes(4).toString('hex');
  const role = `sync_debug_${suffix}`;
  const password = `pw-S3cr3t-${suffix}`;
  const key = serviceRoleKey(`ref${suffix}`);
  beforeAll(async () => {
    await db.sql.unsafe(`CREATE ROLE ${ident(role)} LOGIN SUPERUSER PASSWORD '${password}'`);
  });
  afterAll(async () => {
    await db.sql.unsafe(`DROP OWNED BY ${ident(role)}; DROP ROLE IF EXISTS ${ident(role)}`);
  });

  const debugConfig = REFERENCE_CONNECTOR_AS_WRITTEN;

  it('print each statement and the run’s decisions, and never the key or the password', async () => {
    const cwd = await projectDir(debugConfig);
    const ran = await runCommand(syncAllCommand, cwd, {
      DATABASE_URL: db.urlAs(role, password),
      SUPABASE_SERVICE_ROLE_KEY: key,
    });
    expectOk(ran);
    const printed = `${ran.out}\n${ran.err}`;
    // The engine store is the source database: pages are id ranges, upserted in it.
    expect(ran.err).toContain('[query] select "id" from auth.users order by id limit $1');
    expect(ran.err).toMatch(
      /\[query\] with users as \( select u\.id, .* from auth\.users u .* insert into nudge_engine\.contacts/,
    );
    expect(ran.err).toContain('[debug] users: the engine store is the source database');
    expect(ran.err).toContain('[debug] users: reading columns id, email, phone');
    expect(ran.err).toContain('[debug] log_realtime: applies to live sync');
    expect(ran.err).toContain(`source: database postgres://${role}:***@127.0.0.1`);
    expect(printed).not.toContain(password);
    expect(printed).not.toContain(key);
    expect(printed).not.toContain(key.split('.')[2]);
  });

  it('keep a wrong password out of the connection error', async () => {
    const cwd = await projectDir(debugConfig);
    const wrong = `wrong-S3cr3t-${suffix}`;
    const ran = await runCommand(syncUsersCommand, cwd, {
      DATABASE_URL: db.urlAs(role, wrong),
      SUPABASE_SERVICE_ROLE_KEY: key,
    });
    expect(ran.code).toBe(1);
    expect(ran.err).toContain('password authentication failed');
    expect(`${ran.out}\n${ran.err}`).not.toContain(wrong);
  });
});
