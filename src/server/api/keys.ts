// API keys for the HTTP API: `nudge_<random>` shown once at creation, stored
// only as a sha256 hash, scoped read, dashboard or write, revocable. One active key per
// name, so `nudge keys revoke <name>` always means one key.
import { createHash, randomBytes } from 'node:crypto';
import type postgres from 'postgres';
import { NudgeError } from '../../errors.js';

/** read: GET only; dashboard: what the dashboard reads and does (pause, resume); write: everything. */
export type KeyScope = 'read' | 'dashboard' | 'write';

export interface ApiKeyInfo {
  id: string;
  name: string;
  scope: KeyScope;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export type Authentication =
  | { ok: true; key: Pick<ApiKeyInfo, 'id' | 'name' | 'scope'> }
  | { ok: false; reason: 'unknown' | 'revoked' };

const PREFIX = 'nudge_';
/** last_used_at is written at most this often per key: one small write a minute, not per request. */
const TOUCH_INTERVAL = '60 seconds';

export class ApiKeyNameTaken extends Error {
  override name = 'ApiKeyNameTaken';
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Creates a key; the returned `key` is the only time the secret exists outside the caller. */
export async function createApiKey(
  sql: postgres.Sql,
  name: string,
  scope: KeyScope,
): Promise<{ id: string; name: string; scope: KeyScope; key: string }> {
  const trimmed = name.trim();
  if (!trimmed) throw new NudgeError('an API key needs a name', 'who uses it, e.g. ci-sync');
  const key = PREFIX + randomBytes(24).toString('base64url');
  const [row] = await sql<{ id: string }[]>`
    insert into nudge_engine.api_keys (name, hash, scope)
    values (${trimmed}, ${hashApiKey(key)}, ${scope})
    on conflict (name) where revoked_at is null do nothing
    returning id`;
  if (!row) throw new ApiKeyNameTaken(`an active API key named "${trimmed}" already exists`);
  return { id: row.id, name: trimmed, scope, key };
}

export async function listApiKeys(sql: postgres.Sql): Promise<ApiKeyInfo[]> {
  return sql<ApiKeyInfo[]>`
    select id, name, scope, created_at, last_used_at, revoked_at
      from nudge_engine.api_keys
     order by revoked_at is not null, created_at, name`;
}

/** Revokes the active key with this name, or the key with this id; returns the keys revoked. */
export async function revokeApiKey(
  sql: postgres.Sql,
  nameOrId: string,
): Promise<Pick<ApiKeyInfo, 'id' | 'name'>[]> {
  const id = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(nameOrId)
    ? nameOrId
    : null;
  return sql<Pick<ApiKeyInfo, 'id' | 'name'>[]>`
    update nudge_engine.api_keys set revoked_at = now()
     where revoked_at is null
       and (name = ${nameOrId.trim()} or id = ${id}::uuid)
    returning id, name`;
}

/**
 * The key a bearer token names, in one round trip that also records the use
 * (at most once a minute per key). Unknown and malformed tokens cost one
 * indexed lookup of their hash; the hash reveals nothing about other keys.
 */
export async function authenticateApiKey(
  sql: postgres.Sql,
  token: string,
): Promise<Authentication> {
  if (!token.startsWith(PREFIX) || token.length > 200) return { ok: false, reason: 'unknown' };
  const [row] = await sql<(Pick<ApiKeyInfo, 'id' | 'name' | 'scope'> & { revoked: boolean })[]>`
    with found as (
      select id, name, scope, revoked_at, last_used_at
        from nudge_engine.api_keys where hash = ${hashApiKey(token)}
    ), touched as (
      update nudge_engine.api_keys k set last_used_at = now()
        from found
       where k.id = found.id and found.revoked_at is null
         and (found.last_used_at is null or found.last_used_at < now() - ${TOUCH_INTERVAL}::interval)
    )
    select id, name, scope, revoked_at is not null as revoked from found`;
  if (!row) return { ok: false, reason: 'unknown' };
  if (row.revoked) return { ok: false, reason: 'revoked' };
  return { ok: true, key: { id: row.id, name: row.name, scope: row.scope } };
}
