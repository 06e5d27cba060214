// Contacts as a backtest sees them: looked up in the contact book, read-only
// (a person the book does not know yet is a new contact with no attributes;
// nothing is created). Identities are looked up a page of events at a time.
import type postgres from 'postgres';
import { type ContactIdentity, contactRows, normalizeEmail } from '../contacts/store.js';
import type { Row } from '../engine/match/features.js';

export interface SimulatedContact {
  /** The contact's id in the book, or `new:<identity>` for someone it does not know. */
  id: string;
  /** What conditions and templates see: the row as it is now, or the identity alone. */
  row: Row;
  /** Who it is in words, for the report. */
  label: string;
}

/** The key resolveContact would see an identity under. */
export function identityKey(identity: ContactIdentity): string {
  return JSON.stringify([
    identity.authUserId || null,
    normalizeEmail(identity.email),
    identity.phone || null,
    identity.externalId || null,
  ]);
}

/** Contacts the identities name, by identity key; known ones read from the book in one query. */
export async function lookUpContacts(
  engine: postgres.Sql,
  identities: Map<string, ContactIdentity>,
  into: Map<string, SimulatedContact>,
): Promise<void> {
  const list = [...identities].filter(([key]) => !into.has(key));
  if (list.length === 0) return;
  const column = (pick: (i: ContactIdentity) => string | null | undefined) =>
    list.map(([, identity]) => pick(identity) || null);
  // In the order resolveContact tries: auth user id, email, phone, external id.
  const found = await engine<{ n: number; id: string }[]>`
    select i.n::int as n, coalesce(
             (select id from nudge_engine.contacts where auth_user_id = i.a),
             (select id from nudge_engine.contacts where email = i.e),
             (select id from nudge_engine.contacts where phone = i.p),
             (select id from nudge_engine.contacts where external_id = i.x)) as id
      from unnest(${column((i) => i.authUserId)}::uuid[], ${column((i) => normalizeEmail(i.email))}::text[],
                  ${column((i) => i.phone)}::text[], ${column((i) => i.externalId)}::text[])
           with ordinality as i(a, e, p, x, n)`;
  const ids = found.filter((f) => f.id).map((f) => f.id);
  const rows = await contactRows(engine, [...new Set(ids)]);
  for (const { n, id } of found) {
    const [key, identity] = list[n - 1]!;
    const label =
      normalizeEmail(identity.email) ??
      identity.authUserId ??
      identity.phone ??
      identity.externalId;
    const row = id ? rows.get(id) : undefined;
    into.set(
      key,
      row
        ? { id, row, label: String(row.email ?? label) }
        : {
            id: `new:${key}`,
            row: {
              auth_user_id: identity.authUserId ?? null,
              email: normalizeEmail(identity.email),
              phone: identity.phone ?? null,
              external_id: identity.externalId ?? null,
            },
            label: String(label),
          },
    );
  }
}
