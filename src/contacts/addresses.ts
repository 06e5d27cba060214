// Whose address it is when an auth user's email or phone is held by another
// contact (contacts_email_key and contacts_phone_key cover every contact,
// deleted ones too). Supabase Auth owns an auth user's email and phone, so
// the user takes them wherever it can, and is never left out for them:
//
// - a deleted contact gives the address up (a user deleted, and someone
//   signing up again with the email) — unless it has no user and the user
//   has no contact yet: then the user adopts it, as below;
// - a contact of another user in the same batch that moves to another
//   address gives it up (two users trading addresses);
// - a contact with no user (made from a table row's email, the API, an
//   event) is adopted by a user with no contact yet (store.ts,
//   attachUsersByEmail), or folded into the user's contact when the engine
//   keys nothing by it (sql/merge-contacts.ts);
// - otherwise — another user's contact holds it, or the email-only contact
//   has journeys, action runs, or a phone or external id of its own — the
//   user is written without that address (its contact keeps the one it had,
//   if any), and the conflict is reported for the caller to say and to try
//   again later.
//
// All this runs only after an upsert of users failed on one of those
// indexes: the ordinary batch pays nothing for it.
import { addressHolders, type Holder, releaseAddresses } from './sql/address-holders.js';
import { lockMergeable, type Mergeable, mergeContacts } from './sql/merge-contacts.js';
import { type Db, normalizeEmail, type SyncedUser } from './store.js';

export interface AddressConflict {
  authUserId: string;
  field: 'email' | 'phone';
  /** Why the user is written without it, e.g. `its email "a@b.c" belongs to contact "…" of another user`. */
  reason: string;
}

export interface AddressClaim {
  /** The users as they can be written: an address still held elsewhere replaced by what their contact has. */
  users: SyncedUser[];
  /** Addresses deleted contacts (or contacts of users moving off them) gave up. */
  released: number;
  /** Contacts known only by email folded into a user's contact. */
  merged: number;
  conflicts: AddressConflict[];
}

/** Makes room for these users' addresses where Auth's ownership allows; see the top of the file. */
export async function claimAddresses(db: Db, users: SyncedUser[]): Promise<AddressClaim> {
  const wanted = users.map((u, n) => ({
    n,
    id: u.authUserId,
    email: normalizeEmail(u.email),
    phone: u.phone || null,
  }));
  const { holders, own } = await addressHolders(db, wanted);
  const ownOf = new Map(own.map((c) => [c.auth_user_id, c]));
  const incoming = new Map(wanted.map((w) => [w.id, w]));
  const releaseEmail = new Set<string>();
  const releasePhone = new Set<string>();
  const candidates = new Map<string, { n: number; into: string }>();
  const conflicts = new Map<number, AddressConflict[]>();
  const conflict = (n: number, field: 'email' | 'phone', reason: string) => {
    const list = conflicts.get(n) ?? [];
    list.push({ authUserId: wanted[n]!.id, field, reason });
    conflicts.set(n, list);
  };
  const quoted = (text: string) => JSON.stringify(text);
  const ofWhom = (h: Holder) => (h.auth_user_id ? ' of another user' : '');

  const byField = (field: 'email' | 'phone') => holders.filter((h) => h.field === field);
  for (const h of byField('email')) {
    const w = wanted[h.n]!;
    const mine = ownOf.get(w.id);
    const what = `its email ${quoted(w.email!)} belongs to contact ${quoted(h.id)}`;
    if (h.auth_user_id === null && !mine) continue; // adopted by the upsert
    if (h.deleted) releaseEmail.add(h.id);
    else if (h.auth_user_id === null) {
      if (candidates.has(h.id)) conflict(h.n, 'email', what);
      else candidates.set(h.id, { n: h.n, into: mine!.id });
    } else if (movesOff(incoming.get(h.auth_user_id)?.email, w.email)) releaseEmail.add(h.id);
    else conflict(h.n, 'email', `${what}${ofWhom(h)}`);
  }

  // Email-only contacts the user's contact can take in.
  const lockable = await lockMergeable(db, [...candidates.keys()]);
  const locked = new Map(lockable.map((m) => [m.id, m]));
  const merges: { from: Mergeable; into: string }[] = [];
  for (const [id, { n, into }] of candidates) {
    const w = wanted[n]!;
    const from = locked.get(id);
    const mine = ownOf.get(w.id)!;
    const what = `its email ${quoted(w.email!)} belongs to contact ${quoted(id)}`;
    const standing = whyNotMerged(from, w.phone, mine.external_id);
    if (standing || !from) {
      const why = `which has no user and cannot be merged into this user's: ${standing}`;
      conflict(n, 'email', `${what}, ${why}`);
    } else merges.push({ from, into });
  }
  const merged = new Set(merges.map((m) => m.from.id));

  for (const h of byField('phone')) {
    const w = wanted[h.n]!;
    const mine = ownOf.get(w.id);
    // The email-only contact this user adopts or takes in carries the phone with it.
    if (h.auth_user_id === null && (merged.has(h.id) || (!mine && adopts(holders, h)))) continue;
    if (h.deleted) releasePhone.add(h.id);
    else if (h.auth_user_id !== null && movesOff(incoming.get(h.auth_user_id)?.phone, w.phone))
      releasePhone.add(h.id);
    else
      conflict(
        h.n,
        'phone',
        `its phone ${quoted(w.phone!)} belongs to contact ${quoted(h.id)}${ofWhom(h)}`,
      );
  }

  const released = await releaseAddresses(db, [...releaseEmail], [...releasePhone]);
  await mergeContacts(db, merges);

  // The users, each without what it could not take: its contact keeps what it had.
  const written = users.map((user, n) => {
    const lost = conflicts.get(n);
    if (!lost) return user;
    const mine = ownOf.get(user.authUserId);
    const kept = (field: 'email' | 'phone') => {
      const value = mine?.[field] ?? null;
      return value !== null && (field === 'email' ? releaseEmail : releasePhone).has(mine!.id)
        ? null
        : value;
    };
    return {
      ...user,
      ...(lost.some((c) => c.field === 'email') ? { email: kept('email') } : {}),
      ...(lost.some((c) => c.field === 'phone') ? { phone: kept('phone') } : {}),
    };
  });
  return {
    users: written,
    released,
    merged: merges.length,
    conflicts: [...conflicts.values()].flat(),
  };
}

/** Why an email-only contact cannot be folded into the user's contact, or null when it can. */
function whyNotMerged(
  from: Mergeable | undefined,
  phone: string | null,
  ownExternalId: string | null,
): string | null {
  if (!from) return 'it changed while this ran';
  if (from.keyed) return `it has ${from.keyed}`;
  if (from.phone !== null && from.phone !== phone) return 'it has a phone of its own';
  if (from.external_id !== null && ownExternalId !== null)
    return 'it has an external id of its own';
  return null;
}

/** A user of the batch whose contact holds `address` comes with another one (or none). */
function movesOff(next: string | null | undefined, address: string | null): boolean {
  return next !== undefined && next !== address;
}

/** The phone holder `h` is also the email holder the same user adopts. */
function adopts(holders: Holder[], h: Holder): boolean {
  return holders.some((e) => e.field === 'email' && e.n === h.n && e.id === h.id);
}
