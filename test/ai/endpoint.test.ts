// The Chat Completions client of `nudge new` against a local stand-in: what it
// sends, how it retries (429 / 5xx, Retry-After, a cap on the wait) and what
// it says when it gives up; servers without JSON Schema output, servers that
// stream, servers that stall mid-answer or echo the key. Waits go through an
// injected sleep, recorded.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AiEndpoint, aiEndpointOf, completeChat } from '../../src/ai/endpoint.js';
import type { LoadedConfig } from '../../src/config/load.js';
import { type Recorder, startRecorder } from '../harness/http-recorder.js';

let rec: Recorder;
const waits: number[] = [];
const sleep = async (ms: number) => {
  waits.push(ms);
};
const format = { name: 'nudge_feature', schema: { type: 'object' } };
const endpoint = (overrides: Partial<AiEndpoint> = {}): AiEndpoint => ({
  baseUrl: `${rec.url}/v1`,
  model: 'm',
  timeoutMs: 2000,
  maxRetries: 2,
  ...overrides,
});
const ask = (e: AiEndpoint) =>
  completeChat(e, [{ role: 'user', content: 'hi' }], format, { sleep });

beforeAll(async () => {
  rec = await startRecorder();
  rec.route('POST', '/v1/chat/completions', {
    body: { choices: [{ message: { role: 'assistant', content: '{"name":"x"}' } }] },
  });
});
afterAll(async () => {
  await rec.close();
});

