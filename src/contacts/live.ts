// Live sync: with connectors.supabase.sync.realtime (and .storage), the
// contact book follows the database as it changes — no re-sync. This file
// says what live sync needs captured, whichever way capture runs (triggers
// or replication, deployed by the same plan/deploy as features): auth.users
// for sign-ups, sign-ins, updates and deletions, every mapped table, and
// storage.objects for uploads, uploads over an existing path, moves and
// removals.
import type postgres from 'postgres';
import { NAMED_EVENTS, namedEventsOf } from '../capture/named-events.js';
import { type CaptureNeed, capturedColumns, type Operation } from '../capture/triggers.js';
import { configErrorAt, type LoadedConfig } from '../config/load.js';
import { type ConfigError, throwIfAny } from '../errors.js';
import type { Catalog } from '../source/catalog.js';
import type { Sql } from '../source/connect.js';
import { formatTableName, parseTableName, type TableName, tableKey } from '../source/names.js';
import { didYouMean } from '../suggest.js';
import {
  type ContactRef,
  type TableSyncMapping,
  tableRowToAttributes,
  tableRowToEvent,
  type UserMapping,
  userToContact,
} from './mapping.js';
import { resolveContact, setAttributes } from './store.js';
import {
  checkTableMappings,
  checkUserMapping,
  readDatabaseSchema,
  refusedTable,
} from './sync/validate.js';
import { insertEvents, type UserWrite, writeUsers } from './sync/write.js';

const STORAGE_EVENTS: Record<Operation, string> = {
  insert: 'created',
  update: 'updated',
  delete: 'deleted',
};

export const AUTH_USERS: TableName = { schema: 'auth', table: 'users' };
export const STORAGE_OBJECTS: TableName = { schema: 'storage', table: 'objects' };

interface Watched {
  table: TableName;
  operations: Operation[];
  /** Narrows an operation's capture to the rows live sync uses. */
  filters?: Partial<Record<Operation, CaptureNeed['filter']>>;
  by: string;
  /** Where nudge.yaml names it, for errors. */
  path: (string | number)[];
  /** Its key under table_mapping, for a mapped table. */
  mapping?: string;
}

/** The tables live sync watches, with why. */
export function liveSyncTables(project: LoadedConfig): Watched[] {
  const supabase = project.supabase;
  if (!supabase?.enabled) return [];
  const base = ['connectors', 'supabase'];
  const watched: Watched[] = [];
  if (supabase.sync.realtime && supabase.sync.users) {
    watched.push({
      table: AUTH_USERS,
      operations: ['insert', 'update', 'delete'],
      by: 'sync: users',
      path: [...base, 'sync', 'users'],
    });
  }
  if (supabase.sync.realtime) {
    // Only a mapped table has something to sync: a row of a table listed in
    // sync.tables without a table_mapping entry would be captured and thrown
    // away (nudge doctor warns of it). A table synced as attributes merges
    // its inserts and updates, as events its inserts; deletes change nothing.
    const seen = new Set<string>();
    const listedKey = (text: string) => {
      const table = parseTableName(text);
      return table && tableKey(table);
    };
    for (const [name, entry] of Object.entries(supabase.table_mapping ?? {})) {
      const table = parseTableName(name);
      if (!table || seen.has(tableKey(table))) continue;
      seen.add(tableKey(table));
      const listed = supabase.sync.tables.findIndex((text) => listedKey(text) === tableKey(table));
      watched.push({
        table,
        operations: entry.sync_as === 'events' ? ['insert'] : ['insert', 'update'],
        by: `sync: ${name}`,
        path: listed >= 0 ? [...base, 'sync', 'tables', listed] : [...base, 'table_mapping', name],
        mapping: name,
      });
    }
  }
  if (supabase.sync.storage) {
    const updated = NAMED_EVENTS['storage.object.updated']?.filter;
    watched.push({
      table: STORAGE_OBJECTS,
      operations: ['insert', 'update', 'delete'],
      ...(updated ? { filters: { update: updated } } : {}),
      by: 'sync: storage',
      path: [...base, 'sync', 'storage'],
    });
  }
  return watched;
}

