// The function action: invokes a Supabase Edge Function,
// POST {project_url}/functions/v1/{name}, with the service role key.

import { failureOf, httpUrl, idempotencyKey, resultBody, send } from './http.js';
import { isFunctionName } from './params.js';
import { type ActionProvider, PermanentError } from './types.js';
import { defaultBody } from './webhook.js';

/**
 * The function receives the run's key as Idempotency-Key, the same on every
 * attempt: a function with side effects should use it to do them once,
 * since a call that timed out may have run.
 */
export const edgeFunctionProvider: ActionProvider = {
  kinds: ['function'],
  async execute(run, env) {
    if (run.kind !== 'function') throw new PermanentError(`function cannot run ${run.kind}`);
    const supabase = env.project.supabase;
    if (!supabase?.project_url || !supabase.key) {
      throw new PermanentError(
        'the function action needs connectors.supabase.project_url and service_role_key (or api_key) in nudge.yaml',
      );
    }
    const params = run.params as { name: unknown; body?: unknown };
    const name = String(params.name ?? '');
    if (!isFunctionName(name)) {
      throw new PermanentError(`"${name}" is not an Edge Function name (letters, digits, - and _)`);
    }
    const base = httpUrl(supabase.project_url, 'connectors.supabase.project_url');
    const label = `edge function ${name}`;
    const answer = await send({
      url: `${base.href.replace(/\/+$/, '')}/functions/v1/${name}`,
      method: 'POST',
      headers: {
        authorization: `Bearer ${supabase.key}`,
        apikey: supabase.key,
        'content-type': 'application/json',
        'idempotency-key': idempotencyKey(run.key),
      },
      body: JSON.stringify(params.body === undefined ? defaultBody(run) : params.body),
      timeoutMs: env.project.config.webhooks.timeout_ms,
      name: label,
    });
    const failure = failureOf(answer, label);
    if (failure) throw failure;
    return { status: answer.status, body: resultBody(answer) };
  },
};
