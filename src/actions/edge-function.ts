// The function action: invokes a Supabase Edge Function,
// POST {project_url}/functions/v1/{name}, with the service role key.

import type { LoadedConfig } from '../config/load.js';
import { stringifyJson } from '../db/json.js';
import { failureOf, httpUrl, idempotencyKey, resultBody, send } from './http.js';
import { isFunctionName } from './params.js';
import { type ActionProvider, PermanentError } from './types.js';
import { defaultBody } from './webhook.js';

/** The fields of connectors.supabase in nudge.yaml a function action calls with. */
export type FunctionConnectorField = 'project_url' | 'service_role_key';

/**
 * What nudge.yaml lacks for a function action to reach its Edge Function:
 * the fields of connectors.supabase missing (its key is service_role_key or
 * api_key), and whether it has connectors.supabase at all; undefined when
 * nothing is missing. A run refuses itself with it; plan refuses the action
 * (features/connector-checks.ts).
 */
export function functionConnectorProblem(
  supabase: LoadedConfig['supabase'],
): { missing: FunctionConnectorField[]; connector: boolean } | undefined {
  const missing: FunctionConnectorField[] = [];
  if (!supabase?.project_url) missing.push('project_url');
  if (!supabase?.key) missing.push('service_role_key');
  return missing.length ? { missing, connector: supabase !== undefined } : undefined;
}

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
    if (functionConnectorProblem(supabase)) {
      throw new PermanentError(
        'the function action needs connectors.supabase.project_url and service_role_key (or api_key) in nudge.yaml',
      );
    }
    // Both there, as functionConnectorProblem found.
    const { project_url: projectUrl, key } = supabase as { project_url: string; key: string };
    const params = run.params as { name: unknown; body?: unknown };
    const name = String(params.name ?? '');
    if (!isFunctionName(name)) {
      throw new PermanentError(`"${name}" is not an Edge Function name (letters, digits, - and _)`);
    }
    const base = httpUrl(projectUrl, 'connectors.supabase.project_url');
    const label = `edge function ${name}`;
    const answer = await send({
      url: `${base.href.replace(/\/+$/, '')}/functions/v1/${name}`,
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        apikey: key,
        'content-type': 'application/json',
        'idempotency-key': idempotencyKey(run.key),
      },
      body: stringifyJson(params.body === undefined ? defaultBody(run) : params.body),
      timeoutMs: env.project.config.webhooks.timeout_ms,
      name: label,
    });
    const failure = failureOf(answer, label);
    if (failure) throw failure;
    return { status: answer.status, body: resultBody(answer) };
  },
};
