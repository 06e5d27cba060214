// What a rendered parameter must be for its action to run, in one place for
// the run (email.ts, edge-function.ts) and for the check of feature files
// (features/action-checks.ts), which applies it to parameters without Liquid.
import addressparser from 'nodemailer/lib/addressparser';

/** One recipient or sender: its bare address and its display name ('' for none). */
export interface Mailbox {
  address: string;
  name: string;
}

// No character that delimits addresses in a header: `<address>` reads back as itself.
const ADDRESS = /^[^@\s<>()[\]\\,;:"]+@[^@\s<>()[\]\\,;:"]+$/;

/**
 * The one mailbox `value` names (`ada@x.com`, `Ada <ada@x.com>`,
 * `"Doe, John" <j@x.com>`), read by nodemailer's parser, the one SMTP
 * delivers by; or why it is not exactly one. A list or a group is refused
 * however it is written, so a value can never reach a second recipient.
 * Without angle brackets the value must be a bare address: `a@x.com b@x.com`
 * is refused rather than read as a display name.
 */
export function mailboxOf(value: string): Mailbox | { error: string } {
  const shown = JSON.stringify(value);
  const entries = addressparser(value);
  if (entries.length > 1 || entries.some((e) => e.group !== undefined)) {
    const addresses = entries.flatMap((e) => (e.group ? e.group : [e])).map((e) => e.address);
    const named = addresses.filter(Boolean);
    const what =
      named.length > 1 ? `names ${named.length} recipients (${named.join(', ')})` : 'is a list';
    return { error: `${shown} ${what}: an email goes to exactly one address` };
  }
  const [entry] = entries;
  const address = entry?.address?.trim() ?? '';
  const name = (entry?.name ?? '').replace(/[\s\p{Cc}]+/gu, ' ').trim();
  if (!ADDRESS.test(address) || (name !== '' && !value.includes('<'))) {
    return { error: `${shown} is not an email address` };
  }
  return { address, name };
}

/**
 * A mailbox as one header value that reads back as this one mailbox only:
 * the bare address, or the display name quoted (its `"` and `\` escaped)
 * before `<address>`, so a comma or `<` in a name cannot start a second one.
 */
export function formatMailbox(mailbox: Mailbox): string {
  if (!mailbox.name) return mailbox.address;
  return `"${mailbox.name.replace(/[\\"]/g, '\\$&')}" <${mailbox.address}>`;
}

/** An address, alone or as `Name <address>`: what an email's recipient and sender must render to. */
export function isEmailAddress(value: string): boolean {
  return 'address' in mailboxOf(value);
}

/** What an Edge Function's name must render to: letters, digits, - and _. */
export function isFunctionName(name: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(name);
}
