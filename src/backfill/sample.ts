// Who each row of a `nudge backfill --dry-run` sample names, in words: the
// contact book's email for the identity the feature's contact mapping reads
// (read-only, as a backtest looks contacts up), or, for an auth user the book
// does not know yet, the email auth.users holds; the raw identity otherwise.
import type postgres from 'postgres';
import { identityKey, lookUpContacts, type SimulatedContact } from '../backtest/contacts.js';
import type { ContactIdentity } from '../contacts/store.js';
import type { Catalog } from '../source/catalog.js';

/** For each identity, how the sample names its contact; undefined when the row names nobody. */
export async function sampleContacts(
  engine: postgres.Sql,
  source: postgres.Sql,
  catalog: Catalog,
  identities: ContactIdentity[],
): Promise<(string | undefined)[]> {
  const named = identities.map((identity) =>
    identity.authUserId || identity.email || identity.phone || identity.externalId
      ? identity
      : undefined,
  );
  const byKey = new Map<string, ContactIdentity>();
  for (const identity of named) if (identity) byKey.set(identityKey(identity), identity);
  const found = new Map<string, SimulatedContact>();
  await lookUpContacts(engine, byKey, found);
  const labels = named.map((identity) =>
    identity ? found.get(identityKey(identity))?.label : undefined,
  );
  // Auth users the book does not know yet: their email in auth.users, when it is there.
  const unknown = named.flatMap((identity, i) =>
    identity?.authUserId && labels[i] === identity.authUserId ? [identity.authUserId] : [],
  );
  if (unknown.length && catalog.get({ schema: 'auth', table: 'users' })) {
    const emails = await source<{ id: string; email: string }[]>`
      select id::text as id, email from auth.users
       where id = any(${unknown}::uuid[]) and email is not null and email <> ''`;
    const byId = new Map(emails.map((row) => [row.id.toLowerCase(), row.email]));
    named.forEach((identity, i) => {
      const email = identity?.authUserId ? byId.get(identity.authUserId.toLowerCase()) : undefined;
      if (email && labels[i] === identity!.authUserId) labels[i] = email;
    });
  }
  return labels;
}
