// Who an email run goes to, and who can refuse it. The recipient is the one
// mailbox its rendered `to` names (else the contact's email); the contact who
// can refuse it is the one that holds that address, which is not always the
// run's contact (`to: new.invitee_email` on an inviter's feature). Admission
// checks that contact's opt-outs and the email's links unsubscribe it.
import { formatMailbox, mailboxOf } from '../actions/params.js';
import type { ActionRun } from '../actions/types.js';
import type { Db } from '../contacts/store.js';

export interface Recipient {
  /** What the provider is given: one mailbox, its display name quoted. */
  mailbox: string;
  /** The bare address, lower-cased: what suppressions, opt-outs and contacts are found by. */
  address: string;
}

/** The recipient of a run whose params are rendered: `to`, else the contact's email. */
export function recipientOf(run: ActionRun): Recipient | { error: string } {
  const to = text((run.params as { to?: unknown }).to) ?? text(run.context.contact?.email);
  if (!to) {
    return {
      error: 'email has no recipient: the contact has no email and the action gives no `to`',
    };
  }
  const mailbox = mailboxOf(to);
  if ('error' in mailbox) return { error: `email recipient ${mailbox.error}` };
  return { mailbox: formatMailbox(mailbox), address: mailbox.address.toLowerCase() };
}

export function text(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = String(value).trim();
  return trimmed || undefined;
}

/**
 * For each run and its recipient's address, the contact who receives it: the
 * run's contact when the address is that contact's email, else the contact
 * (not deleted) with that address, else null. One query, and none when every
 * run goes to its own contact.
 */
export async function recipientContacts(
  db: Db,
  runs: { run: ActionRun; address: string }[],
): Promise<(string | null)[]> {
  const own = runs.map(({ run, address }) =>
    run.contactId !== null && address === text(run.context.contact?.email)?.toLowerCase()
      ? run.contactId
      : undefined,
  );
  const others = [...new Set(runs.filter((_, i) => own[i] === undefined).map((r) => r.address))];
  const byAddress = new Map<string, string>();
  if (others.length > 0) {
    const rows = await db<{ id: string; email: string }[]>`
      select id, email from nudge_engine.contacts
       where email = any(${others}::text[]) and deleted_at is null`;
    for (const row of rows) byAddress.set(row.email, row.id);
  }
  return runs.map(({ address }, i) => own[i] ?? byAddress.get(address) ?? null);
}
