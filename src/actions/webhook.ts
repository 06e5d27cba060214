// The webhook action: a JSON request to the feature's URL, signed per the
// Standard Webhooks spec (webhook-id, webhook-timestamp, webhook-signature)
// with webhooks.secret, so any receiver can verify it with a published library.
import { createHmac } from 'node:crypto';
import { stringifyJson } from '../db/json.js';
import { signingKeyOf } from '../webhook-secret.js';
import { failureOf, httpUrl, resultBody, send } from './http.js';
import { type ActionEnv, type ActionProvider, type ActionRun, PermanentError } from './types.js';

const unsignedWarned = new WeakSet<object>();
/** Each secret's key bytes (the config has checked the secret: src/config/schema.ts). */
const keys = new Map<string, Buffer>();

/**
 * webhook-id is the run's key: the same on every attempt and replay of one
 * run, different for every other run. That is the receiver's idempotency key;
 * Standard Webhooks receivers are expected to drop an id they have seen.
 */
export const webhookProvider: ActionProvider = {
  kinds: ['webhook'],
  async execute(run, env) {
    if (run.kind !== 'webhook') throw new PermanentError(`webhook cannot run ${run.kind}`);
    const params = run.params as {
      url: unknown;
      method?: unknown;
      headers?: unknown;
      body?: unknown;
    };
    const url = httpUrl(params.url, 'webhook url');
    const method = params.method === 'PUT' || params.method === 'PATCH' ? params.method : 'POST';
    // The rows' numbers as they were: a bigint over 2^53 is sent as its digits (db/json.ts).
    const body = stringifyJson(params.body === undefined ? defaultBody(run) : params.body);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    for (const [name, value] of Object.entries((params.headers ?? {}) as Record<string, unknown>)) {
      headers[name.toLowerCase()] = String(value ?? '');
    }
    Object.assign(headers, signatureHeaders(run.key, body, env));
    const answer = await send({
      url: url.href,
      method,
      headers,
      body,
      timeoutMs: env.project.config.webhooks.timeout_ms,
      name: 'webhook',
    });
    const failure = failureOf(answer, 'webhook');
    if (failure) throw failure;
    return { status: answer.status, body: resultBody(answer) };
  },
};

/** What a webhook without `body` sends: the event, the contact, the rows, where in the journey. */
export function defaultBody(run: ActionRun): Record<string, unknown> {
  return {
    event: run.context.event ?? null,
    contact: run.context.contact ?? null,
    new: run.context.new ?? null,
    old: run.context.old ?? null,
    feature: run.feature,
    stage: run.stage,
  };
}

/**
 * The three Standard Webhooks headers, or none (and one warning per engine)
 * when webhooks.secret is not set. The timestamp is real time, not the
 * engine's clock: receivers compare it with theirs to refuse replays.
 */
export function signatureHeaders(
  runKey: string,
  body: string,
  env: ActionEnv,
): Record<string, string> {
  const secret = env.project.config.webhooks.secret;
  if (!secret) {
    if (!unsignedWarned.has(env)) {
      unsignedWarned.add(env);
      env.log('warn', 'webhooks.secret is not set: outgoing webhooks are sent unsigned', {
        setting: 'webhooks.secret',
        hint: 'set webhooks.secret (whsec_...) in nudge.yaml so receivers can verify them',
      });
    }
    return { 'webhook-id': runKey };
  }
  let key = keys.get(secret);
  if (!key) {
    key = signingKeyOf(secret);
    keys.set(secret, key);
  }
  // The spec's signature, with node:crypto: the library's own sign() runs
  // HMAC-SHA256 in JavaScript (fast-sha256), 1.4% of the engine's CPU in
  // bench:e2e's profile. Tests verify these headers with the library.
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = createHmac('sha256', key)
    .update(`${runKey}.${timestamp}.${body}`)
    .digest('base64');
  return {
    'webhook-id': runKey,
    'webhook-timestamp': timestamp,
    'webhook-signature': `v1,${signature}`,
  };
}
