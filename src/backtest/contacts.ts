// Contacts as a backtest sees them: the contact book, read-only, and the
// people it does not know, met in the simulation. An identity is found as
// resolveContact (contacts/store.ts) finds it — by auth user id, then email,
// then phone, then external id, whichever single field matches, in the book
// or among the contacts the simulation made — and someone found nowhere is a
// new contact, made at the time of their first event, that later events find
// again by any of its fields. Identities are looked up in the book a page of
// events at a time; nothing is written. Where Nudge never ran (no engine
// store) there is no book to read: everyone is a new contact.
import type postgres from 'postgres';
import {
  type ContactIdentity,
  contactRows,
  identityKey,
  normalizeEmail,
} from '../contacts/store.js';
import type { Row } from '../engine/match/features.js';

export interface SimulatedContact {
  /** The contact's id in the book, or `new:<identity>` for someone it does not know. */
  id: string;
  /** What conditions and templates see: the row as it is now, or what the events said; `set` actions change it. */
  row: Row;
  /** Who it is in words, for the report. */
  label: string;
}

/** Whether a contact is the book's (its row as it is today), not one the simulation made from the events. */
export function fromBook(contact: SimulatedContact): boolean {
  return !contact.id.startsWith('new:');
}

/**
 * The contacts as the engine saw them at these kept events, where it kept
 * that: an action it ran for the contact on the event keeps the contact's
 * row in its run's context (the decision log's `action` decision names the
 * run). By `${inboxId}\0${contactId}`; an event with no such run is absent.
 */
export async function contactsThen(
  engine: postgres.Sql,
  seen: { inboxId: number; contactId: string }[],
): Promise<Map<string, Row>> {
  if (seen.length === 0) return new Map();
  const rows = await engine<{ inbox: number; contact: string; row: Row }[]>`
    select distinct on (d.inbox_id, d.contact_id)
           d.inbox_id::float8 as inbox, d.contact_id::text as contact, r.context -> 'contact' as row
      from nudge_engine.decisions d
      join nudge_engine.action_runs r on r.key = d.detail ->> 'key'
     where d.contact_id = any(${[...new Set(seen.map((s) => s.contactId))]}::uuid[])
       and d.inbox_id = any(${[...new Set(seen.map((s) => s.inboxId))]}::bigint[])
       and d.outcome = 'action' and jsonb_typeof(r.context -> 'contact') = 'object'
     order by d.inbox_id, d.contact_id, d.id`;
  return new Map(rows.map((r) => [`${r.inbox}\0${r.contact}`, r.row]));
}

/** A contact's identity fields, in the order resolveContact tries them. */
type Field = 'auth_user_id' | 'email' | 'phone' | 'external_id';
const FIELD_ORDER: Field[] = ['auth_user_id', 'email', 'phone', 'external_id'];

/** An identity's fields in FIELD_ORDER, as the store keeps them (email normalized, blanks null). */
function fieldsOf(identity: ContactIdentity): [Field, string | null][] {
  return [
    ['auth_user_id', identity.authUserId?.toLowerCase() || null],
    ['email', normalizeEmail(identity.email)],
    ['phone', identity.phone || null],
    ['external_id', identity.externalId || null],
  ];
}

/** For each identity, the book's contact holding each of its fields (undefined: none does). */
async function bookMatches(
  engine: postgres.Sql,
  identities: ContactIdentity[],
): Promise<Partial<Record<Field, string>>[]> {
  const fields = identities.map(fieldsOf);
  const column = (field: Field) => fields.map((f) => f[FIELD_ORDER.indexOf(field)]![1]);
  const found = await engine<
    { n: number; a: string | null; e: string | null; p: string | null; x: string | null }[]
  >`
    select i.n::int as n,
           (select id from nudge_engine.contacts where auth_user_id = i.a) as a,
           (select id from nudge_engine.contacts where email = i.e) as e,
           (select id from nudge_engine.contacts where phone = i.p) as p,
           (select id from nudge_engine.contacts where external_id = i.x) as x
      from unnest(${column('auth_user_id')}::uuid[], ${column('email')}::text[],
                  ${column('phone')}::text[], ${column('external_id')}::text[])
           with ordinality as i(a, e, p, x, n)`;
  const matches: Partial<Record<Field, string>>[] = identities.map(() => ({}));
  for (const { n, a, e, p, x } of found) {
    const match = matches[n - 1]!;
    if (a) match.auth_user_id = a;
    if (e) match.email = e;
    if (p) match.phone = p;
    if (x) match.external_id = x;
  }
  return matches;
}

