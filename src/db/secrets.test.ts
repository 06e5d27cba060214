// Secrets at rest: round trip, nothing readable in the table, the key file is
// created once with mode 0600, and a wrong key or an altered row fails clearly.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../../test/harness/db.js';
import { migrateEngine } from './migrate.js';
import {
  ensureSecret,
  generateWebhookSecret,
  getSecret,
  keyFilePath,
  masterKey,
  SecretError,
  setSecret,
} from './secrets.js';

const db = useDatabase();
const key = randomBytes(32);
let dir: string;

beforeAll(async () => {
  await migrateEngine(db.sql, db.url);
  dir = await mkdtemp(path.join(tmpdir(), 'nudge-secrets-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('secrets', () => {
  it('round-trips a value, and the table holds only ciphertext', async () => {
    const value = 're_live_1234567890 ✓';
    await setSecret(db.sql, 'resend', value, { key });
    expect(await getSecret(db.sql, 'resend', { key })).toBe(value);
    const [row] = await db.sql<{ ciphertext: Buffer; iv: Buffer; tag: Buffer }[]>`
      select ciphertext, iv, tag from nudge_engine.secrets where name = 'resend'`;
    expect(row!.ciphertext.toString('utf8')).not.toContain('re_live');
    expect(row!.ciphertext.equals(Buffer.from(value))).toBe(false);
    expect([row!.iv.length, row!.tag.length]).toEqual([12, 16]);

    // A fresh IV per write: the same value stored twice gives other bytes.
    await setSecret(db.sql, 'resend', value, { key });
    const [again] = await db.sql<{ ciphertext: Buffer; iv: Buffer }[]>`
      select ciphertext, iv from nudge_engine.secrets where name = 'resend'`;
    expect(again!.iv.equals(row!.iv)).toBe(false);
    expect(again!.ciphertext.equals(row!.ciphertext)).toBe(false);
    expect(await getSecret(db.sql, 'missing', { key })).toBeUndefined();
  });

  it('refuses a wrong key with an error naming the secret, never its value', async () => {
    await setSecret(db.sql, 'smtp', 'hunter2', { key });
    const wrong = randomBytes(32);
    const error = await getSecret(db.sql, 'smtp', { key: wrong }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretError);
    expect((error as Error).message).toMatch(/secret "smtp" cannot be decrypted: wrong master key/);
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('detects a tampered row and a ciphertext moved onto another name', async () => {
    await setSecret(db.sql, 'tampered', 'value-one', { key });
    await db.sql`update nudge_engine.secrets
                    set ciphertext = set_byte(ciphertext, 0, get_byte(ciphertext, 0) # 1)
                  where name = 'tampered'`;
    await expect(getSecret(db.sql, 'tampered', { key })).rejects.toThrow(
      /secret "tampered" cannot be decrypted/,
    );

    await setSecret(db.sql, 'a', 'value-a', { key });
    await setSecret(db.sql, 'b', 'value-b', { key });
    await db.sql`update nudge_engine.secrets as b
                    set ciphertext = a.ciphertext, iv = a.iv, tag = a.tag
                   from nudge_engine.secrets as a where a.name = 'a' and b.name = 'b'`;
    await expect(getSecret(db.sql, 'b', { key })).rejects.toThrow(/secret "b" cannot be decrypted/);

    await db.sql`update nudge_engine.secrets set tag = substring(tag from 1 for 4) where name = 'a'`;
    await expect(getSecret(db.sql, 'a', { key })).rejects.toThrow(/wrong length/);
  });

  it('ensureSecret generates once; concurrent callers agree on one value', async () => {
    let calls = 0;
    const generate = () => `${generateWebhookSecret()}-${++calls}`;
    const [first, second] = await Promise.all([
      ensureSecret(db.sql, 'ingest-race', generate, { key }),
      ensureSecret(db.sql, 'ingest-race', generate, { key }),
    ]);
    expect(first).toBe(second);
    expect(await ensureSecret(db.sql, 'ingest-race', generate, { key })).toBe(first);
    expect(first).toMatch(/^whsec_[A-Za-z0-9+/]{43}=-\d$/);
  });

  it('creates the key file once with mode 0600, and prefers NUDGE_SECRET_KEY', async () => {
    const fromFile = masterKey({ dir, env: {} });
    const file = keyFilePath(dir);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(masterKey({ dir, env: {} }).equals(fromFile)).toBe(true);
    expect((await readFile(file, 'utf8')).trim()).toBe(fromFile.toString('base64'));

    const env = { NUDGE_SECRET_KEY: key.toString('base64') };
    expect(masterKey({ dir, env }).equals(key)).toBe(true);
    await setSecret(db.sql, 'from-env', 'v', { dir, env });
    expect(await getSecret(db.sql, 'from-env', { key })).toBe('v');

    expect(() => masterKey({ env: { NUDGE_SECRET_KEY: 'c2hvcnQ=' } })).toThrow(
      /NUDGE_SECRET_KEY must hold 32 bytes \(it holds 5\)/,
    );
    expect(() => masterKey({ env: { NUDGE_SECRET_KEY: 'not base64!' } })).toThrow(/not base64/);
  });
});
