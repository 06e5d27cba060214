// Secrets at rest in the engine store (nudge_engine.secrets): AES-256-GCM under
// one 32-byte master key, from NUDGE_SECRET_KEY (base64) or the key file
// .nudge/secret.key in the project directory, created on first use.
//
// Guarantees: every write uses a fresh random 12-byte IV; the 16-byte GCM tag
// is checked on every read, and the secret's name is bound in as additional
// authenticated data, so a row altered by hand, copied onto another name or
// read with another key fails with an error that names the secret — never
// with garbage. Values never reach a log or an error message.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type postgres from 'postgres';
import type { LoadedConfig } from '../config/load.js';
import { DEMO_CONFIG } from '../dev/demo.js';
import { NudgeError } from '../errors.js';

const CIPHER = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_HINT = 'generate one with: openssl rand -base64 32';

/** Where the master key comes from; defaults: process.env, then <cwd>/.nudge/secret.key. */
export interface KeySource {
  /** The key itself (tests, or a caller that already loaded it). */
  key?: Buffer;
  env?: Record<string, string | undefined>;
  /** The project directory holding `.nudge/secret.key`. */
  dir?: string;
}

export class SecretError extends NudgeError {
  override name = 'SecretError';
}

type Db = postgres.Sql | postgres.TransactionSql;

export function keyFilePath(dir: string): string {
  return path.join(dir, '.nudge', 'secret.key');
}

/**
 * The master key lives with the project: NUDGE_SECRET_KEY from its env, or
 * its .nudge/secret.key. The bundled demo's lives in the folder it runs in
 * (demoKeyDir), not in Nudge's package beside its nudge.yaml: the commands
 * `nudge dev` prints (`--config <package>/examples/demo/…`) find the key
 * `nudge dev` made.
 */
export function keySourceOf(project: LoadedConfig): KeySource {
  if (project.file === DEMO_CONFIG && !project.env.NUDGE_SECRET_KEY?.trim())
    return { dir: demoKeyDir(project.cwd), env: project.env };
  return { dir: project.dir, env: project.env };
}

/**
 * Where the bundled demo's key is, for a run in `folder`: the folder's
 * .nudge/secret.key (made on first use), beside the demo database (.nudge/pg)
 * whose secrets it encrypts. Not in Nudge's package: for an `npm -g` install
 * a folder every user shares, that an upgrade replaces, and that may be
 * read-only. A key an earlier Nudge made there is read while the folder has
 * none, so that the secrets stored with it still decrypt; nothing is written
 * there.
 */
function demoKeyDir(folder: string): string {
  const earlier = path.dirname(DEMO_CONFIG);
  const inPackage = !existsSync(keyFilePath(folder)) && existsSync(keyFilePath(earlier));
  return inPackage ? earlier : folder;
}

/** The master key: given, from NUDGE_SECRET_KEY, or from the key file (created 0600 if absent). */
export function masterKey(source: KeySource = {}): Buffer {
  const existing = existingMasterKey(source);
  if (existing) return existing;
  const file = keyFilePath(source.dir ?? process.cwd());
  let text: string;
  try {
    text = createKeyFile(file);
  } catch (error) {
    throw keyFileError(error, file);
  }
  return checkedKey(decodeBase64(text, file), file);
}

/** The master key if there is one (given, NUDGE_SECRET_KEY, or an existing key file); never creates it. */
function existingMasterKey(source: KeySource): Buffer | undefined {
  if (source.key) return checkedKey(source.key, 'the master key');
  const fromEnv = (source.env ?? process.env).NUDGE_SECRET_KEY?.trim();
  if (fromEnv) return checkedKey(decodeBase64(fromEnv, 'NUDGE_SECRET_KEY'), 'NUDGE_SECRET_KEY');
  const file = keyFilePath(source.dir ?? process.cwd());
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw keyFileError(error, file);
  }
  return checkedKey(decodeBase64(text, file), file);
}