/** Who a contact of the book is, in words. */
function labelOfRow(row: Row, id: string): string {
  return String(row.email || row.auth_user_id || row.phone || row.external_id || id);
}

/** Who an identity is, in words. */
function labelOf(identity: ContactIdentity): string {
  return String(
    normalizeEmail(identity.email) ?? identity.authUserId ?? identity.phone ?? identity.externalId,
  );
}

/**
 * Contacts the identities name, by identity key, as the book has them now —
 * the first of resolveContact's fields that names someone — and someone it
 * does not know as `new:<identity key>` with only the identity. For a
 * `nudge backfill --dry-run` sample; a backtest resolves with SimulatedBook,
 * which also knows the contacts its simulation made.
 */
export async function lookUpContacts(
  engine: postgres.Sql,
  identities: Map<string, ContactIdentity>,
  into: Map<string, SimulatedContact>,
): Promise<void> {
  const list = [...identities].filter(([key]) => !into.has(key));
  if (list.length === 0) return;
  const matches = await bookMatches(
    engine,
    list.map(([, identity]) => identity),
  );
  const ids = matches.map((match) => FIELD_ORDER.map((f) => match[f]).find(Boolean));
  const rows = await contactRows(engine, [...new Set(ids.filter((id) => id !== undefined))]);
  for (const [i, [key, identity]] of list.entries()) {
    const id = ids[i];
    const row = id ? rows.get(id) : undefined;
    into.set(
      key,
      row && id
        ? { id, row, label: String(row.email ?? labelOf(identity)) }
        : { id: `new:${key}`, row: newRow(`new:${key}`, identity, null), label: labelOf(identity) },
    );
  }
}

/** A contact the book does not know: what the identity says, made at `createdAt` (null: not said). */
function newRow(id: string, identity: ContactIdentity, createdAt: Date | null): Row {
  const fields = Object.fromEntries(fieldsOf(identity));
  return {
    id,
    auth_user_id: fields.auth_user_id,
    email: fields.email,
    phone: fields.phone,
    external_id: fields.external_id,
    created_at: createdAt?.toISOString() ?? null,
    deleted_at: null,
  };
}

/** A contact the simulation needs for an event, asked for in event order. */
export interface ContactRequest {
  identity: ContactIdentity;
  /** The event's time: a new contact's created_at. */
  at: Date;
}

/** A request answered: the contact, and the identity fields the event gives it that it lacked. */
export interface ResolvedContact {
  contact: SimulatedContact;
  /** As resolveContact fills them in; the simulation sets them when it replays the event. */
  fill?: Row;
}

/**
 * The contacts of one backtest. `resolve` answers a page's requests in their
 * order, as resolveContact would have answered them one event after
 * another: the book read in one query for the identities not met before;
 * then, field by field in resolveContact's order, the book's contact or one
 * the simulation made or filled in that holds the field; else a new contact.
 * One SimulatedContact per contact, so what a `set` action changes is seen
 * by every identity that names it.
 */
