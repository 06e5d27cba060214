// Named events a feature can trigger on instead of a table, the capture each
// one needs, and which of them a captured row is: Supabase Auth activity on
// auth.users and uploads on storage.objects, as the reference connector names them.
import type { TableName } from '../source/names.js';
import type { CaptureNeed, Operation } from './triggers.js';

export interface NamedEvent {
  table: TableName;
  operation: Operation;
  /** Narrows the capture to the rows that are this event (SQL, in the trigger). */
  filter?: CaptureNeed['filter'];
  /** The same test in the engine, on the captured rows. */
  matches?: (newRow: Row | null, oldRow: Row | null) => boolean;
  /** The columns `matches` reads ('all': it compares whole rows), so capture copies them. */
  reads?: string[] | 'all';
  description: string;
}

type Row = Record<string, unknown>;

const users = { schema: 'auth', table: 'users' };
const objects = { schema: 'storage', table: 'objects' };

export const NAMED_EVENTS: Record<string, NamedEvent> = {
  'user.signed_up': { table: users, operation: 'insert', description: 'a new Supabase Auth user' },
  'user.signed_in': {
    table: users,
    operation: 'update',
    filter: (row) => `${row.old('last_sign_in_at')} IS DISTINCT FROM ${row.new('last_sign_in_at')}`,
    matches: (n, o) => (n?.last_sign_in_at ?? null) !== (o?.last_sign_in_at ?? null),
    reads: ['last_sign_in_at'],
    description: 'last_sign_in_at changed',
  },
  'user.updated': {
    table: users,
    operation: 'update',
    // Supabase touches last_sign_in_at and updated_at on every sign-in: that
    // is user.signed_in. A soft delete (its address obfuscated) is
    // user.soft_deleted, not a change of the user's details.
    matches: (n, o) => changedBeyond(n, o, ['last_sign_in_at', 'updated_at']) && !softDeleted(n, o),
    reads: 'all',
    description: 'a change to an Auth user other than a sign-in',
  },
  'user.deleted': { table: users, operation: 'delete', description: 'an Auth user was deleted' },
  'user.soft_deleted': {
    table: users,
    operation: 'update',
    // The Auth admin API's delete with should_soft_delete: deleted_at set,
    // the email and phone replaced with obfuscated values.
    filter: (row) => `${row.old('deleted_at')} IS NULL AND ${row.new('deleted_at')} IS NOT NULL`,
    matches: softDeleted,
    reads: ['deleted_at'],
    description: 'an Auth user was soft-deleted (deleted_at set)',
  },
  'storage.object.created': {
    table: objects,
    operation: 'insert',
    description: 'a file was uploaded to Storage',
  },
  'storage.object.updated': {
    table: objects,
    operation: 'update',
    // An upload over an existing path (Storage's upsert) gives the object a
    // new version; a move renames it. Storage also writes last_accessed_at
    // and metadata on its own: those are not this event.
    filter: (row) =>
      `(${row.old('version')} IS DISTINCT FROM ${row.new('version')} OR ${row.old('name')} IS DISTINCT FROM ${row.new('name')} OR ${row.old('bucket_id')} IS DISTINCT FROM ${row.new('bucket_id')})`,
    matches: (n, o) =>
      ['version', 'name', 'bucket_id'].some(
        (column) => (n?.[column] ?? null) !== (o?.[column] ?? null),
      ),
    reads: ['version', 'name', 'bucket_id'],
    description: 'a file was uploaded again over the same path, or moved',
  },
  'storage.object.deleted': {
    table: objects,
    operation: 'delete',
    description: 'a file was removed from Storage',
  },
};

/** deleted_at set by this update: Supabase Auth's soft delete. */
function softDeleted(n: Row | null, o: Row | null): boolean {
  return (n?.deleted_at ?? null) !== null && (o?.deleted_at ?? null) === null;
}

function changedBeyond(n: Row | null, o: Row | null, ignored: string[]): boolean {
  const keys = new Set([...Object.keys(n ?? {}), ...Object.keys(o ?? {})]);
  return [...keys].some(
    (k) =>
      !ignored.includes(k) && JSON.stringify(n?.[k] ?? null) !== JSON.stringify(o?.[k] ?? null),
  );
}

/** Accepts the reference's webhook spellings too (auth.user.created). */
const ALIASES: Record<string, string> = { 'auth.user.created': 'user.signed_up' };

export function namedEvent(name: string): NamedEvent | undefined {
  return NAMED_EVENTS[ALIASES[name] ?? name];
}

/**
 * Whether a name is in a namespace Nudge owns (user., storage., auth.): such
 * a name must be one of the events above; any other is an event the app
 * tracks through the API.
 */
export function isBuiltInNamespace(name: string): boolean {
  return /^(user|storage|auth)\./.test(name);
}

/** The canonical name (aliases resolved). */
export function canonicalEventName(name: string): string {
  return ALIASES[name] ?? name;
}

/**
 * The named events on each (schema, table, operation), built once: a row of a
 * table no named event watches is answered with one lookup, not a pass over
 * NAMED_EVENTS.
 */
const NAMED_EVENTS_ON = new Map<string, [name: string, event: NamedEvent][]>();
for (const [name, event] of Object.entries(NAMED_EVENTS)) {
  const key = onKey(event.table.schema, event.table.table, event.operation);
  const events = NAMED_EVENTS_ON.get(key) ?? [];
  NAMED_EVENTS_ON.set(key, [...events, [name, event]]);
}

/** NUL cannot stand in a Postgres name, so the key is unambiguous. */
function onKey(schema: string, table: string, operation: Operation): string {
  return `${schema}\0${table}\0${operation}`;
}

/** The named events a captured row change is. */
export function namedEventsOf(
  schema: string,
  table: string,
  operation: Operation,
  newRow: Row | null,
  oldRow: Row | null,
): string[] {
  const events = NAMED_EVENTS_ON.get(onKey(schema, table, operation));
  if (!events) return [];
  return events.filter(([, e]) => e.matches?.(newRow, oldRow) ?? true).map(([name]) => name);
}
