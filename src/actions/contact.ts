// Actions on the contact book: set attributes, add to / remove from a static
// list (add_to_list makes it by name on first use; a segment is refused, its
// members being whoever meets its condition), track an event. All of them
// write in `tx`, the transaction that also marks the run succeeded.
import type postgres from 'postgres';
import { LIST_NAME, LIST_NAME_RULE } from '../contacts/lists.js';
import { setAttributes } from '../contacts/store.js';
import { type ActionProvider, type ActionRun, PermanentError } from './types.js';

/**
 * Exactly once per key: the effect and "succeeded" commit together or not at
 * all, and the task skips a run that already succeeded. Each effect is also
 * idempotent on its own (a merge, a membership, an event keyed by the run's
 * key), so a replay of a succeeded run changes nothing but a `set` whose
 * values were changed since by something else.
 */
export const contactProvider: ActionProvider = {
  kinds: ['set', 'add_to_list', 'remove_from_list', 'track'],
  usesStore: () => true,
  async execute(run, env, tx) {
    switch (run.kind) {
      case 'set': {
        const attributes = run.params as Record<string, unknown>;
        await setAttributes(tx, contactOf(run), attributes);
        return { set: Object.keys(attributes) };
      }
      case 'add_to_list': {
        const list = listName(run.params);
        const listId = await ensureList(tx, list);
        const added = await tx`
          insert into nudge_engine.list_members (list_id, contact_id)
          select ${listId}, id from nudge_engine.contacts where id = ${contactOf(run)}
          on conflict do nothing`;
        return { list, added: added.count === 1 };
      }
      case 'remove_from_list': {
        const list = listName(run.params);
        // No list, no member to remove: nothing is made.
        const listId = await staticList(tx, list, run.kind);
        if (listId === undefined) return { list, removed: false };
        const removed = await tx`
          delete from nudge_engine.list_members
           where list_id = ${listId} and contact_id = ${contactOf(run)}`;
        return { list, removed: removed.count === 1 };
      }
      case 'track': {
        const { event, properties } = run.params as { event: unknown; properties?: unknown };
        const name = String(event ?? '').trim();
        if (!name) throw new PermanentError('track: event renders to an empty name');
        const occurredAt = env.clock.now();
        const [row] = await tx<{ id: string }[]>`
          insert into nudge_engine.events (contact_id, name, properties, source, occurred_at, idempotency_key)
          values (${run.contactId}, ${name}, ${tx.json((properties ?? {}) as postgres.JSONValue)},
                  'action', ${occurredAt}, ${run.key})
          on conflict (idempotency_key) do nothing
          returning id`;
        if (row && run.contactId) {
          await tx`
            update nudge_engine.contacts
               set last_event_at = greatest(last_event_at, ${occurredAt})
             where id = ${run.contactId}`;
        }
        return { event: name, event_id: row ? Number(row.id) : null };
      }
      default:
        throw new PermanentError(`the contact provider cannot run ${run.kind}`);
    }
  },
};

function contactOf(run: ActionRun): string {
  if (!run.contactId) throw new PermanentError(`${run.kind} needs a contact; this run has none`);
  return run.contactId;
}

function listName(params: unknown): string {
  const name = String(params ?? '').trim();
  if (!name) throw new PermanentError('the list name renders to an empty string');
  return name;
}

/**
 * A static list's id by name, undefined when there is none. A segment is a
 * permanent failure: rows added to it would be stored and never read (its
 * members are the contacts meeting its condition), as the API's 409 says.
 */
async function staticList(
  tx: postgres.TransactionSql,
  name: string,
  kind: string,
): Promise<string | undefined> {
  const [found] = await tx<{ id: string; query: string | null }[]>`
    select id, query from nudge_engine.lists where name = ${name}`;
  if (found && found.query !== null) {
    throw new PermanentError(
      `"${name}" is a segment (a saved condition); ${kind} needs a static list`,
    );
  }
  return found?.id;
}

/**
 * The static list's id, making the list on first use (safe when two runs
 * make it at once). Only a new list's name must follow the rule (a name
 * rendered from a template is known here only): a list made before the rule
 * keeps working.
 */
async function ensureList(tx: postgres.TransactionSql, name: string): Promise<string> {
  const found = await staticList(tx, name, 'add_to_list');
  if (found !== undefined) return found;
  if (!LIST_NAME.test(name)) {
    throw new PermanentError(`cannot make the list "${name}" for add_to_list: ${LIST_NAME_RULE}`);
  }
  const [created] = await tx<{ id: string }[]>`
    insert into nudge_engine.lists (name) values (${name})
    on conflict (name) do nothing
    returning id`;
  if (created) return created.id;
  // Made meanwhile by another run or the API: read again (a segment is refused as above).
  return (await staticList(tx, name, 'add_to_list'))!;
}