export class SimulatedBook {
  /** Answers by identity key: an identity met before is answered again, without a query. */
  private readonly byKey = new Map<string, ResolvedContact>();
  private readonly byId = new Map<string, SimulatedContact>();
  /** Identity fields (`email\0a@x.com`) the simulation gave a contact: new contacts', and filled ones. */
  private readonly byField = new Map<string, SimulatedContact>();
  /**
   * Each contact's identity fields as resolution knows them: a fill counts
   * from the request that makes it, though its row gets it when the event
   * is replayed (up to a page later).
   */
  private readonly identities = new Map<string, Partial<Record<Field, string>>>();

  /** `engine` null: Nudge never ran there, and the book is empty (never read). */
  constructor(private readonly engine: postgres.Sql | null) {}

  async resolve(requests: ContactRequest[]): Promise<ResolvedContact[]> {
    const keys = requests.map((r) => identityKey(r.identity));
    const asked = new Map<string, ContactIdentity>();
    for (const [i, key] of keys.entries()) {
      if (!this.byKey.has(key)) asked.set(key, requests[i]!.identity);
    }
    const engine = this.engine;
    const matches = asked.size && engine ? await bookMatches(engine, [...asked.values()]) : [];
    const book = new Map([...asked.keys()].map((key, i) => [key, matches[i] ?? {}]));
    const unread = [
      ...new Set(matches.flatMap((m) => Object.values(m)).filter((id) => !this.byId.has(id))),
    ];
    for (const [id, row] of engine ? await contactRows(engine, unread) : []) {
      const contact = { id, row, label: labelOfRow(row, id) };
      this.byId.set(id, contact);
      this.identities.set(
        id,
        Object.fromEntries(FIELD_ORDER.filter((f) => row[f]).map((f) => [f, String(row[f])])),
      );
    }
    return requests.map(({ identity, at }, i) => {
      const key = keys[i]!;
      const met = this.byKey.get(key);
      if (met) return met;
      const resolved = this.find(identity, book.get(key) ?? {}, at);
      // Met again, the identity fills nothing more: what it could fill, it has.
      this.byKey.set(key, { contact: resolved.contact });
      return resolved;
    });
  }

  private find(
    identity: ContactIdentity,
    inBook: Partial<Record<Field, string>>,
    at: Date,
  ): ResolvedContact {
    const fields = fieldsOf(identity);
    for (const [field, value] of fields) {
      if (value === null) continue;
      const bookId = inBook[field];
      const contact = bookId ? this.byId.get(bookId) : this.byField.get(`${field}\0${value}`);
      if (contact) return { contact, ...this.fillOf(contact, fields, inBook) };
    }
    const id = `new:${identityKey(identity)}`;
    const contact: SimulatedContact = {
      id,
      row: newRow(id, identity, at),
      label: labelOf(identity),
    };
    this.byId.set(id, contact);
    const known: Partial<Record<Field, string>> = {};
    for (const [field, value] of fields) {
      if (value === null) continue;
      this.byField.set(`${field}\0${value}`, contact);
      known[field] = value;
    }
    this.identities.set(id, known);
    return { contact };
  }

  /**
   * The identity fields a found contact lacks and the event gives, as
   * fillContact fills them: all or none — a field another contact holds
   * fails the fill, and the match is kept as it is.
   */
  private fillOf(
    contact: SimulatedContact,
    fields: [Field, string | null][],
    inBook: Partial<Record<Field, string>>,
  ): { fill?: Row } {
    const known = this.identities.get(contact.id) ?? {};
    const missing = fields.filter(
      (pair): pair is [Field, string] => pair[1] !== null && known[pair[0]] === undefined,
    );
    if (missing.length === 0) return {};
    const taken = missing.some(([field, value]) => {
      const holder = inBook[field] ?? this.byField.get(`${field}\0${value}`)?.id;
      return holder !== undefined && holder !== contact.id;
    });
    if (taken) return {};
    for (const [field, value] of missing) {
      this.byField.set(`${field}\0${value}`, contact);
      known[field] = value;
    }
    this.identities.set(contact.id, known);
    return { fill: Object.fromEntries(missing) };
  }
}
