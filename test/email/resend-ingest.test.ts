// POST /ingest/resend (issue 21.2): Resend's webhooks, signed as Svix signs
// them (built here from the documented scheme, not with a library): a
// permanent bounce suppresses the address for non-transactional email, a
// complaint unsubscribes the contact from every topic, delivery events land
// on the contact's timeline linked to the run that sent the message; the
// signature, the replay window and each svix-id once are enforced.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useDatabase } from '../harness/db.js';
import { type EmailWorld, resendAccepts, startEmailWorld, svixHeaders } from './setup.js';

const db = useDatabase();
let world: EmailWorld;

beforeAll(async () => {
  world = await startEmailWorld(db);
  resendAccepts(world);
});

afterAll(async () => {
  await world?.close();
});

function webhook(type: string, data: Record<string, unknown>, headers?: Record<string, string>) {
  const body = JSON.stringify({ type, created_at: '2026-03-01T12:00:05.000Z', data });
  return world.server.app.request('/ingest/resend', {
    method: 'POST',
    headers: headers ?? svixHeaders(body),
    body,
  });
}

async function sentWithResend(contactId: string, topic: string, params = {}) {
  const run = await world.send(contactId, { topic, provider: 'resend', ...params });
  expect(run.status).toBe('succeeded');
  return { ...run, emailId: (run.result as { message_id: string }).message_id };
}

describe('bounces and complaints', () => {
  it('suppresses a permanently bounced address for non-transactional email only', async () => {
    const ada = await world.contact('ada@example.com');
    const first = await sentWithResend(ada, 'marketing');
    const answer = await webhook('email.bounced', {
      email_id: first.emailId,
      to: ['ada@example.com'],
      bounce: { type: 'Permanent', subType: 'General', message: 'mailbox does not exist' },
    });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({
      received: 'email.bounced',
      applied: { contactId: ada, runKey: first.key, suppressed: true },
    });
    expect(await world.send(ada, { topic: 'product', provider: 'resend' })).toMatchObject({
      status: 'skipped',
      last_error: 'suppressed (ada@example.com bounced)',
    });
    expect((await world.send(ada, { topic: 'transactional', provider: 'resend' })).status).toBe(
      'succeeded',
    );
  });

  it('does not suppress on a transient bounce', async () => {
    const bo = await world.contact('bo@example.com');
    const first = await sentWithResend(bo, 'marketing');
    const answer = await webhook('email.bounced', {
      email_id: first.emailId,
      to: ['bo@example.com'],
      bounce: { type: 'Transient', subType: 'MailboxFull', message: 'mailbox full' },
    });
    expect(await answer.json()).toMatchObject({ applied: { suppressed: false } });
    expect((await world.send(bo, { topic: 'marketing', provider: 'resend' })).status).toBe(
      'succeeded',
    );
  });

  it('suppresses an address Resend refused to send to (its own suppression list)', async () => {
    const eve = await world.contact('eve@example.com');
    const first = await sentWithResend(eve, 'product');
    const answer = await webhook('email.suppressed', {
      email_id: first.emailId,
      to: ['eve@example.com'],
    });
    expect(await answer.json()).toMatchObject({ applied: { suppressed: true } });
    expect(await world.send(eve, { topic: 'product', provider: 'resend' })).toMatchObject({
      status: 'skipped',
      last_error: "suppressed (eve@example.com on Resend's suppression list)",
    });
  });

  it('unsubscribes a contact who complained from every topic', async () => {
    const cy = await world.contact('cy@example.com');
    const first = await sentWithResend(cy, 'marketing');
    const answer = await webhook('email.complained', {
      email_id: first.emailId,
      to: ['cy@example.com'],
    });
    expect(await answer.json()).toMatchObject({ applied: { unsubscribed: true } });
    for (const topic of ['marketing', 'product', 'general']) {
      expect(await world.send(cy, { topic, provider: 'resend' })).toMatchObject({
        status: 'skipped',
        last_error: `unsubscribed (topic ${topic})`,
      });
    }
    expect((await world.send(cy, { topic: 'transactional', provider: 'resend' })).status).toBe(
      'succeeded',
    );
  });
});

