// A lane's batch processed all together — the fast path of process.ts. The
// result is what processing the events one after the other would give; only
// the round trips differ (and, for live sync and a paused feature's skip,
// which contacts are in the book and what they look like; 0. and 1.):
//
// 0. Live sync. The changes live sync watches (auth.users, storage.objects,
//    mapped tables) are applied to the contact book first, one after the
//    other in inbox order — they use savepoints, which must never run
//    concurrently on one transaction — so the contacts they create or change
//    are what step 1 finds. Within a batch, then, a feature sees the contact
//    as live sync left it after the whole batch, not only up to its event.
// 1. Contacts. Every identity the batch's events name is looked up in one
//    query; an identity that matches a contact on every field it gives is that
//    contact (resolveContact would return it and change nothing). The others
//    go through resolveContact one by one, in event order, as the slow path
//    would — so two identities of one new person still make one contact.
//    Contact rows are then read for all contacts at once. A paused feature's
//    skip looks its contact up without creating one (event.ts) once these
//    are in the book, so it may name a contact a later event of the batch
//    created, as live sync's may (0.).
// 2. Journeys. The journeys of every (feature, contact) the batch may step
//    are read and locked in one query, and the ones it changes written in one
//    statement at the end (journeys/store.ts JourneyCache). Events are stepped concurrently on the one transaction (the
//    driver pipelines their queries), except that an event waits for every
//    earlier event of the batch that involves one of its contacts: a contact's
//    events are still stepped in inbox order, one at a time, and an event that
//    involves two contacts waits for both. Each event collects its decisions
//    and actions apart; they are joined in event order at the end.
//
// Any error makes the whole attempt fail (the caller rolls it back and falls
// back to one event at a time, which isolates the bad event).
import type postgres from 'postgres';
import { findContact } from '../../contacts/sql/find-contact.js';
import { findContacts } from '../../contacts/sql/find-contacts.js';
import {
  type ContactIdentity,
  contactRow,
  contactRows,
  createContacts,
  identityKey,
  keysOf,
  resolveContact,
} from '../../contacts/store.js';
import type { InboxRow } from '../intake/inbox.js';
import type { Decision } from '../journeys/machine.js';
import { type JourneyCache, prefetchJourneys, type StepEnv } from '../journeys/store.js';
import { candidatesOf, triggerVerdict } from '../match/candidates.js';
import type { Row } from '../match/features.js';
import { beforeContact } from '../match/rules.js';
import { cap, type ProcessContext } from './context.js';
import { type ContactSource, handleEvent } from './event.js';
import { syncLive } from './live-sync.js';

export async function processTogether(
  tx: postgres.TransactionSql,
  ctx: ProcessContext,
  rows: InboxRow[],
): Promise<StepEnv> {
  const now = ctx.clock.now();
  const synced: string[][] = [];
  const syncDecisions: Decision[] = [];
  for (const row of rows) {
    const { contactIds, decisions } = await syncLive(tx, ctx, row, now);
    synced.push(contactIds);
    syncDecisions.push(...decisions);
  }
  const { contacts, involved, journeys } = await resolveBatch(tx, ctx, rows, now);
  for (const [i, ids] of synced.entries()) for (const id of ids) involved[i]!.add(id);
  const batchEmails = new Map<string, number>();
  const envs: StepEnv[] = rows.map(() => ({
    tx,
    now,
    decisions: [],
    actions: [],
    batchEmails,
    journeys,
    ...cap(ctx),
  }));

  const tails = new Map<string, Promise<void>>();
  const steps: Promise<void>[] = [];
  let failure: { error: unknown } | undefined;
  rows.forEach((row, i) => {
    const env = envs[i]!;
    const after = [...involved[i]!].flatMap((id) => tails.get(id) ?? []);
    const step = Promise.all(after).then(async () => {
      if (failure) return;
      try {
        await handleEvent(env, ctx, row, contacts, synced[i]);
        for (const d of env.decisions) {
          if (d.contactId && d.outcome === 'action' && d.detail?.kind === 'email')
            batchEmails.set(d.contactId, (batchEmails.get(d.contactId) ?? 0) + 1);
        }
      } catch (error) {
        failure ??= { error };
      }
    });
    for (const id of involved[i]!) tails.set(id, step);
    steps.push(step);
  });
  // Every step settles (none rejects) before the caller may roll back.
  await Promise.all(steps);
  if (failure) throw failure.error;
  return {
    tx,
    now,
    // Live sync's first, in inbox order, then the features'.
    decisions: [...syncDecisions, ...envs.flatMap((e) => e.decisions)],
    actions: envs.flatMap((e) => e.actions),
    // Written by the caller's finish(), with the rest.
    journeys,
    ...cap(ctx),
  };
}

