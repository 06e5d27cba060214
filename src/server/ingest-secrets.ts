// The secrets POST /ingest checks: the workspace's Standard Webhooks secret
// (ingest.secret in nudge.yaml, else one generated on first use and stored
// encrypted as `ingest`), and the shared secret Supabase Database Webhooks
// send in a header (stored encrypted as `ingest-shared`). The CLI prints them
// with ingestSecret() / ingestSharedSecret(); nothing here logs them.
import { randomBytes } from 'node:crypto';
import type postgres from 'postgres';
import { Webhook } from 'standardwebhooks';
import type { LoadedConfig } from '../config/load.js';
import { ensureSecret, generateWebhookSecret, type KeySource, keySourceOf } from '../db/secrets.js';
import { NudgeError } from '../errors.js';

export const INGEST_SECRET = 'ingest';
export const INGEST_SHARED_SECRET = 'ingest-shared';

export interface IngestSecrets {
  /** Standard Webhooks secrets any of which may sign a request (ingest, then capture.webhook.secret). */
  signing: string[];
  /** The value Supabase Database Webhooks send in x-nudge-secret or Authorization: Bearer. */
  shared: string;
}

/** The secret POST /ingest verifies signatures with, and where it comes from. */
export async function ingestSecret(
  sql: postgres.Sql,
  project: LoadedConfig,
  keys: KeySource = keySourceOf(project),
): Promise<{ secret: string; from: 'config' | 'stored' }> {
  const configured = project.config.ingest.secret;
  if (configured) return { secret: checked(configured, 'ingest.secret'), from: 'config' };
  return {
    secret: await ensureSecret(sql, INGEST_SECRET, generateWebhookSecret, keys),
    from: 'stored',
  };
}

export async function ingestSharedSecret(sql: postgres.Sql, keys: KeySource): Promise<string> {
  return ensureSecret(
    sql,
    INGEST_SHARED_SECRET,
    () => `nss_${randomBytes(24).toString('base64url')}`,
    keys,
  );
}

/**
 * The secret capture: webhook triggers sign with: capture.webhook.secret when set,
 * else the ingest secret, so that the server accepts what the triggers send.
 */
export async function captureSigningSecret(
  sql: postgres.Sql,
  project: LoadedConfig,
  keys: KeySource = keySourceOf(project),
): Promise<string> {
  const configured = project.config.capture.webhook?.secret;
  if (configured) return checked(configured, 'capture.webhook.secret');
  return (await ingestSecret(sql, project, keys)).secret;
}

export async function resolveIngestSecrets(
  sql: postgres.Sql,
  project: LoadedConfig,
  keys: KeySource = keySourceOf(project),
): Promise<IngestSecrets> {
  const signing = [(await ingestSecret(sql, project, keys)).secret];
  const capture = project.config.capture.webhook?.secret;
  if (capture && !signing.includes(capture))
    signing.push(checked(capture, 'capture.webhook.secret'));
  return { signing, shared: await ingestSharedSecret(sql, keys) };
}

function checked(secret: string, field: string): string {
  try {
    new Webhook(secret);
  } catch {
    throw new NudgeError(
      `${field} is not a Standard Webhooks secret`,
      'expected whsec_ followed by base64; remove it to let Nudge generate and store one',
    );
  }
  return secret;
}
