// Supabase Auth's own tables beyond users and identities hold sign-in
// secrets under names the credential rule did not know (auth.flow_state's
// auth_code, auth.mfa_challenges' otp_code): a table_mapping entry of one is
// refused where it is written, by `nudge sync` and by live sync's capture
// plan, and a capture of one (a feature's) leaves the code columns out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exclusionOf, wholeRowJson } from '../../src/capture/columns.js';
import { syncTablesCommand } from '../../src/cli/sync.js';
import { loadConfig } from '../../src/config/load.js';
import { liveSyncNeeds } from '../../src/contacts/live.js';
import { migrateEngine } from '../../src/db/migrate.js';
import { readCatalog } from '../../src/source/catalog.js';
import { useDatabase } from '../harness/db.js';
import { insertUsers, projectDir, runCommand, userId } from '../sync/fixture.js';

const db = useDatabase();

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  await insertUsers(db.sql, 1);
  // As Supabase Auth creates them (the columns that matter here).
  await db.sql.unsafe(`
    CREATE TABLE auth.flow_state (
      id uuid PRIMARY KEY,
      user_id uuid REFERENCES auth.users (id),
      auth_code text NOT NULL,
      code_challenge_method text NOT NULL,
      code_challenge text NOT NULL,
      provider_type text NOT NULL,
      created_at timestamptz,
      updated_at timestamptz,
      auth_code_issued_at timestamptz);
    CREATE TABLE auth.mfa_challenges (
      id uuid PRIMARY KEY,
      factor_id uuid NOT NULL,
      created_at timestamptz NOT NULL,
      verified_at timestamptz,
      ip_address inet NOT NULL,
      otp_code text);`);
  await db.sql`
    insert into auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge, provider_type, created_at, updated_at)
    values (gen_random_uuid(), ${userId(1)}, 'AUTH-CODE-SECRET', 's256', 'CHALLENGE', 'email', now(), now())`;
  await db.sql`
    insert into auth.mfa_challenges (id, factor_id, created_at, ip_address, otp_code)
    values (gen_random_uuid(), gen_random_uuid(), now(), '127.0.0.1', 'OTP-CODE-SECRET')`;
});

afterAll(async () => {
  await db.sql`drop table if exists auth.flow_state, auth.mfa_challenges`;
});

const MAPPED = `connectors:
  supabase:
    sync: { users: true, realtime: true }
    table_mapping:
      auth.flow_state:
        sync_as: events
        contact: { user_id: user_id }
      "auth.mfa_challenges":
        sync_as: events
        contact: { user_id: factor_id }
      auth.identities:
        sync_as: events
`;

describe('a table_mapping entry of an Auth table', () => {
  it('is refused by nudge sync at its place in nudge.yaml, and nothing is copied', async () => {
    const cwd = await projectDir(MAPPED);
    const ran = await runCommand(syncTablesCommand, cwd, { DATABASE_URL: db.url });
    expect(ran.code).toBe(2);
    const refused = (name: string) =>
      `${name} is a table of Supabase Auth whose rows hold sign-in codes and tokens: only auth.users (user_mapping) and auth.identities can be synced`;
    expect(ran.err).toContain(
      `✗ nudge.yaml:5:7 connectors.supabase.table_mapping["auth.flow_state"]: ${refused('auth.flow_state')}`,
    );
    expect(ran.err).toContain(
      `✗ nudge.yaml:8:7 connectors.supabase.table_mapping["auth.mfa_challenges"]: ${refused('auth.mfa_challenges')}`,
    );
    expect(ran.err).not.toContain('auth.identities is a table of Supabase Auth');
    const [copied] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from nudge_engine.events
       where properties::text like '%CODE-SECRET%'`;
    expect(copied!.n).toBe(0);
  });

  it('is refused by live sync’s capture plan (nudge plan / deploy)', async () => {
    const cwd = await projectDir(MAPPED);
    const project = await loadConfig({ cwd, env: { DATABASE_URL: db.url } });
    const catalog = await readCatalog(db.sql);
    expect(() => liveSyncNeeds(project, catalog)).toThrow(
      /table_mapping\["auth\.flow_state"\]: auth\.flow_state is a table of Supabase Auth/,
    );
  });
});

describe('the credential rule', () => {
  it('knows the code columns of Auth tables', async () => {
    const flow = { schema: 'auth', table: 'flow_state' };
    const challenges = { schema: 'auth', table: 'mfa_challenges' };
    expect(exclusionOf(flow, 'auth_code')).toBe('credential');
    expect(exclusionOf(flow, 'code_challenge')).toBe('credential');
    expect(exclusionOf(challenges, 'otp_code')).toBe('credential');
    expect(exclusionOf(flow, 'provider_type')).toBeUndefined();
    // Outside schema auth a code is the user's business.
    expect(exclusionOf({ schema: 'public', table: 'coupons' }, 'promo_code')).toBeUndefined();

    // A capture that takes whole rows (no catalog) leaves them out too.
    const [flowRow] = await db.sql.unsafe(
      `SELECT ${wholeRowJson('t', flow, {}, { jsonb: true })} AS row FROM auth.flow_state t`,
    );
    const [challengeRow] = await db.sql.unsafe(
      `SELECT ${wholeRowJson('t', challenges, {}, { jsonb: true })} AS row FROM auth.mfa_challenges t`,
    );
    expect(JSON.stringify([flowRow, challengeRow])).not.toContain('CODE-SECRET');
    expect(Object.keys(flowRow!.row).sort()).toEqual([
      'created_at',
      'id',
      'provider_type',
      'updated_at',
      'user_id',
    ]);
  });
});