/**
 * Resolves every contact the batch needs (the identities of the candidate
 * features that get as far as resolving one in handleEvent) and reads their
 * rows. Returns them as a ContactSource, and for each event the contacts it
 * involves.
 */
async function resolveBatch(
  tx: postgres.TransactionSql,
  ctx: ProcessContext,
  rows: InboxRow[],
  now: Date,
): Promise<{
  contacts: ContactSource;
  involved: Set<string>[];
  journeys: JourneyCache;
}> {
  const eventKeys: string[][] = [];
  const featureKeys: { feature: string; key: string }[] = [];
  const identities = new Map<string, ContactIdentity>();
  for (const row of rows) {
    const keys: string[] = [];
    const data = { new: row.new_row, old: row.old_row };
    for (const feature of candidatesOf(ctx.features, row)) {
      // Whom handleEvent will look up: the matcher's rules (match/rules.ts).
      const before = beforeContact(feature, data, ctx.features.isPaused(feature), (f) =>
        triggerVerdict(f, row, now),
      );
      if (before.outcome !== 'resolve') continue;
      const { identity } = before;
      const key = identityKey(identity);
      keys.push(key);
      featureKeys.push({ feature: feature.name, key });
      if (!identities.has(key)) identities.set(key, identity);
    }
    eventKeys.push(keys);
  }

  const byKey = new Map<string, string>();
  const list = [...identities];
  if (list.length > 0) {
    const exact = await findContacts(
      tx,
      list.map(([, identity]) => identity),
    );
    for (const { n, id } of exact) byKey.set(list[n - 1]![0], id);
    // New people, created together; what collides with a contact or with
    // another identity of the batch goes through resolveContact, in order.
    const missing = list.filter(([key]) => !byKey.has(key));
    const createdIds = await createContacts(
      tx,
      missing.map(([, identity]) => identity),
    );
    const created: { id: string; identity: ContactIdentity }[] = [];
    missing.forEach(([key, identity], i) => {
      const id = createdIds[i];
      if (!id) return;
      byKey.set(key, id);
      created.push({ id, identity });
    });
    for (const [key, identity] of missing) {
      if (byKey.has(key)) continue;
      const { id, created: isNew } = await resolveContact(tx, identity);
      if (isNew) created.push({ id, identity });
      byKey.set(key, id);
    }
    if (created.length > 0) await ctx.onContactsCreated?.(tx, created);
  }

  const pairs = new Map<string, { feature: string; contactId: string }>();
  for (const { feature, key } of featureKeys) {
    const contactId = byKey.get(key)!;
    pairs.set(`${feature}\u0000${contactId}`, { feature, contactId });
  }
  const ids = [...new Set(byKey.values())];
  const [found, journeys] = await Promise.all([
    contactRows(tx, ids),
    prefetchJourneys(tx, [...pairs.values()]),
  ]);
  const rowsById = new Map<string, Row | null>(ids.map((id) => [id, found.get(id) ?? null]));
  const contacts: ContactSource = {
    async resolve(_tx, identity) {
      const id = byKey.get(identityKey(identity));
      if (!id) throw new Error('a contact the batch did not resolve');
      return id;
    },
    async find(_tx, identity) {
      return byKey.get(identityKey(identity)) ?? findContact(tx, keysOf(identity));
    },
    async row(_tx, contactId) {
      return rowsById.has(contactId)
        ? (rowsById.get(contactId) ?? null)
        : contactRow(tx, contactId);
    },
  };
  const involved = eventKeys.map((keys) => new Set(keys.map((key) => byKey.get(key)!)));
  return { contacts, involved, journeys };
}
