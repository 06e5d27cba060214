// One-click unsubscribe end to end (issue 21.1): a marketing email over SMTP
// carries List-Unsubscribe (https and mailto) and List-Unsubscribe-Post; the
// URL parsed from the captured message, POSTed as a mail provider would (no
// cookie, no login), unsubscribes the contact at once; the next marketing
// email is skipped with the reason, while other topics and transactional
// email still go. Then the preference page, Resend's headers, and the links.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkSignerFor, makeLinkSigner } from '../../src/email/links.js';
import { useDatabase } from '../harness/db.js';
import { type EmailWorld, startEmailWorld } from './setup.js';

const db = useDatabase();
let world: EmailWorld;

beforeAll(async () => {
  world = await startEmailWorld(db);
});

afterAll(async () => {
  await world?.close();
});

/** RFC 2369's List-Unsubscribe: comma-separated <URI>s. */
function listUnsubscribe(header: string): { https: string; mailto: string } {
  const uris = [...header.matchAll(/<([^>]+)>/g)].map((m) => m[1]!);
  return {
    https: uris.find((u) => u.startsWith('https://'))!,
    mailto: uris.find((u) => u.startsWith('mailto:'))!,
  };
}

const oneClick = (path: string) =>
  world.server.app.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'List-Unsubscribe=One-Click',
  });

async function decisionOf(key: string) {
  const [row] = await world.sql<{ outcome: string; reason: string }[]>`
    select outcome, reason from nudge_engine.decisions
     where detail ->> 'key' = ${key} order by id desc limit 1`;
  return row;
}

describe('one-click unsubscribe over SMTP', () => {
  it('parses the headers from the message, unsubscribes with one POST, and skips the next email', async () => {
    const ada = await world.contact('ada@example.com');
    const first = await world.send(ada, { topic: 'marketing' });
    expect(first.status).toBe('succeeded');
    const messageId = (first.result as { message_id: string }).message_id;
    const mail = await world.smtp.waitFor((m) => m.headers['message-id'] === messageId);

    expect(mail.headers['list-unsubscribe-post']).toBe('List-Unsubscribe=One-Click');
    const { https, mailto } = listUnsubscribe(mail.headers['list-unsubscribe']!);
    expect(https).toMatch(/^https:\/\/nudge\.example\.com\/email\/unsubscribe\/[A-Za-z0-9_-]+$/);
    expect(mailto).toMatch(/^mailto:hello@acme\.example\?subject=unsubscribe%20[A-Za-z0-9_-]+$/);
    // The body's link is the header's link; neither shows the contact's id.
    expect(mail.raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=')).toContain(https);
    for (const form of [ada, ada.replace(/-/g, '')]) expect(https).not.toContain(form);

    const path = new URL(https).pathname;
    const answer = await oneClick(path);
    expect(answer.status).toBe(200);
    expect(await answer.text()).toContain('You will no longer receive <strong>Offers</strong>');
    // Idempotent: a second POST (a provider retrying) is a 200 too, and changes nothing.
    expect((await oneClick(path)).status).toBe(200);
    const changes = await world.sql`
      select properties from nudge_engine.events
       where contact_id = ${ada} and name = 'email.preferences_changed'`;
    expect(changes).toEqual([
      { properties: { changes: { marketing: false }, source: 'one-click' } },
    ]);

    const second = await world.send(ada, { topic: 'marketing' });
    expect(second).toMatchObject({
      status: 'skipped',
      last_error: 'unsubscribed (topic marketing)',
    });
    expect(await decisionOf(second.key)).toEqual({
      outcome: 'skipped',
      reason: 'unsubscribed (topic marketing)',
    });
    const sentTo = world.smtp.messages.filter((m) => m.to.includes('ada@example.com'));
    expect(sentTo).toHaveLength(1);

    // Another topic and transactional email still go; transactional has no unsubscribe headers.
    expect((await world.send(ada, { topic: 'product' })).status).toBe('succeeded');
    const receipt = await world.send(ada, { topic: 'transactional' });
    expect(receipt.status).toBe('succeeded');
    const receiptMail = await world.smtp.waitFor(
      (m) => m.headers['message-id'] === (receipt.result as { message_id: string }).message_id,
    );
    expect(receiptMail.headers['list-unsubscribe']).toBeUndefined();
    expect(receiptMail.headers['list-unsubscribe-post']).toBeUndefined();
  });

  it('refuses a changed token, a token of another purpose, and GET never unsubscribes', async () => {
    const grace = await world.contact('grace@example.com');
    const sent = await world.send(grace, { topic: 'marketing' });
    const mail = await world.smtp.waitFor(
      (m) => m.headers['message-id'] === (sent.result as { message_id: string }).message_id,
    );
    const path = new URL(listUnsubscribe(mail.headers['list-unsubscribe']!).https).pathname;
    const token = path.split('/').pop()!;
    const flipped = `${token.slice(0, 30)}${token[30] === 'A' ? 'B' : 'A'}${token.slice(31)}`;
    const changed = await oneClick(`/email/unsubscribe/${flipped}`);
    expect(changed.status).toBe(401);
    expect(await changed.json()).toMatchObject({ error: 'bad_link' });
    const preferencesToken = linkSignerFor(world.project).sign({
      purpose: 'preferences',
      contactId: grace,
      topic: '',
    });
    expect((await oneClick(`/email/unsubscribe/${preferencesToken}`)).status).toBe(401);
    // A person who opens a changed link gets a page saying so, not JSON.
    for (const opened of [`/email/unsubscribe/${flipped}`, `/email/preferences/${flipped}`]) {
      const bad = await world.server.app.request(opened);
      expect(bad.status).toBe(401);
      expect(bad.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await bad.text()).toContain('<h1>This link is not valid</h1>');
    }

    // A mail scanner opening the link gets a page with a button; nothing changes.
    const page = await world.server.app.request(path);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<form method="post">');
    expect(html).not.toContain('<script');
    expect((await world.send(grace, { topic: 'marketing' })).status).toBe('succeeded');
  });
});

describe('the preference page', () => {
  it('shows each topic without JavaScript and saves the form: opt back in, opt out of another', async () => {
    const lin = await world.contact('lin@example.com');
    const sent = await world.send(lin, { topic: 'product' });
    const mail = await world.smtp.waitFor(
      (m) => m.headers['message-id'] === (sent.result as { message_id: string }).message_id,
    );
    const body = mail.raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
    const preferences = /href="(https:\/\/nudge\.example\.com\/email\/preferences\/[\w-]+)"/.exec(
      body,
    )![1]!;
    const path = new URL(preferences).pathname;

    const shown = await (await world.server.app.request(path)).text();
    expect(shown).not.toContain('<script');
    for (const label of ['General', 'Product news', 'Offers']) expect(shown).toContain(label);
    expect(shown.match(/type="checkbox" name="topic" value="\w+" checked/g)).toHaveLength(3);

    // Keep only marketing: product and general off.
    const saved = await world.server.app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'topic=marketing',
    });
    expect(saved.status).toBe(200);
    const after = await saved.text();
    expect(after).toContain('Saved.');
    expect(after).toContain('value="marketing" checked');
    expect(after).not.toContain('value="product" checked');

    expect((await world.send(lin, { topic: 'marketing' })).status).toBe('succeeded');
    expect(await world.send(lin, { topic: 'product' })).toMatchObject({
      status: 'skipped',
      last_error: 'unsubscribed (topic product)',
    });
    expect(await world.send(lin, {})).toMatchObject({
      status: 'skipped',
      last_error: 'unsubscribed (topic general)',
    });

    // "Unsubscribe from all", then everything back on.
    await world.server.app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'topic=marketing&all=off',
    });
    expect((await world.send(lin, { topic: 'marketing' })).status).toBe('skipped');
    await world.server.app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'topic=marketing&topic=product&topic=general',
    });
    expect((await world.send(lin, { topic: 'product' })).status).toBe('succeeded');
  });
});

