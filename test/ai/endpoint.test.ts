// The Chat Completions client of `nudge new` against a local stand-in: what it
// sends, how it retries (429 / 5xx, Retry-After, a cap on the wait) and what
// it says when it gives up. Waits go through an injected sleep, recorded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AiEndpoint, completeChat } from '../../src/ai/endpoint.js';
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

  it('says so when the answer has no message content', async () => {
    rec.failNext(1, 200, {}, { choices: [] });
    await expect(ask(endpoint())).rejects.toThrow('answered without choices[0].message.content');
  });
});
