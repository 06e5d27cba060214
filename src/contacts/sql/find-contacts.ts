// The contacts a batch's identities name, in one statement: for identity n
// (1-based), the first contact resolveContact would try, if it matches every
// field the identity gives. Identities without such a contact are absent.
// The lanes' lookup for a whole batch of events (engine/lanes/batch.ts).
import type postgres from 'postgres';
import { type ContactIdentity, normalizeEmail } from '../store.js';

export function findContacts(
  tx: postgres.TransactionSql,
  identities: ContactIdentity[],
): Promise<{ n: number; id: string }[]> {
  const column = (pick: (i: ContactIdentity) => string | null | undefined) =>
    identities.map((identity) => pick(identity) || null);
  // The first contact each identity names, in the order resolveContact
  // tries them, if it matches every field given. The fence (offset 0) keeps
  // the lookup per identity, an index probe each: inlined, the planner
  // hashed the whole contacts table for every batch (1–2 ms at 5,000
  // contacts, growing with the book).
  return tx<{ n: number; id: string }[]>`
    select i.n::int as n, c.id
      from unnest(${column((i) => i.authUserId)}::uuid[], ${column((i) => normalizeEmail(i.email))}::text[],
                  ${column((i) => i.phone)}::text[], ${column((i) => i.externalId)}::text[])
           with ordinality as i(a, e, p, x, n)
     cross join lateral (
           select c.id from nudge_engine.contacts c
            where c.id = coalesce(
                    (select id from nudge_engine.contacts where auth_user_id = i.a),
                    (select id from nudge_engine.contacts where email = i.e),
                    (select id from nudge_engine.contacts where phone = i.p),
                    (select id from nudge_engine.contacts where external_id = i.x))
              and (i.a is null or c.auth_user_id = i.a) and (i.e is null or c.email = i.e)
              and (i.p is null or c.phone = i.p) and (i.x is null or c.external_id = i.x)
           offset 0) c`;
}
