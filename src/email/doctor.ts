// What `nudge doctor` says about email: Resend and SMTP send nothing without
// a sender (email.from, or `from` on the action); non-transactional email
// carries unsubscribe links, which must reach this server over HTTPS
// (server.public_url); and with Resend, bounces and complaints arrive only
// through its webhook (email.resend.webhook_secret).
import type { LoadedConfig } from '../config/load.js';
import type { Feature } from '../features/load.js';
import { publicBaseUrl } from './links.js';
import { TRANSACTIONAL, unknownTopics } from './topics.js';

type Say = (outcome: 'ok' | 'warn' | 'fail', label: string, message: string, fix?: string) => void;

/** What an email action says of its topic, sender and provider. */
interface EmailParams {
  topic?: string;
  from?: unknown;
  provider?: string;
}

/** The email actions of active (not draft) features, each with its feature/stage. */
function activeEmails(features: Feature[]): { where: string; params: EmailParams }[] {
  return features
    .filter((f) => f.status !== 'draft')
    .flatMap((f) =>
      [...f.machine.stages.values()].flatMap((stage) =>
        stage.actions
          .filter((a) => a.kind === 'email')
          .map((a) => ({ where: `${f.name}/${stage.name}`, params: a.params as EmailParams })),
      ),
    );
}

/** The email actions of active features that are not transactional, as feature/stage. */
export function refusableEmails(features: Feature[]): string[] {
  return activeEmails(features)
    .filter((e) => e.params.topic !== TRANSACTIONAL)
    .map((e) => e.where);
}

/**
 * The email actions of active features with no sender whose provider (the
 * action's, else email.provider) needs one, as feature/stage with the
 * provider: each would be refused when sent (dead).
 */
export function senderlessEmails(project: LoadedConfig, features: Feature[]): string[] {
  const { email } = project.config;
  if (email.from) return [];
  return activeEmails(features).flatMap(({ where, params }) => {
    const provider = params.provider ?? email.provider;
    return params.from || provider === 'dev' ? [] : [`${where} (provider ${provider})`];
  });
}

/**
 * Whether the emails' links lead to this server's own address, and rightly:
 * no server.public_url is set, and every email of the active features stays
 * in the dev mailbox (its provider, else email.provider, is dev), which this
 * server serves.
 */
export function linksOpenInDevMailbox(project: LoadedConfig, features: Feature[]): boolean {
  return (
    !project.config.server.public_url &&
    activeEmails(features).every(
      (e) => (e.params.provider ?? project.config.email.provider) === 'dev',
    )
  );
}

/**
 * Unknown topics fail for active features (plan refuses them too); a draft's
 * is a warning, since plan skips drafts until they are activated.
 * `devMailbox`: on nudge dev's demo, with every email kept in its mailbox,
 * what the server's own address is (doctor/dev-links.ts): the links with no
 * server.public_url lead there, which is right.
 */
export function emailCheck(
  project: LoadedConfig,
  features: Feature[],
  say: Say,
  devMailbox?: string,
): void {
  const unknown = unknownTopics(features, project.config.email);
  const active = unknown.filter((u) => u.feature.status !== 'draft');
  const found = active.length > 0 ? active : unknown;
  if (found.length > 0) {
    const first = found[0]!;
    const more = found.length > 1 ? ` (and ${found.length - 1} more)` : '';
    const draft = active.length === 0 ? 'draft ' : '';
    say(
      active.length > 0 ? 'fail' : 'warn',
      'Email',
      `${draft}${first.feature.name}/${first.stage}: ${first.problem}${more}`,
      `declare the topic under email.topics in nudge.yaml, or fix the action’s topic${active.length > 0 ? '' : ' before activating the draft'}`,
    );
    if (active.length > 0) return;
  }
  const senderless = senderlessEmails(project, features);
  if (senderless.length > 0) {
    const more = senderless.length > 1 ? ` (and ${senderless.length - 1} more)` : '';
    say(
      'fail',
      'Email',
      `${senderless[0]}: this email has no sender${more}, and would be refused when sent`,
      'set email.from in nudge.yaml (e.g. "Acme <hello@acme.com>", an address your provider lets you send from), or `from` on the action',
    );
    return;
  }
  const [outcome, message, fix] = emailFinding(project, refusableEmails(features), devMailbox);
  say(outcome, 'Email', message, fix);
}

function emailFinding(
  project: LoadedConfig,
  refusable: string[],
  devMailbox: string | undefined,
): ['ok' | 'warn', string, string?] {
  if (refusable.length === 0) return ['ok', 'no non-transactional email in the features'];
  const { server, email } = project.config;
  const base = publicBaseUrl(project);
  const where = `${refusable.length} non-transactional email${refusable.length === 1 ? '' : 's'} (${refusable[0]}${refusable.length > 1 ? ', ...' : ''})`;
  if (devMailbox) {
    return [
      'ok',
      `${where} link to ${base} for unsubscribing: ${devMailbox}, where its mailbox opens them`,
    ];
  }
  if (!server.public_url) {
    return [
      'warn',
      `${where} link to ${base} for unsubscribing: server.public_url is not set`,
      'set server.public_url in nudge.yaml to the https:// URL this server is reachable at',
    ];
  }
  if (!server.public_url.startsWith('https://')) {
    return [
      'warn',
      `${where}: one-click unsubscribe needs HTTPS, server.public_url is ${server.public_url}`,
      'serve Nudge behind HTTPS and set server.public_url to that https:// URL',
    ];
  }
  if (email.provider === 'resend' && !email.resend?.webhook_secret) {
    return [
      'warn',
      `${where}, but bounces and complaints from Resend are not received`,
      `add a Resend webhook to ${base}/ingest/resend and set email.resend.webhook_secret`,
    ];
  }
  return ['ok', `${where}; unsubscribe links at ${base}`];
}
