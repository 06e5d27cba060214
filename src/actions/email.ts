// The email action: composes the message (recipient, sender, subject, the
// rendered template) and hands it to the provider the action or nudge.yaml
// names: Resend, SMTP, or the dev mailbox in the engine store.
import type postgres from 'postgres';
import { sendDev } from './dev-mailbox.js';
import { rendererFor, templateVariables } from './render.js';
import { sendResend } from './resend.js';
import { sendSmtp } from './smtp.js';
import { type ActionEnv, type ActionProvider, type ActionRun, PermanentError } from './types.js';

export interface EmailMessage {
  /** The run's idempotency key: providers pass it on so a retry is not a second email. */
  key: string;
  to: string;
  /** Always set for Resend and SMTP; the dev mailbox accepts none. */
  from: string | null;
  subject: string;
  html: string;
}

export type EmailSender = (
  message: EmailMessage,
  env: ActionEnv,
  tx: postgres.TransactionSql,
) => Promise<unknown>;

const senders: Record<'dev' | 'resend' | 'smtp', EmailSender> = {
  dev: sendDev,
  resend: sendResend,
  smtp: sendSmtp,
};

export const emailProvider: ActionProvider = {
  kinds: ['email'],
  async execute(run, env, tx) {
    if (run.kind !== 'email') throw new PermanentError(`email cannot run ${run.kind}`);
    const provider = emailProviderOf(run, env);
    const message = await composeEmail(run, env, provider !== 'dev');
    return { provider, ...((await senders[provider](message, env, tx)) as object) };
  },
  // The dev mailbox is a table of the engine store.
  usesStore: (run, env) => emailProviderOf(run, env) === 'dev',
};

function emailProviderOf(run: ActionRun, env: ActionEnv): 'dev' | 'resend' | 'smtp' {
  const params = run.params as { provider?: 'dev' | 'resend' | 'smtp' } | null;
  return params?.provider ?? env.project.config.email.provider;
}

/**
 * The message for an email run whose params are already rendered: `to`
 * defaults to the contact's email, `from` to email.from, the subject to the
 * template's <title>, else the template name.
 */
export async function composeEmail(
  run: ActionRun,
  env: ActionEnv,
  needsSender: boolean,
): Promise<EmailMessage> {
  const params = run.params as {
    template: string;
    to?: unknown;
    subject?: unknown;
    from?: unknown;
  };
  const to = text(params.to) ?? text(run.context.contact?.email);
  if (!to) {
    throw new PermanentError(
      'email has no recipient: the contact has no email and the action gives no `to`',
    );
  }
  if (!/^[^@\s]+@[^@\s]+$/.test(to.replace(/^.*<(.*)>\s*$/, '$1'))) {
    throw new PermanentError(`email recipient "${to}" is not an email address`);
  }
  const from = text(params.from) ?? text(env.project.config.email.from) ?? null;
  if (!from && needsSender) {
    throw new PermanentError(
      'email has no sender: set email.from in nudge.yaml or `from` on the action',
    );
  }
  const variables = templateVariables(run, env.project);
  const { html } = await rendererFor(env.project).template(params.template, variables);
  const subject = text(params.subject) ?? titleOf(html) ?? params.template;
  return { key: run.key, to, from, subject, html };
}

function text(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = String(value).trim();
  return trimmed || undefined;
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
