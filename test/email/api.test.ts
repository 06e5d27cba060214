// /v1/email through the TypeScript client (issue 21.1 and 21.2): an app reads
// and writes a contact's preferences, which the next send obeys; and per
// feature and template, what became of the emails sent, counted from Resend's
// signed webhooks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Nudge, NudgeApiError } from '../../src/client/index.js';
import { createApiKey } from '../../src/server/api/keys.js';
import { useDatabase } from '../harness/db.js';
import { type EmailWorld, resendAccepts, startEmailWorld, svixHeaders } from './setup.js';

const db = useDatabase();
let world: EmailWorld;
let nudge: Nudge;
let reader: Nudge;

beforeAll(async () => {
  world = await startEmailWorld(db);
  resendAccepts(world);
  const client = async (scope: 'read' | 'write') =>
    new Nudge({
      url: 'http://nudge.test',
      apiKey: (await createApiKey(world.sql, `app-${scope}`, scope)).key,
      fetch: (input, init) => Promise.resolve(world.server.app.request(String(input), init)),
    });
  nudge = await client('write');
  reader = await client('read');
});

afterAll(async () => {
  await world?.close();
});

describe('preferences', () => {
  it('reads and writes a contact’s topics by email or id, and the next send obeys', async () => {
    const ada = await world.contact('ada@example.com');
    expect(await reader.email.preferences('ada@example.com')).toEqual({
      contact_id: ada,
      all: true,
      topics: [
        { name: 'general', label: 'General', subscribed: true },
        { name: 'product', label: 'Product news', subscribed: true },
        {
          name: 'marketing',
          label: 'Offers',
          description: 'Discounts and promotions',
          subscribed: true,
        },
      ],
    });
    const after = await nudge.email.setPreferences(ada, { topics: { marketing: false } });
    expect(after.topics.map((t) => `${t.name} ${t.subscribed}`)).toEqual([
      'general true',
      'product true',
      'marketing false',
    ]);
    expect(await world.send(ada, { topic: 'marketing' })).toMatchObject({
      status: 'skipped',
      last_error: 'unsubscribed (topic marketing)',
    });
    await nudge.email.setPreferences(ada, { topics: { marketing: true } });
    expect((await world.send(ada, { topic: 'marketing' })).status).toBe('succeeded');

    const none = await nudge.email.setPreferences(ada, { all: false });
    expect(none.all).toBe(false);
    expect(none.topics.every((t) => !t.subscribed)).toBe(true);
    expect((await world.send(ada, { topic: 'product' })).status).toBe('skipped');
  });

  it('refuses an unknown topic, an unknown contact, and a read key’s write', async () => {
    const bo = await world.contact('bo@example.com');
    const refusal = async (call: Promise<unknown>) => {
      const error = (await call.catch((e: unknown) => e)) as NudgeApiError;
      expect(error).toBeInstanceOf(NudgeApiError);
      return `${error.status} ${error.code}: ${error.detail}`;
    };
    expect(await refusal(nudge.email.setPreferences(bo, { topics: { news: false } }))).toBe(
      '422 invalid_body: topics.news: no such topic; email.topics has general, product, marketing',
    );
    expect(await refusal(nudge.email.preferences('nobody@example.com'))).toBe(
      '404 contact_not_found: contact nobody@example.com does not exist',
    );
    expect(await refusal(reader.email.setPreferences(bo, { all: false }))).toMatch(
      /^403 insufficient_scope/,
    );
  });
});

describe('stats', () => {
  it('counts sent, delivered, bounced, complained, opened and clicked per feature and template', async () => {
    const sent: { email: string; emailId: string }[] = [];
    for (const email of ['s1@example.com', 's2@example.com', 's3@example.com']) {
      const id = await world.contact(email);
      const run = await world.send(id, { topic: 'product', provider: 'resend', template: 'promo' });
      expect(run.status).toBe('succeeded');
      sent.push({ email, emailId: (run.result as { message_id: string }).message_id });
    }
    const hook = async (type: string, i: number) => {
      const body = JSON.stringify({
        type,
        created_at: new Date().toISOString(),
        data: { email_id: sent[i]!.emailId, to: [sent[i]!.email] },
      });
      const answer = await world.server.app.request('/ingest/resend', {
        method: 'POST',
        headers: svixHeaders(body),
        body,
      });
      expect(answer.status).toBe(200);
    };
    await hook('email.delivered', 0);
    await hook('email.delivered', 1);
    await hook('email.opened', 0);
    await hook('email.opened', 0); // opened twice: one message opened
    await hook('email.opened', 1);
    await hook('email.clicked', 1);
    await hook('email.bounced', 2);
    await hook('email.complained', 1);

    expect(await reader.email.stats({ template: 'promo' })).toEqual({
      stats: [
        {
          feature: 'test-feature',
          template: 'promo',
          sent: 3,
          delivered: 2,
          bounced: 1,
          complained: 1,
          opened: 2,
          clicked: 1,
        },
      ],
    });
    // A feature no file has and nothing was sent for is a typo (as on /v1/decisions).
    const typo = (await reader.email
      .stats({ feature: 'other' })
      .catch((e: unknown) => e)) as NudgeApiError;
    expect(typo).toBeInstanceOf(NudgeApiError);
    expect(`${typo.status} ${typo.code}: ${typo.detail}`).toBe(
      '422 unknown_feature: feature: no feature named "other" in nudge/features (the project has no features)',
    );
  });
});
