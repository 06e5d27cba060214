// Who an email goes to, and who can refuse it. A `to` reaches exactly one
// address, the one admission checked: a list is refused, naming the value,
// and a display name with a comma still works. When `to` names someone other
// than the run's contact (an inviter's feature mailing the invitee), the
// opt-out checked and the unsubscribe link are the recipient's; when no
// contact has the address, a non-transactional email is refused, as nobody
// could unsubscribe from it. A complaint unsubscribes the recipient.
// Admission reads the recipient once, and the message goes to that reading:
// a contact that takes the address between the check and the send is not
// mailed on a check made for someone else.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailProvider } from '../../src/actions/email.js';
import type { ActionRun, RemoteProvider } from '../../src/actions/types.js';
import { setPreferences } from '../../src/contacts/preferences.js';
import { linkSignerFor } from '../../src/email/links.js';
import { uniqueKey } from '../actions/setup.js';
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

/** The message a run sent over SMTP (found by its Message-ID). */
function mailOf(run: { result: unknown }) {
  const messageId = (run.result as { message_id: string }).message_id;
  return world.smtp.waitFor((m) => m.headers['message-id'] === messageId);
}

/** The contact a link in the message names: its List-Unsubscribe https URI, or the body's preferences URL. */
function contactOfLink(url: string) {
  return linkSignerFor(world.project).verify(url.slice(url.lastIndexOf('/') + 1))?.contactId;
}

function unsubscribeUrl(headers: Record<string, string>): string {
  return /<(https:[^>]+)>/.exec(headers['list-unsubscribe'] ?? '')?.[1] ?? '';
}

async function subscribed(contactId: string, topic: string): Promise<boolean> {
  const [row] = await world.sql<{ subscribed: boolean }[]>`
    select subscribed from nudge_engine.email_preferences
     where contact_id = ${contactId} and topic = ${topic}`;
  return row?.subscribed ?? true;
}

describe('a `to` names one mailbox', () => {
  it('refuses a list for good, naming it, and mails neither address', async () => {
    const ada = await world.contact('ada@example.com');
    await world.sql`insert into nudge_engine.email_suppressions (address, reason)
                    values ('victim@example.com', 'bounced')`;
    const to = 'victim@example.com, <ada@example.com>';
    for (const provider of ['smtp', 'resend']) {
      const run = await world.send(ada, { topic: 'marketing', to, provider });
      expect(run).toMatchObject({
        status: 'dead',
        last_error: `email recipient "${to}" names 2 recipients (victim@example.com, ada@example.com): an email goes to exactly one address`,
      });
      // The run is final: its only attempt was made, and sent nothing.
      expect(world.resend.requests.filter((r) => r.headers['idempotency-key'] === run.key)).toEqual(
        [],
      );
    }
    expect(world.smtp.messages.filter((m) => m.to.includes('victim@example.com'))).toEqual([]);
    const group = await world.send(ada, { to: 'friends: victim@example.com;' });
    expect(group).toMatchObject({
      status: 'dead',
      last_error:
        'email recipient "friends: victim@example.com;" is a list: an email goes to exactly one address',
    });
  });

  it('sends to a display name holding a comma, quoted, to that address alone', async () => {
    const john = await world.contact('john@example.com');
    const smtp = await world.send(john, { to: '"Doe, John" <john@example.com>' });
    expect(smtp.status).toBe('succeeded');
    const mail = await mailOf(smtp);
    expect(mail.to).toEqual(['john@example.com']);
    expect(mail.headers.to).toBe('"Doe, John" <john@example.com>');
    const resend = await world.send(john, {
      to: '"Doe, John" <john@example.com>',
      provider: 'resend',
    });
    expect(resend.status).toBe('succeeded');
    const request = await world.resend.waitFor((r) => r.headers['idempotency-key'] === resend.key);
    expect((request.json as { to: string[] }).to).toEqual(['"Doe, John" <john@example.com>']);
  });

  it('checks suppression by the bare address of a named mailbox', async () => {
    const grace = await world.contact('grace@example.com');
    await world.sql`insert into nudge_engine.email_suppressions (address, reason)
                    values ('grace@example.com', 'bounced')`;
    expect(await world.send(grace, { to: 'Grace <Grace@Example.com>' })).toMatchObject({
      status: 'skipped',
      last_error: 'suppressed (grace@example.com bounced)',
    });
  });
});