/**
 * The key file cannot be read or made (a folder Nudge may not write, a file
 * named .nudge): which file, and what to do, instead of a bare errno.
 */
function keyFileError(error: unknown, file: string): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (!code) return error;
  return new NudgeError(
    `cannot read or make the master key ${file} (${code})`,
    `make ${path.dirname(file)} a folder you can write, or set NUDGE_SECRET_KEY (${KEY_HINT})`,
  );
}

/**
 * Makes the key file, whole or not at all: the key is written to a file of
 * this process's own, then linked to its name, which fails if another
 * process made it meanwhile (then theirs is read). Made in place with 'wx',
 * a `nudge start` and two `nudge worker`s started together could read the
 * file between its creation and its write, empty ("is not base64").
 */
function createKeyFile(file: string): string {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const own = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(own, `${randomBytes(KEY_BYTES).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(own, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    rmSync(own, { force: true });
  }
  return readFileSync(file, 'utf8').trim();
}

function decodeBase64(text: string, where: string): Buffer {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
    throw new SecretError(`${where} is not base64`, KEY_HINT);
  }
  return Buffer.from(text, 'base64');
}

function checkedKey(key: Buffer, where: string): Buffer {
  if (key.length !== KEY_BYTES) {
    throw new SecretError(
      `${where} must hold ${KEY_BYTES} bytes (it holds ${key.length})`,
      KEY_HINT,
    );
  }
  return key;
}

/** Binds the ciphertext to its row: moving it onto another name fails the tag check. */
const aad = (name: string) => Buffer.from(`nudge secret:${name}`, 'utf8');

function encryptSecret(key: Buffer, name: string, value: string) {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(name));
  const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
  return { ciphertext, iv, tag: cipher.getAuthTag() };
}

function decryptSecret(
  key: Buffer,
  name: string,
  row: { ciphertext: Buffer; iv: Buffer; tag: Buffer },
): string {
  if (row.iv.length !== IV_BYTES || row.tag.length !== TAG_BYTES) {
    throw unreadable(name, 'the stored IV or tag has the wrong length (the row was altered)');
  }
  try {
    const decipher = createDecipheriv(CIPHER, key, row.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(name));
    decipher.setAuthTag(row.tag);
    return Buffer.concat([decipher.update(row.ciphertext), decipher.final()]).toString('utf8');
  } catch {
    throw unreadable(name, 'wrong master key, or the row was altered (GCM tag mismatch)');
  }
}

const unreadable = (name: string, why: string) =>
  new SecretError(
    `secret "${name}" cannot be decrypted: ${why}`,
    'use the master key it was stored with: copy the .nudge/secret.key of the project that stored it ' +
      '(the one whose nudge dev or nudge start ran first on this store) beside this nudge.yaml, or set NUDGE_SECRET_KEY to it; ' +
      'if that key is lost: nudge secret reset (the secrets are made anew, and senders need the new ones)',
  );

/** The error for stored secrets and no master key here, naming where it was looked for. */
const noKeyHere = (name: string, source: KeySource) =>
  unreadable(
    name,
    `no master key here (NUDGE_SECRET_KEY is not set and ${keyFilePath(source.dir ?? process.cwd())} does not exist)`,
  );

/**
 * The key to read a stored secret with: never a new one, which could not
 * read it (and would split the store's secrets between two keys).
 */
function keyForStored(name: string, source: KeySource): Buffer {
  const key = existingMasterKey(source);
  if (!key) throw noKeyHere(name, source);
  return key;
}

/**
 * Checks that every stored secret decrypts with this project's master key,
 * and returns their names. `nudge start` runs it before the engine takes any
 * work: a process started from another folder or machine, with another key,
 * would otherwise process events until the first one that needs a secret.
 * `nudge doctor` reports the same. Throws the first failure, naming the
 * others; with secrets stored and no key at all, it does not create one.
 */
export async function checkStoredSecrets(sql: Db, source: KeySource = {}): Promise<string[]> {
  const rows = await sql<{ name: string; ciphertext: Buffer; iv: Buffer; tag: Buffer }[]>`
    select name, ciphertext, iv, tag from nudge_engine.secrets order by name`;
  if (rows.length === 0) return [];
  const key = keyForStored(rows[0]!.name, source);
  const failures: { name: string; error: SecretError }[] = [];
  for (const row of rows) {
    try {
      decryptSecret(key, row.name, row);
    } catch (error) {
      if (!(error instanceof SecretError)) throw error;
      failures.push({ name: row.name, error });
    }
  }
  const [first, ...others] = failures;
  if (!first) return rows.map((row) => row.name);
  if (others.length === 0) throw first.error;
  const names = others.map((f) => `"${f.name}"`).join(', ');
  throw new SecretError(`${first.error.message}; nor can ${names}`, first.error.hint);
}

export async function setSecret(
  sql: Db,
  name: string,
  value: string,
  source?: KeySource,
): Promise<void> {
  const { ciphertext, iv, tag } = encryptSecret(masterKey(source), name, value);
  await sql`
    insert into nudge_engine.secrets (name, ciphertext, iv, tag)
    values (${name}, ${ciphertext}, ${iv}, ${tag})
    on conflict (name) do update
      set ciphertext = excluded.ciphertext, iv = excluded.iv, tag = excluded.tag, updated_at = now()`;
}

export async function getSecret(
  sql: Db,
  name: string,
  source?: KeySource,
): Promise<string | undefined> {
  const [row] = await sql<{ ciphertext: Buffer; iv: Buffer; tag: Buffer }[]>`
    select ciphertext, iv, tag from nudge_engine.secrets where name = ${name}`;
  return row ? decryptSecret(keyForStored(name, source ?? {}), name, row) : undefined;
}

/**
 * The stored secret, or a new one from `generate` stored first. Two processes
 * racing store one value (the insert that loses does nothing) and both
 * return the value that won.
 */
export async function ensureSecret(
  sql: Db,
  name: string,
  generate: () => string,
  source?: KeySource,
): Promise<string> {
  const existing = await getSecret(sql, name, source);
  if (existing !== undefined) return existing;
  // A key is made only for a store without secrets: beside others, a new
  // key would store this one where they cannot be read with it.
  let key = existingMasterKey(source ?? {});
  if (!key) {
    const [other] = await sql<{ name: string }[]>`
      select name from nudge_engine.secrets order by name limit 1`;
    if (other) throw noKeyHere(other.name, source ?? {});
    key = masterKey(source);
  }
  const { ciphertext, iv, tag } = encryptSecret(key, name, generate());
  await sql`
    insert into nudge_engine.secrets (name, ciphertext, iv, tag)
    values (${name}, ${ciphertext}, ${iv}, ${tag})
    on conflict (name) do nothing`;
  const stored = await getSecret(sql, name, source);
  if (stored === undefined) throw new SecretError(`secret "${name}" vanished while being stored`);
  return stored;
}

/** The secret every engine process stores or reads at start (claimMasterKey). */
export const KEY_CHECK = 'master-key-check';

/**
 * At an engine process's start, after checkStoredSecrets: stores a secret
 * of no use but this one, so that the first process's master key is the
 * store's from then on. Without it a process that stores nothing (nudge
 * worker) could run with a key of its own while another stored the ingest
 * secrets under theirs, and sign email links the other's server refuses;
 * with it the second is refused at start, as any other key is.
 */
export async function claimMasterKey(sql: Db, source: KeySource = {}): Promise<void> {
  await ensureSecret(sql, KEY_CHECK, () => randomBytes(16).toString('hex'), source);
}

/** Deletes every stored secret (a lost master key): the names deleted. */
export async function deleteSecrets(sql: Db): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`
    delete from nudge_engine.secrets returning name`;
  return rows.map((row) => row.name).sort();
}

/** The names of the stored secrets. */
export async function storedSecretNames(sql: Db): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`select name from nudge_engine.secrets order by name`;
  return rows.map((row) => row.name);
}

/** A Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}
