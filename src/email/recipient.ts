// Who an email run goes to, and who can refuse it. The recipient is the one
// mailbox its rendered `to` names (else the contact's email); the contact who
// can refuse it is the one that holds that address, which is not always the
// run's contact (`to: new.invitee_email` on an inviter's feature). Admission
// reads the recipient once (readRecipients) and hands that reading on with
// the run: the suppression and opt-out it checks, the mailbox the provider is
// given and the contact the email's links unsubscribe are one reading, never
// two that a contact changed between could make disagree.
import { formatMailbox, mailboxOf } from '../actions/params.js';
import type { ActionRun } from '../actions/types.js';
import type { Db } from '../contacts/store.js';

export interface Recipient {
  /** What the provider is given: one mailbox, its display name quoted. */
  mailbox: string;
  /** The bare address, lower-cased: what suppressions, opt-outs and contacts are found by. */
  address: string;
  /** The contact who receives it and can refuse it (recipientContacts); null when none has the address. */
  contactId: string | null;
}

/** Why a run's recipient cannot be read: no address, or not exactly one mailbox. */
export type RecipientReading = Recipient | { error: string };

/**
 * Each run's recipient, read once: its rendered `to`, else the contact's
 * email, as one mailbox, and the contact who receives it. One query for the
 * contacts, and none when every run goes to its own contact.
 */
export async function readRecipients(db: Db, runs: ActionRun[]): Promise<RecipientReading[]> {
  const mailboxes = runs.map(mailboxOfRun);
  const readable = runs.flatMap((run, i) => {
    const mailbox = mailboxes[i]!;
    return 'error' in mailbox ? [] : [{ run, address: mailbox.address }];
  });
  const contacts = await recipientContacts(db, readable);
  let n = 0;
  return mailboxes.map((m) => ('error' in m ? m : { ...m, contactId: contacts[n++] ?? null }));
}

/** The mailbox a run whose params are rendered goes to: `to`, else the contact's email. */
function mailboxOfRun(run: ActionRun): Omit<Recipient, 'contactId'> | { error: string } {
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
async function recipientContacts(
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
