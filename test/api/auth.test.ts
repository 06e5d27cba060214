// API keys: 401 for missing, unknown and revoked keys, 403 for a read key on a
// write route (with nothing written), last_used_at written at most once a
// minute, hashes only at rest, and `nudge keys create|list|revoke`.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../../src/cli/io.js';
import { keysCreate, keysList, keysRevoke, registerKeys } from '../../src/cli/keys.js';
import type { Wrap } from '../../src/cli/program.js';
import {
  ApiKeyNameTaken,
  createApiKey,
  hashApiKey,
  revokeApiKey,
} from '../../src/server/api/keys.js';
import { useDatabase } from '../harness/db.js';
import { type ApiServer, startApi } from './helpers.js';

const db = useDatabase();
let api: ApiServer;

beforeAll(async () => {
  api = await startApi(db);
});
afterAll(async () => {
  await api?.close();
});

const contactsCount = async () =>
  Number((await db.sql<{ n: string }[]>`select count(*) as n from nudge_engine.contacts`)[0]!.n);

describe('bearer keys', () => {
  it('401 without a key, with another scheme, with an unknown key', async () => {
    const missing = await api.call('GET', '/v1/contacts', { key: null });
    expect([missing.status, missing.json]).toEqual([
      401,
      expect.objectContaining({ error: 'missing_api_key' }),
    ]);
    const basic = await api.call('GET', '/v1/contacts', {
      key: null,
      headers: { authorization: 'Basic abc' },
    });
    expect(basic.status).toBe(401);
    const unknown = await api.call('GET', '/v1/contacts', { key: 'nudge_not-a-real-key' });
    expect([unknown.status, unknown.json]).toEqual([
      401,
      expect.objectContaining({ error: 'invalid_api_key' }),
    ]);
    const foreign = await api.call('GET', '/v1/contacts', { key: 'sk_live_whatever' });
    expect(foreign.status).toBe(401);
    // Not an API key at all (the dashboard link's token, say): the answer says what to use.
    expect(JSON.stringify(foreign.json)).toContain('nudge keys create');
    expect(JSON.stringify(unknown.json)).not.toContain('dashboard link');
  });

  it('a read key reads but gets 403 on writes, and nothing is written', async () => {
    const before = await contactsCount();
    const read = await api.call('GET', '/v1/contacts', { key: api.readKey });
    expect(read.status).toBe(200);
    for (const [method, path, body] of [
      ['POST', '/v1/contacts', { email: 'reader@example.com' }],
      ['POST', '/v1/events', { email: 'reader@example.com', event: 'x' }],
      ['POST', '/v1/lists', { name: 'readers' }],
      ['DELETE', '/v1/contacts/reader@example.com', undefined],
    ] as const) {
      const response = await api.call(method, path, { key: api.readKey, body });
      expect(response.status, `${method} ${path}`).toBe(403);
      expect(response.json).toMatchObject({ error: 'insufficient_scope' });
    }
    expect(await contactsCount()).toBe(before);
    const lists = await db.sql`select 1 from nudge_engine.lists where name = 'readers'`;
    expect(lists).toHaveLength(0);
    const write = await api.call('POST', '/v1/contacts', { body: { email: 'writer@example.com' } });
    expect(write.status).toBe(201);
  });

  it('a revoked key gets 401 at once', async () => {
    const { key, id } = await createApiKey(db.sql, 'short-lived', 'write');
    expect((await api.call('GET', '/v1/contacts', { key })).status).toBe(200);
    expect(await revokeApiKey(db.sql, 'short-lived')).toEqual([{ id, name: 'short-lived' }]);
    const response = await api.call('GET', '/v1/contacts', { key });
    expect([response.status, response.json]).toEqual([
      401,
      expect.objectContaining({ error: 'revoked_api_key' }),
    ]);
  });

  it('stores only the hash, and records use at most once a minute', async () => {
    const { key, id } = await createApiKey(db.sql, 'tracked', 'read');
    const [stored] = await db.sql<{ hash: string; last_used_at: Date | null }[]>`
      select hash, last_used_at from nudge_engine.api_keys where id = ${id}`;
    expect(stored).toEqual({ hash: hashApiKey(key), last_used_at: null });
    expect(JSON.stringify(await db.sql`select * from nudge_engine.api_keys`)).not.toContain(key);

    await api.call('GET', '/v1/contacts', { key });
    const lastUsed = async () =>
      (
        await db.sql<
          { at: Date | null }[]
        >`select last_used_at as at from nudge_engine.api_keys where id = ${id}`
      )[0]!.at;
    expect(await lastUsed()).toBeInstanceOf(Date);

    const recent = new Date(Date.now() - 30_000);
    await db.sql`update nudge_engine.api_keys set last_used_at = ${recent} where id = ${id}`;
    await api.call('GET', '/v1/contacts', { key });
    expect((await lastUsed())?.getTime()).toBe(recent.getTime());

    const stale = new Date(Date.now() - 120_000);
    await db.sql`update nudge_engine.api_keys set last_used_at = ${stale} where id = ${id}`;
    await api.call('GET', '/v1/contacts', { key });
    expect((await lastUsed())!.getTime()).toBeGreaterThan(stale.getTime() + 60_000);
  });

  it('one active key per name; the name is free again once revoked', async () => {
    await createApiKey(db.sql, 'ci', 'write');
    await expect(createApiKey(db.sql, 'ci', 'read')).rejects.toBeInstanceOf(ApiKeyNameTaken);
    await revokeApiKey(db.sql, 'ci');
    await expect(createApiKey(db.sql, 'ci', 'read')).resolves.toMatchObject({
      name: 'ci',
      scope: 'read',
    });
  });
});