describe('completeChat', () => {
  it('posts the model, the messages and a json_schema response format, without a key when none is set', async () => {
    expect(await ask(endpoint())).toBe('{"name":"x"}');
    const request = rec.requests.at(-1)!;
    expect(request.headers.authorization).toBeUndefined();
    expect(request.json).toEqual({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      temperature: 0,
      response_format: { type: 'json_schema', json_schema: { ...format, strict: false } },
    });
  });

  it('backs off on 5xx without Retry-After and gives up after max_retries with the status', async () => {
    waits.length = 0;
    const before = rec.requests.length;
    rec.failNext(3, 503, {}, { error: { message: 'overloaded' } });
    await expect(ask(endpoint())).rejects.toThrow(
      'the AI endpoint answered 503 after 3 attempts: overloaded',
    );
    expect(rec.requests.length - before).toBe(3);
    expect(waits).toEqual([1000, 2000]);
  });

  it('refuses to wait longer than two minutes when Retry-After asks for it', async () => {
    waits.length = 0;
    rec.failNext(1, 429, { 'Retry-After': '3600' });
    await expect(ask(endpoint())).rejects.toThrow(
      'the AI endpoint answered 429 and asks to wait 3600 s',
    );
    expect(waits).toEqual([]);
  });

  it('does not retry a 401 and points at the key', async () => {
    const before = rec.requests.length;
    rec.failNext(1, 401, {}, { error: { message: 'Incorrect API key provided' } });
    const error = await ask(endpoint({ apiKey: 'sk-wrong' })).catch((e: unknown) => e);
    expect(error).toMatchObject({
      message: 'the AI endpoint answered 401: Incorrect API key provided',
      hint: expect.stringContaining('ai.api_key_env'),
    });
    expect(rec.requests.length - before).toBe(1);
    expect(rec.requests.at(-1)!.headers.authorization).toBe('Bearer sk-wrong');
  });

  it('never prints the key, even when the server echoes it', async () => {
    rec.failNext(1, 401, {}, { error: { message: 'Invalid key sk-live-0123456789 for org' } });
    const error = (await ask(endpoint({ apiKey: 'sk-live-0123456789' })).catch(
      (e: unknown) => e,
    )) as Error;
    expect(error.message).toBe('the AI endpoint answered 401: Invalid key *** for org');
  });

  it('names the URL it posted to when the answer is 404', async () => {
    const error = await completeChat(
      { ...endpoint(), baseUrl: rec.url },
      [{ role: 'user', content: 'hi' }],
      format,
      { sleep },
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({
      message: expect.stringContaining('the AI endpoint answered 404'),
      hint: expect.stringContaining(`this request went to ${rec.url}/chat/completions`),
    });
  });

  it('asks again without the response format when the server refuses it, and says so', async () => {
    const before = rec.requests.length;
    rec.failNext(
      1,
      400,
      {},
      {
        error: { message: "response_format type 'json_schema' is not supported by this model" },
      },
    );
    let refused = 0;
    const answer = await completeChat(endpoint(), [{ role: 'user', content: 'hi' }], format, {
      sleep,
      onFormatRefused: () => refused++,
    });
    expect(answer).toBe('{"name":"x"}');
    expect(refused).toBe(1);
    const [first, second] = rec.requests.slice(before) as { json: Record<string, unknown> }[];
    expect(first!.json.response_format).toBeDefined();
    expect(second!.json).not.toHaveProperty('response_format');
  });

  it('fails on another 400 without asking again', async () => {
    const before = rec.requests.length;
    rec.failNext(1, 400, {}, { error: { message: 'messages: too long' } });
    await expect(ask(endpoint())).rejects.toThrow(
      'the AI endpoint answered 400: messages: too long',
    );
    expect(rec.requests.length - before).toBe(1);
  });

  it('puts together the answer of a server that streams (server-sent events)', async () => {
    const event = (content: string) =>
      `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`;
    rec.failNext(
      1,
      200,
      { 'content-type': 'text/event-stream' },
      `${event('{"name":')}${event('"streamed"}')}data: [DONE]\n\n`,
    );
    expect(await ask(endpoint())).toBe('{"name":"streamed"}');
  });

  it('times out a server that sends its headers and then stalls', async () => {
    const stalling = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"choices":');
    });
    await new Promise<void>((resolve) => stalling.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(stalling.address() as AddressInfo).port}/v1`;
    try {
      const error = await ask(endpoint({ baseUrl: url, timeoutMs: 300 })).catch((e: unknown) => e);
      expect(error).toMatchObject({
        name: 'NudgeError',
        message: `the AI endpoint ${url}/chat/completions did not answer within 300 ms`,
      });
    } finally {
      stalling.closeAllConnections();
      await new Promise((resolve) => stalling.close(resolve));
    }
  });

  it('says why a server cannot be reached', async () => {
    // A port nothing listens on: one a server had, closed.
    const gone = createServer();
    await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(gone.address() as AddressInfo).port}/v1`;
    await new Promise((resolve) => gone.close(resolve));
    const error = await ask(endpoint({ baseUrl: url })).catch((e: unknown) => e);
    expect(error).toMatchObject({
      message: `cannot reach the AI endpoint ${url}/chat/completions: fetch failed (connect ECONNREFUSED ${url.slice(7, -3)})`,
    });
  });

  it('says the answer was cut at the output limit, whole or streamed, instead of "not JSON"', async () => {
    const cut = { message: expect.stringContaining('(finish_reason: length)') };
    rec.failNext(
      1,
      200,
      {},
      { choices: [{ message: { content: '{"name":"x","stages":[' }, finish_reason: 'length' }] },
    );
    expect(await ask(endpoint()).catch((e: unknown) => e)).toMatchObject({
      ...cut,
      hint: expect.stringContaining('OLLAMA_CONTEXT_LENGTH'),
    });
    const event = (choice: object) => `data: ${JSON.stringify({ choices: [choice] })}\n\n`;
    rec.failNext(
      1,
      200,
      { 'content-type': 'text/event-stream' },
      `${event({ delta: { content: '{"name":' } })}${event({ delta: {}, finish_reason: 'length' })}data: [DONE]\n\n`,
    );
    expect(await ask(endpoint()).catch((e: unknown) => e)).toMatchObject(cut);
  });

  it('sends a user and password in base_url as basic auth, and never names the password', async () => {
    const baseUrl = `${rec.url.replace('//', '//me:s3cret-pw@')}/v1`;
    expect(await ask(endpoint({ baseUrl }))).toBe('{"name":"x"}');
    expect(rec.requests.at(-1)!.headers.authorization).toBe(
      `Basic ${Buffer.from('me:s3cret-pw').toString('base64')}`,
    );
    rec.failNext(1, 404, {}, { error: { message: 'no such route' } });
    const error = await ask(endpoint({ baseUrl })).catch((e: unknown) => e);
    expect(error).toMatchObject({ hint: expect.stringContaining('me:***@') });
    expect(JSON.stringify([String(error), (error as { hint: string }).hint])).not.toContain(
      's3cret-pw',
    );
  });

  it('says so when the answer has no message content', async () => {
    rec.failNext(1, 200, {}, { choices: [] });
    await expect(ask(endpoint())).rejects.toThrow('answered without choices[0].message.content');
  });
});

describe('aiEndpointOf', () => {
  const of = (base_url: string) =>
    aiEndpointOf({
      config: { ai: { base_url, model: 'm', api_key_env: 'K', timeout_ms: 1, max_retries: 0 } },
      env: {},
    } as unknown as LoadedConfig).baseUrl;

  it('takes the base URL with or without a trailing slash, or the whole endpoint URL', () => {
    expect(of('http://localhost:11434/v1')).toBe('http://localhost:11434/v1');
    expect(of('http://localhost:11434/v1/')).toBe('http://localhost:11434/v1');
    expect(of('http://localhost:1234/v1/chat/completions')).toBe('http://localhost:1234/v1');
  });
});
