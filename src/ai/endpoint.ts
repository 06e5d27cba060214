// The model `nudge new` drafts with: an OpenAI-compatible Chat Completions
// endpoint (hosted APIs, Ollama, llama.cpp's server) from `ai:` in nudge.yaml,
// its key read from the environment. One request at a time; 429 and 5xx are
// retried after Retry-After (or a short backoff), a timeout is not. A server
// that refuses the JSON Schema response format is asked again without it; one
// that streams (server-sent events) has its deltas put together. The key is
// never part of an error, even when the server echoes it.
import type { LoadedConfig } from '../config/load.js';
import { NudgeError } from '../errors.js';
import { retryAfterMs } from '../retry-after.js';
import { redactUrl } from '../source/connect.js';

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
    // The base URL, also when the whole endpoint URL was given.
    baseUrl: ai.base_url.replace(/\/+$/, '').replace(/\/chat\/completions$/, ''),
    model: ai.model,
    ...(apiKey ? { apiKey } : {}),
    timeoutMs: ai.timeout_ms,
    maxRetries: ai.max_retries,
  };
}

/** A 400 / 422 about the response format: the server has no JSON Schema output. */
const FORMAT_REFUSED = /response_format|json_schema|structured output/i;

/**
 * One Chat Completions call, with a JSON Schema response format when
 * `responseSchema` is given; returns the assistant message's content. A server
 * that refuses the format is asked again without it, and onFormatRefused is
 * told so the next calls leave it out. Errors say what the endpoint answered.
 */
export async function completeChat(
  endpoint: AiEndpoint,
  messages: ChatMessage[],
  responseSchema: { name: string; schema: Record<string, unknown> } | undefined,
  options: { sleep?: Sleep; onFormatRefused?: () => void } = {},
): Promise<string> {
  const sleep = options.sleep ?? realSleep;
  const url = new URL(`${endpoint.baseUrl}/chat/completions`);
  // A user and password in base_url (a proxy with basic auth) go in a header:
  // fetch refuses a URL that carries them. Messages name the URL without the password.
  const shown = redactUrl(url.href);
  const basic = url.username
    ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
    : undefined;
  url.username = '';
  url.password = '';
  let format = responseSchema;
  const bodyOf = () =>
    JSON.stringify({
      model: endpoint.model,
      messages,
      temperature: 0,
      // Not `strict`: the feature schema has free-form maps (conditions, bodies)
      // that strict mode cannot express; the validator checks the answer anyway.
      ...(format
        ? { response_format: { type: 'json_schema', json_schema: { ...format, strict: false } } }
        : {}),
    });
  for (let attempt = 0; ; attempt++) {
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(endpoint.apiKey
            ? { authorization: `Bearer ${endpoint.apiKey}` }
            : basic
              ? { authorization: basic }
              : {}),
        },
        body: bodyOf(),
        signal: AbortSignal.timeout(endpoint.timeoutMs),
      });
      // The timeout covers the body too: a server may send headers, then stall.
      text = await response.text();
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new NudgeError(
          `the AI endpoint ${shown} did not answer within ${endpoint.timeoutMs} ms`,
          'a local model may need longer: raise ai.timeout_ms in nudge.yaml',
        );
      }
      const cause = (error as Error & { cause?: Error }).cause?.message;
      throw new NudgeError(
        `cannot reach the AI endpoint ${shown}: ${(error as Error).message}${cause ? ` (${cause})` : ''}`,
        'check ai.base_url in nudge.yaml and that the server is running',
      );
    }
    if (response.ok) return contentOf(text, shown);
    const said = redact(errorText(text), endpoint.apiKey);
    if (
      format &&
      (response.status === 400 || response.status === 422) &&
      FORMAT_REFUSED.test(said)
    ) {
      format = undefined;
      options.onFormatRefused?.();
      attempt--;
      continue;
    }
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
      `the AI endpoint answered ${response.status}${retryable ? ` after ${attempt + 1} attempts` : ''}: ${said}`,
      response.status === 401 || response.status === 403
        ? 'check the API key in the environment variable named by ai.api_key_env (default NUDGE_AI_API_KEY)'
        : response.status === 404
          ? `check ai.base_url (it usually ends in /v1; this request went to ${shown}) and ai.model`
          : undefined,
    );
  }
}

type Message = { content?: unknown; refusal?: unknown; cut?: boolean };

function contentOf(text: string, url: string): string {
  const message = text.trimStart().startsWith('data:') ? streamedMessage(text) : oneMessage(text);
  if (message === undefined) {
    throw new NudgeError(`the AI endpoint ${url} answered something that is not JSON`);
  }
  if (typeof message?.refusal === 'string' && message.refusal) {
    throw new NudgeError(`the model refused: ${message.refusal}`);
  }
  // Asked again, a model stops at the same limit: say which limit, not "not JSON".
  if (message?.cut) {
    throw new NudgeError(
      'the model stopped at its output limit before its answer ended (finish_reason: length)',
      'use a model with a larger context; with Ollama, raise the context length (OLLAMA_CONTEXT_LENGTH, or num_ctx in a Modelfile): its default is smaller than this prompt',
    );
  }
  if (typeof message?.content !== 'string') {
    throw new NudgeError(`the AI endpoint ${url} answered without choices[0].message.content`);
  }
  return message.content;
}

/** choices[0].message of a JSON answer; undefined when it is not JSON. */
function oneMessage(text: string): Message | null | undefined {
  try {
    const json = JSON.parse(text) as { choices?: { message?: Message; finish_reason?: unknown }[] };
    const choice = json.choices?.[0];
    if (!choice?.message) return null;
    return choice.finish_reason === 'length' ? { ...choice.message, cut: true } : choice.message;
  } catch {
    return undefined;
  }
}

/** A server that streams whether asked or not: the `data:` events' choices[0].delta put together. */
function streamedMessage(text: string): Message | undefined {
  let content = '';
  let refusal = '';
  let cut = false;
  for (const line of text.split(/\r?\n/)) {
    const data = /^data:\s?(.*)$/.exec(line)?.[1]?.trim();
    if (!data || data === '[DONE]') continue;
    let event: { choices?: { delta?: Message; message?: Message; finish_reason?: unknown }[] };
    try {
      event = JSON.parse(data);
    } catch {
      return undefined;
    }
    const delta = event.choices?.[0]?.delta ?? event.choices?.[0]?.message;
    if (typeof delta?.content === 'string') content += delta.content;
    if (typeof delta?.refusal === 'string') refusal += delta.refusal;
    if (event.choices?.[0]?.finish_reason === 'length') cut = true;
  }
  return refusal ? { refusal } : { content, cut };
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

/** A server's words with the API key taken out: some echo the header they refused. */
function redact(text: string, apiKey: string | undefined): string {
  return apiKey ? text.split(apiKey).join('***') : text;
}