describe('an address that changed hands after the send', () => {
  // The contact the send used is kept with the run (result.recipient_contact_id);
  // the events of that send apply to it, not to whoever holds the address now.
  async function moveAddress(from: string, to: string, address: string) {
    await world.sql`update nudge_engine.contacts set email = ${`moved-${from}@example.com`} where id = ${from}`;
    await world.sql`update nudge_engine.contacts set email = ${address} where id = ${to}`;
  }
  const complaint = async (emailId: string, address: string) =>
    (await webhook('email.complained', { email_id: emailId, to: [address] })).json();
  /** Which of these contacts opted out of everything. */
  const optedOut = async (...ids: string[]) =>
    (
      await world.sql<{ contact_id: string }[]>`
        select contact_id from nudge_engine.email_preferences
         where contact_id = any(${ids}::uuid[]) and topic = '*' and subscribed = false`
    ).map((r) => r.contact_id);

  it('a complaint opts out the contact that was mailed, not the new holder of the address', async () => {
    const mailed = await world.contact('fay@example.com');
    const holder = await world.contact('fay-later@example.com');
    const sent = await sentWithResend(mailed, 'marketing');
    await moveAddress(mailed, holder, 'fay@example.com');
    expect(await complaint(sent.emailId, 'fay@example.com')).toMatchObject({
      applied: { contactId: mailed, runKey: sent.key, unsubscribed: true },
    });
    expect(await optedOut(mailed, holder)).toEqual([mailed]);
    expect((await world.send(holder, { topic: 'marketing', provider: 'resend' })).status).toBe(
      'succeeded',
    );
    expect(sent.result).toMatchObject({ recipient_contact_id: mailed });
  });

  it('a complaint about an email to another contact’s address opts out that recipient, as it was at the send', async () => {
    const inviter = await world.contact('gus@example.com');
    const invitee = await world.contact('hal@example.com');
    const holder = await world.contact('hal-later@example.com');
    const sent = await sentWithResend(inviter, 'product', { to: 'hal@example.com' });
    await moveAddress(invitee, holder, 'hal@example.com');
    // The timeline event stays the run's contact's; the opt-out is the recipient's.
    expect(await complaint(sent.emailId, 'hal@example.com')).toMatchObject({
      applied: { contactId: inviter, unsubscribed: true },
    });
    expect(await optedOut(inviter, invitee, holder)).toEqual([invitee]);
    expect(sent.result).toMatchObject({ recipient_contact_id: invitee });
  });

  it('a complaint opts out the contact that was mailed when nobody holds the address now', async () => {
    const kim = await world.contact('kim@example.com');
    const sent = await sentWithResend(kim, 'marketing');
    await world.sql`update nudge_engine.contacts set email = 'kim-new@example.com' where id = ${kim}`;
    expect(await complaint(sent.emailId, 'kim@example.com')).toMatchObject({
      applied: { contactId: kim, unsubscribed: true },
    });
    expect(await world.send(kim, { topic: 'product', provider: 'resend' })).toMatchObject({
      status: 'skipped',
      last_error: 'unsubscribed (topic product)',
    });
  });

  it('a send recorded before the contact was kept is still matched by the address', async () => {
    const ida = await world.contact('ida@example.com');
    const sent = await sentWithResend(ida, 'marketing');
    await world.sql`
      update nudge_engine.action_runs set result = result - 'recipient_contact_id' where key = ${sent.key}`;
    expect(await complaint(sent.emailId, 'ida@example.com')).toMatchObject({
      applied: { contactId: ida, unsubscribed: true },
    });
  });

  it('a bounce still suppresses the address, whoever holds it now', async () => {
    const jo = await world.contact('jo@example.com');
    const holder = await world.contact('jo-later@example.com');
    const sent = await sentWithResend(jo, 'marketing');
    await moveAddress(jo, holder, 'jo@example.com');
    const answer = await webhook('email.bounced', {
      email_id: sent.emailId,
      to: ['jo@example.com'],
      bounce: { type: 'Permanent', subType: 'General', message: 'mailbox does not exist' },
    });
    expect(await answer.json()).toMatchObject({ applied: { contactId: jo, suppressed: true } });
    expect(await world.send(holder, { topic: 'product', provider: 'resend' })).toMatchObject({
      status: 'skipped',
      last_error: 'suppressed (jo@example.com bounced)',
    });
  });
});