/** Capture needs for live sync. A watched table that does not exist is an error at its place in nudge.yaml. */
export function liveSyncNeeds(project: LoadedConfig, catalog: Catalog): CaptureNeed[] {
  const errors: ConfigError[] = [];
  const needs: CaptureNeed[] = [];
  for (const { table, operations, by, path, filters, mapping } of liveSyncTables(project)) {
    // Refused where nudge.yaml maps it, as `nudge sync` refuses it.
    const refused = mapping === undefined ? undefined : refusedTable(table);
    if (mapping !== undefined && refused) {
      const at = ['connectors', 'supabase', 'table_mapping', mapping];
      errors.push(configErrorAt(project, at, refused, { key: true }));
      continue;
    }
    const found = catalog.get(table);
    if (!found) {
      const names = catalog.tables.map(formatTableName);
      const problem = `table ${formatTableName(table)} does not exist${didYouMean(formatTableName(table), names)}`;
      errors.push(configErrorAt(project, path, problem, { key: path.at(-2) === 'table_mapping' }));
      continue;
    }
    const columns = capturedColumns(found);
    for (const operation of operations) {
      const filter = filters?.[operation];
      needs.push({ table, operation, by, ...columns, ...(filter ? { filter } : {}) });
    }
  }
  throwIfAny(errors);
  return needs;
}

/** Live sync compiled against the source's schema (checked like `nudge sync`). */
export interface LiveSync {
  users?: UserMapping;
  tables: Map<string, TableSyncMapping>;
  storage: boolean;
  /** log_realtime: say what each change did. */
  log?: (message: string) => void;
}

export async function compileLiveSync(
  project: LoadedConfig,
  source: Sql,
  log?: (message: string) => void,
): Promise<LiveSync | undefined> {
  const supabase = project.supabase;
  if (!supabase?.enabled || !(supabase.sync.realtime || supabase.sync.storage)) return undefined;
  const schema = await readDatabaseSchema(source);
  const realtime = supabase.sync.realtime;
  const users =
    realtime && supabase.sync.users && schema.userColumns
      ? checkUserMapping(project, schema)
      : undefined;
  const tables = realtime ? checkTableMappings(project, schema) : [];
  return {
    ...(users ? { users } : {}),
    tables: new Map(tables.map((m) => [tableKey(m.table), m])),
    storage: supabase.sync.storage,
    ...(supabase.log_realtime && log ? { log } : {}),
  };
}

/** Whether live sync does anything with changes of this table. */
export function liveSyncWatches(live: LiveSync, table: TableName): boolean {
  if (table.schema === AUTH_USERS.schema && table.table === AUTH_USERS.table) return !!live.users;
  if (table.schema === STORAGE_OBJECTS.schema && table.table === STORAGE_OBJECTS.table)
    return live.storage;
  return live.tables.has(tableKey(table));
}

export interface LiveChange {
  inboxId: number;
  schema: string;
  table: string;
  operation: Operation;
  newRow: Record<string, unknown> | null;
  oldRow: Record<string, unknown> | null;
  occurredAt: Date;
}

export interface LiveOutcome {
  /** Contacts the change touched: their waiting journeys re-check. */
  contactIds: string[];
  /** What happened, for the decision log. */
  summary?: string;
}

/**
 * Applies a captured change to the contact book, in the engine's transaction:
 * an auth user's insert/update upserts its contact through user_mapping and
 * records user.signed_up / user.signed_in / user.updated, a delete marks the
 * contact deleted (user.deleted); a storage upload or removal becomes
 * storage.object.created / .updated / .deleted on the owner's timeline; a mapped table's
 * row merges attributes or records its event (keyed like `nudge sync tables`,
 * so a later sync does not duplicate it). A row that cannot be mapped is
 * skipped with the reason; the features still run.
 */
