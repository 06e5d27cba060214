// Who each row of a `nudge backfill --dry-run` sample names, in words: the
// contact book's email for the identity the feature's contact mapping reads
// (read-only, as a backtest looks contacts up), or, for an auth user the book
// does not know yet, the email auth.users holds; the raw identity otherwise.
// With no engine store (Nudge never ran there) there is no book to ask.
import type postgres from 'postgres';
import { lookUpContacts, type SimulatedContact } from '../backtest/contacts.js';
import { type ContactIdentity, identityKey, normalizeEmail } from '../contacts/store.js';
import type { Catalog } from '../source/catalog.js';

/** For each identity, how the sample names its contact; undefined when the row names nobody. */
export async function sampleContacts(
  /** The engine store; undefined when there is none, so no contact book. */
  engine: postgres.Sql | undefined,
  source: postgres.Sql,
  catalog: Catalog,
  identities: ContactIdentity[],
): Promise<(string | undefined)[]> {
  const named = new Map<string, ContactIdentity>();
  const keys = identities.map((identity) => {
    if (!(identity.authUserId || identity.email || identity.phone || identity.externalId)) {
      return undefined;
    }
    const key = identityKey(identity);
    named.set(key, identity);
    return key;
  });
  const found = new Map<string, SimulatedContact>();
  if (engine) await lookUpContacts(engine, named, found);
  else for (const [key, identity] of named) found.set(key, unknownContact(key, identity));
  const labels = new Map([...found].map(([key, contact]) => [key, contact.label]));
  // Auth users the book does not know yet (`new:`) whose row gives no email:
  // their email in auth.users, when it is there.
  const unknown = [...found].flatMap(([key, contact]) => {
    const authUserId = named.get(key)?.authUserId;
    return authUserId && contact.id.startsWith('new:') && !contact.row.email
      ? [{ key, authUserId }]
      : [];
  });
  if (unknown.length && catalog.get({ schema: 'auth', table: 'users' })) {
    const emails = await source<{ id: string; email: string }[]>`
      select id::text as id, email from auth.users
       where id = any(${unknown.map((u) => u.authUserId)}::uuid[]) and email is not null and email <> ''`;
    const byId = new Map(emails.map((row) => [row.id, row.email]));
    for (const { key, authUserId } of unknown) {
      const email = byId.get(authUserId.toLowerCase());
      if (email) labels.set(key, email);
    }
  }
  return keys.map((key) => (key === undefined ? undefined : labels.get(key)));
}

/** Someone the book does not know, as lookUpContacts names them. */
function unknownContact(key: string, identity: ContactIdentity): SimulatedContact {
  const email = normalizeEmail(identity.email);
  return {
    id: `new:${key}`,
    row: { email },
    label: String(email ?? identity.authUserId ?? identity.phone ?? identity.externalId),
  };
}