describe('a `to` naming someone other than the run’s contact', () => {
  it('obeys the recipient’s opt-out, not the run contact’s', async () => {
    const inviter = await world.contact('inviter1@example.com');
    const invitee = await world.contact('invitee1@example.com');
    await setPreferences(world.sql, invitee, { marketing: false }, 'one-click');
    expect(
      await world.send(inviter, { topic: 'marketing', to: 'invitee1@example.com' }),
    ).toMatchObject({ status: 'skipped', last_error: 'unsubscribed (topic marketing)' });

    // The other way round: the inviter's opt-out does not stop the invitee's email.
    await setPreferences(world.sql, invitee, { marketing: true }, 'one-click');
    await setPreferences(world.sql, inviter, { marketing: false }, 'one-click');
    const sent = await world.send(inviter, { topic: 'marketing', to: 'invitee1@example.com' });
    expect(sent.status).toBe('succeeded');
  });

  it('signs its links for the recipient: one click unsubscribes the invitee, not the inviter', async () => {
    const inviter = await world.contact('inviter2@example.com');
    const invitee = await world.contact('invitee2@example.com');
    const sent = await world.send(inviter, { topic: 'marketing', to: 'invitee2@example.com' });
    expect(sent.status).toBe('succeeded');
    const mail = await mailOf(sent);
    expect(mail.to).toEqual(['invitee2@example.com']);
    const url = unsubscribeUrl(mail.headers);
    expect(contactOfLink(url)).toBe(invitee);
    const body = mail.raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
    const preferences = /https:\/\/[^"]+\/email\/preferences\/[\w-]+/.exec(body)?.[0] ?? '';
    expect(contactOfLink(preferences)).toBe(invitee);

    const answer = await world.server.app.request(new URL(url).pathname, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(answer.status).toBe(200);
    expect(await subscribed(invitee, 'marketing')).toBe(false);
    expect(await subscribed(inviter, 'marketing')).toBe(true);
  });

  it('refuses a non-transactional email to an address no contact has, and sends a transactional one', async () => {
    const inviter = await world.contact('inviter3@example.com');
    const refused = await world.send(inviter, { topic: 'marketing', to: 'stranger@example.com' });
    expect(refused).toMatchObject({
      status: 'dead',
      last_error:
        "email to stranger@example.com (topic marketing) has no contact to unsubscribe: no contact has that address (it is not the email of the run's contact); " +
        'make the recipient the contact of the feature (contact: { email: <column> } creates it), or name topic: transactional',
    });
    expect(world.smtp.messages.filter((m) => m.to.includes('stranger@example.com'))).toEqual([]);

    const receipt = await world.send(inviter, {
      topic: 'transactional',
      to: 'stranger@example.com',
    });
    expect(receipt.status).toBe('succeeded');
    const mail = await mailOf(receipt);
    expect(mail.headers['list-unsubscribe']).toBeUndefined();
    // No link in it names the inviter (or anyone): the stranger is no contact.
    expect(mail.raw).not.toContain('/email/');
  });

  it('unsubscribes the recipient who complained, not the run’s contact', async () => {
    const inviter = await world.contact('inviter4@example.com');
    const invitee = await world.contact('invitee4@example.com');
    const sent = await world.send(inviter, {
      topic: 'marketing',
      to: 'Invitee <invitee4@example.com>',
      provider: 'resend',
    });
    expect(sent.status).toBe('succeeded');
    const body = JSON.stringify({
      type: 'email.complained',
      created_at: '2026-03-01T12:00:05.000Z',
      data: {
        email_id: (sent.result as { message_id: string }).message_id,
        to: ['Invitee <invitee4@example.com>'],
      },
    });
    const answer = await world.server.app.request('/ingest/resend', {
      method: 'POST',
      headers: svixHeaders(body),
      body,
    });
    expect(await answer.json()).toMatchObject({ applied: { unsubscribed: true } });
    expect(await subscribed(invitee, '*')).toBe(false);
    expect(await subscribed(inviter, '*')).toBe(true);
  });
});

describe('one reading of the recipient, from the check to the send', () => {
  const email = emailProvider as RemoteProvider;

  /** A rendered email run of the inviter's feature, as admission is given it. */
  const runOf = (contactId: string, from: string, params: Record<string, unknown>): ActionRun => ({
    id: 0,
    key: uniqueKey('one-reading'),
    feature: 'invites',
    contactId,
    stage: 'invited',
    kind: 'email',
    params: { template: 'news', topic: 'marketing', ...params } as never,
    context: { contact: { id: contactId, email: from } },
    attempts: 0,
  });

  /** Admits the run as an attempt does, and returns the run it lets go. */
  async function admitted(run: ActionRun): Promise<ActionRun> {
    const [verdict] = await email.admit!([run], world.env, world.sql as never);
    expect(verdict).toHaveProperty('go');
    return (verdict as { go: ActionRun }).go;
  }

  it('does not mail a contact that took the address after admission found none', async () => {
    const inviter = await world.contact('inviter5@example.com');
    const go = await admitted(
      runOf(inviter, 'inviter5@example.com', { to: ' "Late Comer" <LATE5@Example.com> ' }),
    );
    // Between the check and the send, a contact who wants no offers gets the address.
    const late = await world.contact('late5@example.com');
    await setPreferences(world.sql, late, { marketing: false }, 'one-click');
    const refusal = await email.execute(go, world.env).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(refusal?.message).toMatch(
      /^email to late5@example\.com \(topic marketing\) has no contact to unsubscribe/,
    );
    expect(world.smtp.messages.filter((m) => m.to.includes('LATE5@Example.com'))).toEqual([]);
  });

  it('signs the links for the contact whose opt-out was checked, though the address moved since', async () => {
    const inviter = await world.contact('inviter6@example.com');
    const first = await world.contact('moved6@example.com');
    const go = await admitted(runOf(inviter, 'inviter6@example.com', { to: 'Moved6@Example.com' }));
    // The checked contact gives the address up; another, opted out, takes it.
    await world.sql`update nudge_engine.contacts set email = 'elsewhere6@example.com' where id = ${first}`;
    const second = await world.contact('moved6@example.com');
    await setPreferences(world.sql, second, { marketing: false }, 'one-click');
    const sent = await email.execute(go, world.env);
    const messageId = (sent as { message_id: string }).message_id;
    const mail = await world.smtp.waitFor((m) => m.headers['message-id'] === messageId);
    // SMTP writes the domain in lower case.
    expect(mail.to).toEqual(['Moved6@example.com']);
    expect(contactOfLink(unsubscribeUrl(mail.headers))).toBe(first);
  });

  it('reads a display name, upper case and spaces the same for the check, the contact and the send', async () => {
    const ann = await world.contact('ann7@example.com');
    const inviter = await world.contact('inviter7@example.com');
    const to = '  "Ann, the Invitee" <ANN7@Example.COM>  ';
    await setPreferences(world.sql, ann, { marketing: false }, 'one-click');
    expect(await world.send(inviter, { topic: 'marketing', to })).toMatchObject({
      status: 'skipped',
      last_error: 'unsubscribed (topic marketing)',
    });
    await setPreferences(world.sql, ann, { marketing: true }, 'one-click');
    const sent = await world.send(inviter, { topic: 'marketing', to });
    expect(sent.status).toBe('succeeded');
    const mail = await mailOf(sent);
    expect(mail.to).toEqual(['ANN7@example.com']);
    expect(mail.headers.to).toBe('"Ann, the Invitee" <ANN7@example.com>');
    expect(contactOfLink(unsubscribeUrl(mail.headers))).toBe(ann);
  });
});
