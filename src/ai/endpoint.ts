// The model `nudge new` drafts with: an OpenAI-compatible Chat Completions
// endpoint (hosted APIs, Ollama, llama.cpp's server) from `ai:` in nudge.yaml,
// its key read from the environment. One request at a time; 429 and 5xx are
// retried after Retry-After (or a short backoff), a timeout is not.
import type { LoadedConfig } from '../config/load.js';
import { NudgeError } from '../errors.js';
import { retryAfterMs } from '../retry-after.js';

export interface AiEndpoint {
  baseUrl: string;
  model: string;
  /** Absent for servers that need none (a local model). */
  apiKey?: string;
  timeoutMs: number;
  maxRetries: number;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Waits are injectable so tests can see the delay asked for without waiting it out. */
export type Sleep = (ms: number) => Promise<void>;
const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Longest Retry-After honoured; a longer one fails with the wait it asked for. */
const MAX_RETRY_AFTER_MS = 120_000;

/** The endpoint from nudge.yaml, or an error naming what to set. */
export function aiEndpointOf(project: LoadedConfig): AiEndpoint {
  const ai = project.config.ai;
  if (!ai) {
    throw new NudgeError(
      'no AI model configured: `nudge new` needs ai.base_url and ai.model in nudge.yaml',
      'add  ai: { base_url: https://api.openai.com/v1, model: gpt-4o-mini }  and put the key in NUDGE_AI_API_KEY (or name another variable with ai.api_key_env); a local server such as Ollama (http://localhost:11434/v1) needs no key',
    );
  }
  const apiKey = project.env[ai.api_key_env];
  return {
    baseUrl: ai.base_url.replace(/\/+$/, ''),
    model: ai.model,
    ...(apiKey ? { apiKey } : {}),
    timeoutMs: ai.timeout_ms,
    maxRetries: ai.max_retries,
  };
}

/**
 * One Chat Completions call with a JSON Schema response format; returns the
 * assistant message's content. Errors say what the endpoint answered.
 */
export async function completeChat(
  endpoint: AiEndpoint,
  messages: ChatMessage[],
  responseSchema: { name: string; schema: Record<string, unknown> },
  options: { sleep?: Sleep } = {},
): Promise<string> {
  const sleep = options.sleep ?? realSleep;
  const url = `${endpoint.baseUrl}/chat/completions`;
  const body = JSON.stringify({
    model: endpoint.model,
    messages,
    temperature: 0,
    // Not `strict`: the feature schema has free-form maps (conditions, bodies)
    // that strict mode cannot express; the validator checks the answer anyway.
    response_format: { type: 'json_schema', json_schema: { ...responseSchema, strict: false } },
  });
  for (let attempt = 0; ; attempt++) {
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(endpoint.apiKey ? { authorization: `Bearer ${endpoint.apiKey}` } : {}),
        },
        body,
        signal: AbortSignal.timeout(endpoint.timeoutMs),
      });
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new NudgeError(
          `the AI endpoint ${url} did not answer within ${endpoint.timeoutMs} ms`,
          'a local model may need longer: raise ai.timeout_ms in nudge.yaml',
        );
      }
      throw new NudgeError(
        `cannot reach the AI endpoint ${url}: ${(error as Error).message}`,
        'check ai.base_url in nudge.yaml and that the server is running',
      );
    }
    const text = await response.text();
    if (response.ok) return contentOf(text, url);
    const retryable = response.status === 429 || response.status >= 500;
    if (retryable && attempt < endpoint.maxRetries) {
      const asked = retryAfterMs(response.headers.get('retry-after'));
      if (asked !== undefined && asked > MAX_RETRY_AFTER_MS) {
        throw new NudgeError(
          `the AI endpoint answered ${response.status} and asks to wait ${Math.round(asked / 1000)} s`,
          'try again later',
        );
      }
      await sleep(asked ?? 1000 * 2 ** attempt);
      continue;
    }
    throw new NudgeError(
      `the AI endpoint answered ${response.status}${retryable ? ` after ${attempt + 1} attempts` : ''}: ${errorText(text)}`,
      response.status === 401 || response.status === 403
        ? 'check the API key in the environment variable named by ai.api_key_env (default NUDGE_AI_API_KEY)'
        : response.status === 404
          ? 'check ai.base_url (it usually ends in /v1) and ai.model'
          : undefined,
    );
  }
}

function contentOf(text: string, url: string): string {
  let json: { choices?: { message?: { content?: unknown; refusal?: unknown } }[] };
  try {
    json = JSON.parse(text);
  } catch {
    throw new NudgeError(`the AI endpoint ${url} answered something that is not JSON`);
  }
  const message = json.choices?.[0]?.message;
  if (typeof message?.refusal === 'string' && message.refusal) {
    throw new NudgeError(`the model refused: ${message.refusal}`);
  }
  if (typeof message?.content !== 'string') {
    throw new NudgeError(`the AI endpoint ${url} answered without choices[0].message.content`);
  }
  return message.content;
}

function errorText(text: string): string {
  try {
    const json = JSON.parse(text) as { error?: { message?: string } | string };
    const message = typeof json.error === 'string' ? json.error : json.error?.message;
    if (message) return message;
  } catch {
    // not JSON
  }
  return text.slice(0, 300) || '(empty body)';
}