describe('through Resend', () => {
  it('sends the same headers in the API call’s headers, and none for transactional email', async () => {
    world.resend.route('POST', '/emails', (request) => ({
      status: 200,
      body: { id: `em_${String(request.headers['idempotency-key']).slice(-8)}` },
    }));
    const kim = await world.contact('kim@example.com');
    const sent = await world.send(kim, { topic: 'product', provider: 'resend' });
    expect(sent.status).toBe('succeeded');
    const request = await world.resend.waitFor((r) => r.headers['idempotency-key'] === sent.key);
    const headers = (request.json as { headers: Record<string, string> }).headers;
    expect(headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    const { https } = listUnsubscribe(headers['List-Unsubscribe']!);
    expect((await oneClick(new URL(https).pathname)).status).toBe(200);
    expect(await world.send(kim, { topic: 'product', provider: 'resend' })).toMatchObject({
      status: 'skipped',
      last_error: 'unsubscribed (topic product)',
    });

    const receipt = await world.send(kim, { topic: 'transactional', provider: 'resend' });
    const tx = await world.resend.waitFor((r) => r.headers['idempotency-key'] === receipt.key);
    expect((tx.json as { headers?: unknown }).headers).toBeUndefined();
  });

  it('refuses an email whose topic is not in email.topics, naming the known ones', async () => {
    const ann = await world.contact('ann@example.com');
    expect(await world.send(ann, { topic: 'newsletter' })).toMatchObject({
      status: 'dead',
      last_error:
        'email topic "newsletter" is not in email.topics of nudge.yaml (known: transactional, general, product, marketing)',
    });
  });
});

describe('link tokens', () => {
  it('verify under a rotated key list, and stop verifying once the old key is dropped', () => {
    const old = Buffer.from('o'.repeat(32));
    const fresh = Buffer.from('n'.repeat(32));
    const claim = {
      purpose: 'unsubscribe' as const,
      contactId: '0190aa6e-8f1e-7c3b-9a2d-5e4f3a2b1c0d',
      topic: 'marketing',
    };
    const token = makeLinkSigner([old]).sign(claim);
    expect(makeLinkSigner([fresh, old]).verify(token)).toEqual(claim);
    expect(makeLinkSigner([fresh]).verify(token)).toBeUndefined();
    expect(makeLinkSigner([fresh, old]).sign(claim)).not.toBe(token);
    expect(token).not.toContain('0190aa6e');
  });
});
