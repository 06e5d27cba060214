// Addresses that get no more non-transactional email: a permanent bounce
// puts one here (POST /ingest/resend). Kept by address, lower-cased, not by
// contact: the address is what bounced, whichever contact holds it.
import { mailboxOf } from '../actions/params.js';
import type { Db } from '../contacts/store.js';

/** The bare address of a mailbox (`Ada <ada@x.com>` → ada@x.com), lower-cased; anything else trimmed and lower-cased. */
export function normalizeAddress(address: string): string {
  const mailbox = mailboxOf(address);
  return ('address' in mailbox ? mailbox.address : address).trim().toLowerCase();
}

/** Why an address is suppressed, as the skip reason shows it: `suppressed (ada@example.com bounced)`. */
export type SuppressionReason = 'bounced' | "on Resend's suppression list";

/** Suppresses the address; a second bounce keeps the first reason. Returns whether it is new. */
export async function suppress(
  db: Db,
  address: string,
  reason: SuppressionReason,
  detail: Record<string, unknown>,
): Promise<boolean> {
  const rows = await db`
    insert into nudge_engine.email_suppressions (address, reason, detail)
    values (${normalizeAddress(address)}, ${reason}, ${db.json(detail as never)})
    on conflict (address) do nothing
    returning address`;
  return rows.length > 0;
}

/** address (normalized) → why it is suppressed, for those of `addresses` that are. */
export async function suppressionsOf(db: Db, addresses: string[]): Promise<Map<string, string>> {
  if (addresses.length === 0) return new Map();
  const rows = await db<{ address: string; reason: string }[]>`
    select address, reason from nudge_engine.email_suppressions
     where address = any(${addresses.map(normalizeAddress)}::text[])`;
  return new Map(rows.map((r) => [r.address, r.reason]));
}