describe('nudge keys', () => {
  let configPath: string;
  beforeAll(async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'nudge-keys-'));
    configPath = path.join(dir, 'nudge.yaml');
    await writeFile(configPath, `database_url: ${db.url}\n`);
  });

  it('create prints the key once, and it works; list shows it; revoke stops it', async () => {
    const created = memoryIo();
    expect(
      await keysCreate({ name: 'deploy-bot', scope: 'read', config: configPath }, created.io),
    ).toBe(0);
    const key = /nudge_[A-Za-z0-9_-]+/.exec(created.stdout())?.[0];
    expect(key).toBeDefined();
    expect((await api.call('GET', '/v1/contacts', { key: key! })).status).toBe(200);
    expect((await api.call('POST', '/v1/lists', { key: key!, body: { name: 'x' } })).status).toBe(
      403,
    );

    const listed = memoryIo();
    await keysList({ config: configPath }, listed.io);
    expect(listed.stdout()).toMatch(/deploy-bot\s+read\s+\S+\s+\S+Z\s+active/);
    expect(listed.stdout()).not.toContain(key!);

    const revoked = memoryIo();
    expect(await keysRevoke({ nameOrId: 'deploy-bot', config: configPath }, revoked.io)).toBe(0);
    expect(revoked.stdout()).toContain('revoked API key "deploy-bot"');
    expect((await api.call('GET', '/v1/contacts', { key: key! })).status).toBe(401);

    const again = memoryIo();
    await expect(
      keysRevoke({ nameOrId: 'deploy-bot', config: configPath }, again.io),
    ).rejects.toThrow('no active API key named or with id "deploy-bot"');
    await expect(
      keysCreate({ name: 'x', scope: 'admin', config: configPath }, again.io),
    ).rejects.toThrow('--scope admin: expected read, dashboard or write');
  });

  it('registers as `keys create <name> --scope`, `keys list --json`, `keys revoke <id>`', async () => {
    const { io, stdout } = memoryIo();
    const codes: number[] = [];
    const wrap: Wrap =
      (action) =>
      async (...args) => {
        const command = args[args.length - 1] as Command;
        codes.push(await action(command.optsWithGlobals() as never, io, command.args));
      };
    const program = new Command('nudge').option('-c, --config <file>').exitOverride();
    registerKeys(program, wrap);
    await program.parseAsync(
      ['-c', configPath, 'keys', 'create', 'registered', '--scope', 'read'],
      { from: 'user' },
    );
    await program.parseAsync(['-c', configPath, 'keys', 'list', '--json'], { from: 'user' });
    const listed = stdout()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map(
        (line) =>
          JSON.parse(line) as {
            id: string;
            name: string;
            scope: string;
            revoked_at: string | null;
          },
      );
    const registered = listed.find((k) => k.name === 'registered' && !k.revoked_at);
    expect(registered).toMatchObject({ scope: 'read' });
    await program.parseAsync(['-c', configPath, 'keys', 'revoke', registered!.id], {
      from: 'user',
    });
    expect(codes).toEqual([0, 0, 0]);
    const [row] = await db.sql<{ revoked_at: Date | null }[]>`
      select revoked_at from nudge_engine.api_keys where id = ${registered!.id}`;
    expect(row?.revoked_at).toBeInstanceOf(Date);
  });
});