export async function applyLiveSync(
  tx: postgres.TransactionSql,
  live: LiveSync,
  change: LiveChange,
): Promise<LiveOutcome> {
  const row = change.newRow ?? change.oldRow ?? {};
  const event = (
    contactId: string,
    name: string,
    properties: Record<string, unknown>,
    key = `capture:${change.inboxId}:${name}`,
  ) =>
    insertEvents(
      tx,
      [
        {
          contactId,
          event: {
            name,
            properties,
            occurredAt: change.occurredAt.toISOString(),
            idempotencyKey: key,
          },
        },
      ],
      'capture',
    );
  const say = (outcome: LiveOutcome): LiveOutcome => {
    if (outcome.summary)
      live.log?.(`${change.schema}.${change.table} ${change.operation}: ${outcome.summary}`);
    return outcome;
  };

  if (change.schema === AUTH_USERS.schema && change.table === AUTH_USERS.table && live.users) {
    // Supabase Auth's soft delete (the admin API's should_soft_delete) is an
    // update that sets deleted_at and replaces the email and phone with
    // obfuscated values: a deletion, never a change of address to sync.
    const update = change.operation === 'update';
    if (update && change.oldRow?.deleted_at != null && change.newRow?.deleted_at != null) {
      return say({ contactIds: [], summary: 'user already soft-deleted: not synced' });
    }
    const softDeleted =
      update && !!NAMED_EVENTS['user.soft_deleted']?.matches?.(change.newRow, change.oldRow);
    if (change.operation === 'delete' || softDeleted) {
      const [contact] = await tx<{ id: string }[]>`
        update nudge_engine.contacts set deleted_at = ${change.occurredAt}, updated_at = now()
         where auth_user_id = ${String(row.id)}::uuid returning id`;
      if (!contact) return say({ contactIds: [], summary: 'no contact for the deleted user' });
      await event(
        contact.id,
        'user.deleted',
        softDeleted ? { id: row.id, soft: true } : { id: row.id },
      );
      const how = softDeleted ? 'soft-deleted' : 'deleted';
      return say({ contactIds: [contact.id], summary: `contact marked ${how} (user.deleted)` });
    }
    const mapped = userToContact(row, live.users);
    if (!mapped.ok) return say({ contactIds: [], summary: `user not synced: ${mapped.reason}` });
    // As `nudge sync users` writes it: an address another contact holds is
    // taken where Auth's ownership allows (addresses.ts), else left out and
    // named below; the user is synced either way.
    let written: UserWrite;
    try {
      // Every statement in it runs in a savepoint: a failure leaves tx usable.
      written = await writeUsers(tx, [mapped.value]);
    } catch (error) {
      return say({ contactIds: [], summary: `user not synced: ${(error as Error).message}` });
    }
    const [refused] = written.failed;
    if (refused) return say({ contactIds: [], summary: `user not synced: ${refused.reason}` });
    const without = written.conflicts.map((c) => `; ${c.reason}: synced without it`).join('');
    const [contact] = await tx<{ id: string }[]>`
      select id from nudge_engine.contacts where auth_user_id = ${mapped.value.authUserId}::uuid`;
    if (!contact) return { contactIds: [] };
    const names =
      change.operation === 'insert'
        ? ['user.signed_up']
        : namedEventsOf(
            change.schema,
            change.table,
            change.operation,
            change.newRow,
            change.oldRow,
          );
    for (const name of names) await event(contact.id, name, {});
    return say({
      contactIds: [contact.id],
      summary: `contact synced (${names.join(', ')})${without}`,
    });
  }

  if (
    change.schema === STORAGE_OBJECTS.schema &&
    change.table === STORAGE_OBJECTS.table &&
    live.storage
  ) {
    // The capture's filter keeps Storage's own writes (last_accessed_at) out,
    // but not where a capture takes every update (another feature's, or
    // replication, which filters no update): the same test here.
    const updated = NAMED_EVENTS['storage.object.updated'];
    if (change.operation === 'update' && !updated?.matches?.(change.newRow, change.oldRow)) {
      return { contactIds: [] };
    }
    const owner = row.owner ?? row.owner_id;
    if (typeof owner !== 'string' || !owner) {
      return say({ contactIds: [], summary: 'no owner: on no timeline' });
    }
    const { id } = await resolveContact(
      tx,
      /^[0-9a-f-]{36}$/i.test(owner) ? { authUserId: owner } : { externalId: owner },
    );
    const name = `storage.object.${STORAGE_EVENTS[change.operation]}`;
    const metadata = (row.metadata ?? {}) as Record<string, unknown>;
    const old = change.oldRow;
    const moved =
      change.operation === 'update' &&
      old &&
      (old.name !== row.name || old.bucket_id !== row.bucket_id);
    await event(id, name, {
      bucket_id: row.bucket_id,
      name: row.name,
      size: metadata.size ?? null,
      mimetype: metadata.mimetype ?? null,
      ...(moved ? { previous_bucket_id: old.bucket_id, previous_name: old.name } : {}),
    });
    return say({ contactIds: [id], summary: `event ${name} recorded` });
  }

  const mapping = live.tables.get(tableKey({ schema: change.schema, table: change.table }));
  if (!mapping || change.operation === 'delete') return { contactIds: [] };
  const ref = (contact: ContactRef) =>
    'authUserId' in contact ? { authUserId: contact.authUserId } : { email: contact.email };
  if (mapping.mode === 'attributes') {
    const mapped = tableRowToAttributes(row, mapping);
    if (!mapped.ok) return say({ contactIds: [], summary: `row not synced: ${mapped.reason}` });
    const { id } = await resolveContact(tx, ref(mapped.value.contact));
    await setAttributes(tx, id, mapped.value.attributes);
    return say({
      contactIds: [id],
      summary: `attributes ${Object.keys(mapped.value.attributes).join(', ')}`,
    });
  }
  if (change.operation !== 'insert') return { contactIds: [] };
  const mapped = tableRowToEvent(row, mapping);
  if (!mapped.ok) return say({ contactIds: [], summary: `row not synced: ${mapped.reason}` });
  const { id } = await resolveContact(tx, ref(mapped.value.contact));
  await event(
    id,
    mapped.value.event.name,
    mapped.value.event.properties,
    mapped.value.event.idempotencyKey,
  );
  return say({ contactIds: [id], summary: `event ${mapped.value.event.name}` });
}
