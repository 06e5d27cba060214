// The email action: checks that the message may go (email/admission.ts),
// composes it (recipient, sender, subject, the rendered template, the
// unsubscribe links and headers of its topic) and hands it to the provider
// the action or nudge.yaml names, through the EmailSender port.
import { admitEmails } from '../email/admission.js';
import { unsubscribeHeaders } from '../email/headers.js';
import { type EmailLinks, emailLinks } from '../email/links.js';
import { type RecipientReading, readRecipients, text } from '../email/recipient.js';
import { TRANSACTIONAL, topicOfAction } from '../email/topics.js';
import { makeDevMailbox } from './dev-mailbox.js';
import type { EmailSender, OutgoingEmail } from './email-sender.js';
import { rendererFor, templateVariables } from './render.js';
import { makeResendSender } from './resend.js';
import { makeSmtpSender } from './smtp.js';
import { type ActionEnv, type ActionProvider, type ActionRun, PermanentError } from './types.js';

type ProviderName = 'dev' | 'resend' | 'smtp';

function senderFor(provider: ProviderName, env: ActionEnv): EmailSender {
  const { email, webhooks } = env.project.config;
  switch (provider) {
    case 'dev':
      return makeDevMailbox(env.sql);
    case 'resend':
      return makeResendSender(email.resend, webhooks.timeout_ms);
    case 'smtp':
      return makeSmtpSender(email.smtp, webhooks.timeout_ms);
  }
}

export const emailProvider: ActionProvider = {
  kinds: ['email'],
  admit: admitEmails,
  async execute(run, env) {
    if (run.kind !== 'email') throw new PermanentError(`email cannot run ${run.kind}`);
    const provider = emailProviderOf(run, env);
    const recipient = run.recipient ?? (await readRecipients(env.sql, [run]))[0]!;
    const message = await composeEmail(run, recipient, env, provider !== 'dev');
    const sent = await senderFor(provider, env).send(message);
    // The contact it went to, kept with the run: its delivery events apply to
    // that contact even if the address changes hands before they come.
    const recipient_contact_id = 'contactId' in recipient ? recipient.contactId : null;
    return { provider, message_id: sent.messageId, ...sent.detail, recipient_contact_id };
  },
};

function emailProviderOf(run: ActionRun, env: ActionEnv): ProviderName {
  const params = run.params as { provider?: ProviderName } | null;
  return params?.provider ?? env.project.config.email.provider;
}

/**
 * The message for an email run whose params are already rendered: `to`
 * (one mailbox) defaults to the contact's email, `from` to email.from, the
 * subject to the template's <title>, else the template name.
 * Non-transactional email gets its topic's unsubscribe link and headers,
 * signed, as the preference link is, for the contact who receives it
 * (recipient.ts); it is refused when no contact has the recipient's address,
 * as nobody could unsubscribe. `recipient`: the one admission read and
 * checked (run.recipient), else read for this run alone (execute).
 */
async function composeEmail(
  run: ActionRun,
  recipient: RecipientReading,
  env: ActionEnv,
  needsSender: boolean,
): Promise<OutgoingEmail> {
  const { email } = env.project.config;
  const params = run.params as {
    template: string;
    subject?: unknown;
    from?: unknown;
    topic?: string;
  };
  const topic = topicOfAction(email, params);
  if ('error' in topic) throw new PermanentError(topic.error);
  if ('error' in recipient) throw new PermanentError(recipient.error);
  const from = text(params.from) ?? text(email.from) ?? null;
  if (!from && needsSender) {
    throw new PermanentError(
      'email has no sender: set email.from in nudge.yaml or `from` on the action',
    );
  }
  const transactional = topic.topic === TRANSACTIONAL;
  // The links name the contact who receives the email, never another one.
  const { contactId } = recipient;
  if (!contactId && !transactional) {
    throw new PermanentError(noContactToUnsubscribe(run, recipient.address, topic.topic));
  }
  const links: Partial<EmailLinks> = contactId
    ? emailLinks(env.project, contactId, topic.topic)
    : {};
  // Transactional email cannot be refused: it has no unsubscribe link.
  if (transactional) delete links.unsubscribe_url;
  const variables = { ...templateVariables(run, env.project), ...links };
  const { html } = await rendererFor(env.project).template(params.template, variables);
  const subject = text(params.subject) ?? titleOf(html) ?? params.template;
  const headers = links.unsubscribe_url
    ? unsubscribeHeaders(links.unsubscribe_url, email.unsubscribe_mailto ?? from ?? undefined)
    : {};
  return { key: run.key, to: recipient.mailbox, from, subject, html, headers };
}

function noContactToUnsubscribe(run: ActionRun, address: string, topic: string): string {
  const whose = run.contactId === null ? '' : " (it is not the email of the run's contact)";
  return (
    `email to ${address} (topic ${topic}) has no contact to unsubscribe: no contact has that address${whose}; ` +
    'make the recipient the contact of the feature (contact: { email: <column> } creates it), or name topic: transactional'
  );
}

const ENTITIES: Record<string, string> = {
  '&amp;': '&',
  '&lt;': '<',
  '&gt;': '>',
  '&quot;': '"',
  '&#39;': "'",
};

function titleOf(html: string): string | undefined {
  const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(html)?.[1];
  return text(title?.replace(/&(amp|lt|gt|quot|#39);/g, (entity) => ENTITIES[entity] ?? entity));
}
