import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REFERENCE_CONNECTOR_AS_WRITTEN } from '../../test/sync/fixture.js';
import { loadConfig, missingFeaturesDir } from './load.js';

async function project(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nudge-config-'));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  return dir;
}

async function loadError(files: Record<string, string>, env: Record<string, string> = {}) {
  const cwd = await project(files);
  const error = await loadConfig({ cwd, env }).then(
    () => undefined,
    (e: Error) => e,
  );
  if (!error) throw new Error('expected loadConfig to fail');
  return error.message.replaceAll(cwd + path.sep, '');
}

describe('loadConfig', () => {
  it('accepts the reference connector configuration as written', async () => {
    const cwd = await project({ 'nudge.yaml': REFERENCE_CONNECTOR_AS_WRITTEN });
    const loaded = await loadConfig({ cwd, env: { SUPABASE_SERVICE_ROLE_KEY: 'srk' } });
    const supabase = loaded.supabase!;
    expect(supabase.key).toBe('srk');
    expect(supabase.sync.tables).toEqual(['customers', 'orders', 'products']);
    expect(supabase.user_mapping?.['user_metadata.full_name']).toBe('FIRSTNAME');
    expect(supabase.table_mapping?.orders?.sync_as).toBe('events');
    expect(supabase.table_mapping?.customers?.mrr).toBe('MONTHLY_REVENUE');
    expect(supabase.log_level).toBe('verbose');
  });

  it('names the file, line, column and field of a bad value', async () => {
    const text = REFERENCE_CONNECTOR_AS_WRITTEN.replace('        - orders\n', '        - 12\n');
    expect(await loadError({ 'nudge.yaml': text }, { SUPABASE_SERVICE_ROLE_KEY: 'k' })).toBe(
      'nudge.yaml:11:11 connectors.supabase.sync.tables[1]: expected a table name, got 12',
    );
  });

  it('checks the outgoing webhook secret where it is written', async () => {
    const short = `whsec_${Buffer.from('15 bytes only!!').toString('base64')}`;
    expect(await loadError({ 'nudge.yaml': `webhooks:\n  secret: ${short}\n` })).toMatch(
      /^nudge.yaml:2:11 webhooks.secret: expected a Standard Webhooks secret/,
    );
    expect(await loadError({ 'nudge.yaml': 'webhooks:\n  secret: whsec_not*base64\n' })).toBe(
      'nudge.yaml:2:11 webhooks.secret: expected a Standard Webhooks secret: whsec_ followed by base64, at least 16 bytes',
    );
    // What was given is not repeated: it is a credential, and errors are printed and logged.
    expect(
      await loadError({ 'nudge.yaml': 'connectors:\n  resend:\n    api_key: 12345\n' }),
    ).not.toContain('12345');
  });

  it('refuses a provider without its section and a sender that is no address, at their lines', async () => {
    expect(
      await loadError({ 'nudge.yaml': 'email:\n  provider: smtp\n  from: not-an-email\n' }),
    ).toBe(
      [
        'nudge.yaml:2:13 email.provider: provider smtp needs its server: add smtp: { url: ${SMTP_URL} }',
        'nudge.yaml:3:9 email.from: expected a sender address, alone or as "Acme <hello@acme.com>", got "not-an-email"',
      ].join('\n'),
    );
    expect(await loadError({ 'nudge.yaml': 'email:\n  provider: resend\n' })).toBe(
      'nudge.yaml:2:13 email.provider: provider resend needs its API key: add resend: { api_key: ${RESEND_API_KEY} }',
    );
  });

  it('rejects unknown keys with a suggestion', async () => {
    expect(await loadError({ 'nudge.yaml': 'acess: read-only\n' })).toBe(
      'nudge.yaml:1:1 acess: unknown field "acess" (did you mean "access"?)',
    );
    expect(await loadError({ 'nudge.yaml': 'access: readonly\n' })).toBe(
      'nudge.yaml:1:9 access: expected one of read-write, read-only, got "readonly" (did you mean "read-only"?)',
    );
  });

  it('names the allowed capture transports and the closest to a typo', async () => {
    const allowed = 'expected outbox, webhook or replication';
    const cases: [string, string][] = [
      [
        'capture: replicaton\n',
        `1:10 capture: ${allowed}, got "replicaton" (did you mean "replication"?)`,
      ],
      [
        'capture: Replication\n',
        `1:10 capture: ${allowed}, got "Replication" (did you mean "replication"?)`,
      ],
      [
        'capture: logical\n',
        `1:10 capture: ${allowed}, got "logical" (did you mean "replication"?)`,
      ],
      ['capture: kafka\n', `1:10 capture: ${allowed}, got "kafka"`],
      [
        'capture:\n  transport: replicaton\n',
        `2:14 capture.transport: ${allowed}, got "replicaton" (did you mean "replication"?)`,
      ],
      [
        'capture:\n  transport: wal\n',
        `2:14 capture.transport: ${allowed}, got "wal" (did you mean "replication"?)`,
      ],
    ];
    for (const [yaml, error] of cases) {
      expect(await loadError({ 'nudge.yaml': yaml })).toBe(`nudge.yaml:${error}`);
    }
  });

  it('refuses a capture.replication section under another transport', async () => {
    const section = '  replication:\n    slot: app_changes\n';
    expect(await loadError({ 'nudge.yaml': `capture:\n${section}` })).toBe(
      'nudge.yaml:3:5 capture.replication: is set but capture.transport is outbox (the default): add transport: replication under capture, or remove this section',
    );
    expect(await loadError({ 'nudge.yaml': `capture:\n  transport: webhook\n${section}` })).toMatch(
      /^nudge.yaml:4:5 capture.replication: is set but capture.transport is webhook:/,
    );
    const cwd = await project({
      'nudge.yaml': `capture:\n  transport: replication\n${section}`,
    });
    const { config } = await loadConfig({ cwd, env: {} });
    expect(config.capture).toMatchObject({
      transport: 'replication',
      replication: { slot: 'app_changes', warn_retained_mb: 1024 },
    });
    const plain = await loadConfig({ cwd: await project({ 'nudge.yaml': 'capture: outbox\n' }) });
    expect(plain.config.capture.replication).toEqual({ slot: 'nudge', warn_retained_mb: 1024 });
  });

  it("reads the webhook transport's settings under capture, and says where a top-level webhook: moved", async () => {
    const section = '  webhook:\n    url: https://nudge.example.com/ingest\n';
    const cwd = await project({ 'nudge.yaml': `capture:\n  transport: webhook\n${section}` });
    const { config } = await loadConfig({ cwd, env: {} });
    expect(config.capture).toMatchObject({
      transport: 'webhook',
      webhook: { url: 'https://nudge.example.com/ingest', timeout_ms: 5000 },
    });
    expect(
      await loadError({ 'nudge.yaml': `capture:\n  transport: replication\n${section}` }),
    ).toBe(
      'nudge.yaml:4:5 capture.webhook: is set but capture.transport is replication: add transport: webhook under capture, or remove this section',
    );
    const old = 'capture: webhook\nwebhook:\n  url: https://nudge.example.com/ingest\n';
    expect(await loadError({ 'nudge.yaml': old })).toBe(
      'nudge.yaml:3:3 webhook: moved under capture: write capture: { transport: webhook, webhook: { url: … } } (webhooks:, with an s, signs the webhooks features send)',
    );
  });

  it('names a features: path that is no directory, for plan and deploy to refuse at its line', async () => {
    const typo = await project({ 'nudge.yaml': 'access: read-write\nfeatures: nudge/feature\n' });
    // Loading is fine (keys, logs, nudge new need no features); plan asks.
    const loaded = await loadConfig({ cwd: typo, env: {} });
    expect(missingFeaturesDir(loaded)?.message).toBe(
      'nudge.yaml:2:11 features: no directory nudge/feature: fix the path, or create it (a plan without it would drop every capture of your features)',
    );
    const file = await project({
      'nudge.yaml': 'features: flows\n',
      flows: 'a file, not a directory\n',
    });
    expect(missingFeaturesDir(await loadConfig({ cwd: file, env: {} }))?.message).toMatch(
      /^nudge\.yaml:1:11 features: no directory flows/,
    );
    const there = await project({ 'nudge.yaml': 'features: flows\n', 'flows/a.yaml': '' });
    expect(missingFeaturesDir(await loadConfig({ cwd: there, env: {} }))).toBeUndefined();
    // The default, unwritten, may be missing: a project with no features yet.
    const plain = await project({ 'nudge.yaml': 'access: read-write\n' });
    expect(missingFeaturesDir(await loadConfig({ cwd: plain, env: {} }))).toBeUndefined();
  });

  it('refuses attribute names every JavaScript object already has', async () => {
    const yaml =
      'connectors:\n  supabase:\n    user_mapping:\n      user_metadata.plan: constructor\n';
    expect(await loadError({ 'nudge.yaml': yaml })).toBe(
      'nudge.yaml:4:27 connectors.supabase.user_mapping["user_metadata.plan"]: "constructor" is reserved (every JavaScript object has it); choose another attribute name',
    );
    expect(
      await loadError({ 'nudge.yaml': 'contacts:\n  attributes:\n    toString: text\n' }),
    ).toContain('"toString" is reserved');
  });

  it('names a missing environment variable and where it is used', async () => {
    expect(await loadError({ 'nudge.yaml': 'features: ${NO_SUCH_VAR}\n' })).toBe(
      'nudge.yaml:1:11 environment variable NO_SUCH_VAR is not set',
    );
    // In database_url, only a lone ${VAR} is "no URL": a URL built from parts is not.
    expect(
      await loadError({ 'nudge.yaml': 'database_url: postgres://${NO_SUCH_HOST}/app\n' }),
    ).toBe('nudge.yaml:1:15 environment variable NO_SUCH_HOST is not set');
  });

  it('reads database_url written as one unset ${VAR} as no URL, keeping the error for where one is needed', async () => {
    const cwd = await project({ 'nudge.yaml': 'access: read-write\ndatabase_url: ${APP_DB}\n' });
    // Not DATABASE_URL instead: the file says where its URL comes from.
    const loaded = await loadConfig({ cwd, env: { DATABASE_URL: 'postgres://other/db' } });
    expect(loaded.databaseUrl).toBeUndefined();
    expect(loaded.config.database_url).toBeUndefined();
    expect(loaded.databaseUrlUnset?.variable).toBe('APP_DB');
    expect(loaded.databaseUrlUnset?.error.message).toBe(
      'nudge.yaml:2:15 environment variable APP_DB is not set',
    );
    // Set (in .env too), it is the URL as before.
    const set = await loadConfig({ cwd, env: { APP_DB: 'postgres://app/db' } });
    expect(set.databaseUrl).toBe('postgres://app/db');
    expect(set.databaseUrlUnset).toBeUndefined();
  });

  it('reads .env without overriding the environment, and supports defaults and $$', async () => {
    const cwd = await project({
      'nudge.yaml': 'database_url: ${DB}\nfeatures: ${FEATURES:-flows}\ntemplates: $${literal}\n',
      '.env': 'DB=postgres://from-dotenv/db\nOTHER=1\n',
      'flows/README': 'features live here\n',
    });
    const fromDotEnv = await loadConfig({ cwd, env: {} });
    expect(fromDotEnv.databaseUrl).toBe('postgres://from-dotenv/db');
    expect(fromDotEnv.featuresDir).toBe(path.join(cwd, 'flows'));
    expect(fromDotEnv.config.templates).toBe('${literal}');
    const fromEnv = await loadConfig({ cwd, env: { DB: 'postgres://from-env/db' } });
    expect(fromEnv.databaseUrl).toBe('postgres://from-env/db');
    // Where doctor says the URL came from: the field, and the variable it reads.
    expect(fromEnv.databaseUrlFrom).toBe('database_url in nudge.yaml (${DB})');
  });

  it('falls back to DATABASE_URL and works without a file', async () => {
    const cwd = await project({});
    const loaded = await loadConfig({ cwd, env: { DATABASE_URL: 'postgres://x/y' } });
    expect(loaded.file).toBeUndefined();
    expect(loaded.databaseUrl).toBe('postgres://x/y');
    expect(loaded.databaseUrlFrom).toBe('DATABASE_URL');
    expect(loaded.config.access).toBe('read-write');
  });

  it('reports YAML syntax errors with their position', async () => {
    expect(await loadError({ 'nudge.yaml': 'access: [\n' })).toMatch(/^nudge\.yaml:\d+:\d+ /);
  });

  it('loads --config from another directory', async () => {
    const dir = await project({ 'custom.yaml': 'access: read-only\n' });
    const loaded = await loadConfig({
      cwd: tmpdir(),
      configPath: path.join(dir, 'custom.yaml'),
      env: {},
    });
    expect(loaded.config.access).toBe('read-only');
    expect(loaded.dir).toBe(dir);
  });
});