describe('delivery events', () => {
  it('puts delivered, delayed, opened, clicked and failed on the timeline, linked to the run', async () => {
    const dee = await world.contact('dee@example.com');
    const sent = await sentWithResend(dee, 'product');
    for (const type of [
      'email.delivery_delayed',
      'email.delivered',
      'email.opened',
      'email.clicked',
      'email.failed',
    ]) {
      const data: Record<string, unknown> = { email_id: sent.emailId, to: ['dee@example.com'] };
      if (type === 'email.clicked') data.click = { link: 'https://acme.example/offer' };
      expect((await webhook(type, data)).status).toBe(200);
    }
    const events = await world.sql<{ name: string; properties: Record<string, unknown> }[]>`
      select name, properties from nudge_engine.events
       where contact_id = ${dee} and source = 'resend' order by id`;
    expect(events.map((e) => e.name)).toEqual([
      'email.delivery_delayed',
      'email.delivered',
      'email.opened',
      'email.clicked',
      'email.failed',
    ]);
    for (const event of events) {
      expect(event.properties).toMatchObject({
        message_id: sent.emailId,
        run_key: sent.key,
        feature: 'test-feature',
        template: 'news',
        topic: 'product',
      });
    }
    expect(events[3]!.properties.click).toEqual({ link: 'https://acme.example/offer' });
  });
});

describe('verification', () => {
  const body = JSON.stringify({ type: 'email.delivered', data: { email_id: 'em_x', to: [] } });
  const post = (headers: Record<string, string>, payload = body) =>
    world.server.app.request('/ingest/resend', { method: 'POST', headers, body: payload });

  it('applies each svix-id once: a redelivery is a 200 that changes nothing', async () => {
    const headers = svixHeaders(body, { id: 'msg_once' });
    expect(await (await post(headers)).json()).toMatchObject({ applied: expect.any(Object) });
    expect(await (await post(headers)).json()).toEqual({
      received: 'email.delivered',
      duplicate: true,
    });
    const [row] = await world.sql`
      select count(*)::int as n from nudge_engine.events where idempotency_key = 'resend:msg_once'`;
    expect(row).toEqual({ n: 1 });
  });

  it('refuses a bad signature, another secret, a changed body, missing headers and a stale timestamp', async () => {
    const answers: string[] = [];
    const ask = async (label: string, headers: Record<string, string>, payload = body) => {
      const answer = await post(headers, payload);
      answers.push(
        `${label}: ${answer.status} ${((await answer.json()) as { error: string }).error}`,
      );
    };
    const good = svixHeaders(body);
    await ask('signature', { ...good, 'svix-signature': 'v1,AAAA' });
    await ask(
      'secret',
      svixHeaders(body, { secret: `whsec_${Buffer.alloc(24, 1).toString('base64')}` }),
    );
    await ask('body', good, body.replace('em_x', 'em_y'));
    await ask('missing', { 'content-type': 'application/json' });
    await ask('stale', svixHeaders(body, { timestamp: Math.floor(Date.now() / 1000) - 301 }));
    await ask('future', svixHeaders(body, { timestamp: Math.floor(Date.now() / 1000) + 301 }));
    expect(answers).toEqual([
      'signature: 401 bad_signature',
      'secret: 401 bad_signature',
      'body: 401 bad_signature',
      'missing: 401 missing_signature',
      'stale: 401 stale_timestamp',
      'future: 401 stale_timestamp',
    ]);
  });

  it('accepts a signature list where one entry matches (a rotated secret)', async () => {
    const good = svixHeaders(body);
    const answer = await post({ ...good, 'svix-signature': `v1,AAAA ${good['svix-signature']}` });
    expect(answer.status).toBe(200);
  });
});
