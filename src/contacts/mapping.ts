// How a Supabase row becomes contact data: `user_mapping` for auth users (with
// the reference connector's defaults) and `table_mapping` for app tables (as
// contact attributes or as events). Pure functions, shared by `nudge sync` and
// the engine's live sync; checks against the live schema are in sync/validate.ts.
import type { z } from 'zod';
import { exclusionOf } from '../capture/columns.js';
import type { attributeTypeSchema, TableMapping } from '../config/schema.js';
import { JsonNumber } from '../db/json.js';
import { formatTableName, type TableName } from '../source/names.js';
import type { SyncedUser } from './store.js';
import {
  type Conversion,
  convertValue,
  describe,
  fail,
  kindOf,
  ok,
  toTimestamp,
  UUID,
} from './sync/values.js';

export { type Conversion, convertValue, toTimestamp };

export type AttributeType = z.output<typeof attributeTypeSchema>;
export type AttributeTypes = Record<string, AttributeType>;
export type Row = Record<string, unknown>;

/** The reference connector's default user mappings, with Nudge's attribute names. */
export const DEFAULT_USER_MAPPING: Readonly<Record<string, string>> = {
  email: 'email',
  phone: 'phone',
  'user_metadata.full_name': 'full_name',
  'user_metadata.avatar_url': 'avatar_url',
  created_at: 'created_at',
  last_sign_in_at: 'last_sign_in_at',
  'app_metadata.provider': 'provider',
  confirmed_at: 'confirmed_at',
};

const AUTH_USERS_TABLE = { schema: 'auth', table: 'users' };

/** auth.users columns the Auth admin API's user object carries (by their column names). */
export const AUTH_API_COLUMNS: ReadonlySet<string> = new Set([
  'id',
  'aud',
  'role',
  'email',
  'email_confirmed_at',
  'invited_at',
  'phone',
  'phone_confirmed_at',
  'confirmation_sent_at',
  'confirmed_at',
  'recovery_sent_at',
  'email_change',
  'email_change_sent_at',
  'phone_change',
  'phone_change_sent_at',
  'reauthentication_sent_at',
  'last_sign_in_at',
  'raw_app_meta_data',
  'raw_user_meta_data',
  'created_at',
  'updated_at',
  'banned_until',
  'deleted_at',
  'is_anonymous',
]);

/** Where the API's JSON names a column differently (GoTrue's json tags). */
const API_NAMES: Readonly<Record<string, string>> = {
  raw_app_meta_data: 'app_metadata',
  raw_user_meta_data: 'user_metadata',
  email_change: 'new_email',
  phone_change: 'new_phone',
};

const METADATA = {
  user_metadata: 'raw_user_meta_data',
  raw_user_meta_data: 'raw_user_meta_data',
  app_metadata: 'raw_app_meta_data',
  raw_app_meta_data: 'raw_app_meta_data',
} as const;
export const METADATA_PREFIXES = Object.keys(METADATA);

/** One `source: TARGET` entry, resolved. */
export interface MappedField {
  /** As written in nudge.yaml, e.g. `user_metadata.full_name`. */
  source: string;
  /** The auth.users column it reads (raw_*_meta_data for metadata paths). */
  column: string;
  /** Steps into the JSON of a metadata column; empty for plain columns. */
  path: string[];
  target: string;
}

export interface UserMapping {
  fields: MappedField[];
  /** What fills the contact's own email and phone: the field mapped to `email`/`phone`, else the column. */
  email: MappedField;
  phone: MappedField;
  /** Every field a row is read for: the mapped ones, and email and phone. */
  read: MappedField[];
  types: AttributeTypes;
}

/** Parses a user_mapping key: a column, or `user_metadata.<path>` / `app_metadata.<path>`. */
export function parseUserSource(source: string): { column: string; path: string[] } {
  const [head = '', ...path] = source.split('.');
  const metadata = METADATA[head as keyof typeof METADATA];
  if (metadata) return { column: metadata, path };
  return { column: source, path: [] };
}

/**
 * The user mapping in effect: the defaults, with the user's entries replacing
 * the default for the same source (so `phone: SMS` renames the phone
 * attribute) and adding the rest.
 */
export function compileUserMapping(
  userMapping: Record<string, string> | undefined,
  types: AttributeTypes = {},
): UserMapping {
  const merged: Record<string, string> = { ...DEFAULT_USER_MAPPING };
  for (const [source, target] of Object.entries(userMapping ?? {})) {
    // `user_metadata.x` and `raw_user_meta_data.x` are one source.
    const parsed = parseUserSource(source);
    for (const existing of Object.keys(merged)) {
      const other = parseUserSource(existing);
      if (other.column === parsed.column && other.path.join('.') === parsed.path.join('.'))
        delete merged[existing];
    }
    // A default whose attribute name the user gave to another source makes way.
    for (const [existing, name] of Object.entries(merged)) {
      if (name === target && existing in DEFAULT_USER_MAPPING && !(existing in (userMapping ?? {})))
        delete merged[existing];
    }
    merged[source] = target;
  }
  const fields = Object.entries(merged).map(([source, target]) => ({
    source,
    target,
    ...parseUserSource(source),
  }));
  const column = (name: string): MappedField => ({
    source: name,
    column: name,
    path: [],
    target: name,
  });
  const email = fields.find((f) => f.target === 'email') ?? column('email');
  const phone = fields.find((f) => f.target === 'phone') ?? column('phone');
  return { fields, email, phone, read: [...new Set([...fields, email, phone])], types };
}

/** The auth.users columns a sync must read for this mapping (never a secret one). */
export function userColumns(mapping: UserMapping): string[] {
  const columns = new Set(['id', 'email', 'phone', 'updated_at', 'deleted_at']);
  for (const field of [...mapping.fields, mapping.email, mapping.phone]) columns.add(field.column);
  return [...columns].filter((c) => !exclusionOf(AUTH_USERS_TABLE, c));
}

/** Time columns of auth.users: normalised to ISO 8601 UTC so every source gives the same text. */
export const isUserTimeColumn = (column: string) =>
  column.endsWith('_at') || column === 'banned_until';

/**
 * An auth user — a database row (raw_*_meta_data, Dates) or the Auth admin
 * API's JSON (user_metadata/app_metadata, strings) — as contact data, or the
 * reason it cannot be used.
 */
export function userToContact(row: Row, mapping: UserMapping): Conversion<SyncedUser> {
  const id = readUserColumn(row, 'id');
  if (typeof id !== 'string' || !UUID.test(id)) return fail(`id ${describe(id)} is not a UUID`);
  const attributes: Record<string, unknown> = {};
  let email: string | null = null;
  let phone: string | null = null;
  for (const field of mapping.read) {
    const read = readUserField(row, field);
    if (!read.ok) return read;
    if (field === mapping.email || field === mapping.phone) {
      const text = read.value;
      if (text !== null && typeof text !== 'string') {
        return fail(`${field.source} is ${describe(text)}, not text`);
      }
      if (field === mapping.email) email = text || null;
      else phone = text || null;
      continue;
    }
    const converted = convertValue(read.value, mapping.types[field.target], field.source);
    if (!converted.ok) return converted;
    attributes[field.target] = converted.value;
  }
  const deleted = toTimestamp(readUserColumn(row, 'deleted_at'));
  if (deleted === undefined) return fail('deleted_at is not a timestamp');
  return {
    ok: true,
    value: {
      authUserId: id.toLowerCase(),
      email,
      phone,
      attributes,
      deletedAt: deleted === null ? null : new Date(deleted),
    },
  };
}

/** Columns the Auth API writes as "" when they are NULL (GoTrue's NullString and omitempty text). */
export const EMPTY_IS_NULL: ReadonlySet<string> = new Set([
  'email',
  'phone',
  'email_change',
  'phone_change',
]);

function readUserColumn(row: Row, column: string): unknown {
  const apiName = API_NAMES[column];
  const value = column in row ? row[column] : apiName ? row[apiName] : undefined;
  return value === '' && EMPTY_IS_NULL.has(column) ? null : value;
}

function readUserField(row: Row, field: MappedField): Conversion<unknown> {
  const raw = readUserColumn(row, field.column) ?? null;
  if (field.path.length === 0) {
    if (!isUserTimeColumn(field.column) || raw === null) return { ok: true, value: raw };
    const time = toTimestamp(raw);
    return time === undefined
      ? fail(`${field.source} ${describe(raw)} is not a timestamp`)
      : { ok: true, value: time };
  }
  const name = field.column === 'raw_user_meta_data' ? 'user_metadata' : 'app_metadata';
  if (raw === null) return { ok: true, value: null };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    return fail(`${name} is ${kindOf(raw)}, not an object`);
  }
  let value: unknown = raw;
  for (const step of field.path) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return ok(null);
    if (value instanceof JsonNumber) return ok(null); // a number: no keys
    // Own keys only: a step named like an Object method (`constructor`) is a missing key.
    value = Object.hasOwn(value, step) ? ((value as Row)[step] ?? null) : null;
  }
  return { ok: true, value };
}

// Tables -------------------------------------------------------------------------

/** A table_mapping entry checked against the table (see sync/validate.ts). */
export interface TableSyncMapping {
  /** The key as written under table_mapping. */
  key: string;
  table: TableName;
  mode: 'attributes' | 'events';
  /** column → attribute (attributes mode). */
  attributes: { column: string; target: string }[];
  /** property → column (events mode); null means every column. */
  properties: { property: string; column: string }[] | null;
  eventName: string;
  /** How a row finds its contact. */
  contact: { by: 'email' | 'user_id'; column: string };
  primaryKey: string[];
  /**
   * The column incremental syncs page by, if any: updated_at; for events
   * also created_at (a row becomes its event once, when it is created). An
   * attributes table with only created_at has none: its rows change after
   * they are created, so each run reads it whole.
   */
  changedAt: string | null;
  /** When an event happened: created_at if the table has it, else changedAt. */
  occurredAt: string | null;
  /** Columns whose values are times (normalised to ISO 8601 UTC). */
  timeColumns: string[];
  /** Every column in the table, for `properties` left out. */
  allColumns: string[];
  types: AttributeTypes;
}

/** Builds the mapping from a table_mapping entry once its columns are known to exist. */
export function compileTableMapping(
  key: string,
  table: TableName,
  entry: TableMapping,
  shape: {
    columns: { name: string; time: boolean }[];
    primaryKey: string[];
    contact: { by: 'email' | 'user_id'; column: string };
  },
  types: AttributeTypes = {},
): TableSyncMapping {
  const { sync_as, event_name, properties, contact: _contact, ...pairs } = entry;
  const names = new Set(shape.columns.map((c) => c.name));
  const mode = sync_as ?? 'attributes';
  const followed = mode === 'events' ? ['updated_at', 'created_at'] : ['updated_at'];
  const changedAt = followed.find((c) => names.has(c)) ?? null;
  return {
    key,
    table,
    mode,
    attributes: Object.entries(pairs).map(([column, target]) => ({ column, target })),
    properties: properties
      ? Object.entries(properties).map(([property, column]) => ({ property, column }))
      : null,
    eventName: event_name ?? table.table,
    contact: shape.contact,
    primaryKey: shape.primaryKey,
    changedAt,
    occurredAt: names.has('created_at') ? 'created_at' : changedAt,
    timeColumns: shape.columns.filter((c) => c.time).map((c) => c.name),
    allColumns: shape.columns.map((c) => c.name),
    types,
  };
}

/** The columns a sync reads from the table for this mapping. */
export function tableColumns(mapping: TableSyncMapping): string[] {
  const columns = new Set([...mapping.primaryKey, mapping.contact.column]);
  if (mapping.changedAt) columns.add(mapping.changedAt);
  if (mapping.mode === 'attributes') {
    for (const { column } of mapping.attributes) columns.add(column);
  } else {
    if (mapping.occurredAt) columns.add(mapping.occurredAt);
    for (const column of mapping.properties?.map((p) => p.column) ?? mapping.allColumns)
      columns.add(column);
  }
  return [...columns];
}

export type ContactRef = { authUserId: string } | { email: string };

/** A row of a table synced as attributes: its contact and the attributes to merge. */
export function tableRowToAttributes(
  row: Row,
  mapping: TableSyncMapping,
): Conversion<{ contact: ContactRef; attributes: Record<string, unknown> }> {
  const contact = rowContact(row, mapping);
  if (!contact.ok) return contact;
  const attributes: Record<string, unknown> = {};
  for (const { column, target } of mapping.attributes) {
    // The column that finds the contact by email is its identity, not an attribute.
    if (target === 'email' && column === mapping.contact.column) continue;
    const value = columnValue(row, column, mapping);
    if (!value.ok) return value;
    const converted = convertValue(value.value, mapping.types[target], column);
    if (!converted.ok) return converted;
    attributes[target] = converted.value;
  }
  return ok({ contact: contact.value, attributes });
}

export interface SyncedEvent {
  name: string;
  properties: Record<string, unknown>;
  occurredAt: string | null;
  idempotencyKey: string;
}

/** A row of a table synced as events: its contact and the event, keyed by the row's primary key. */
export function tableRowToEvent(
  row: Row,
  mapping: TableSyncMapping,
): Conversion<{ contact: ContactRef; event: SyncedEvent }> {
  const contact = rowContact(row, mapping);
  if (!contact.ok) return contact;
  const properties: Record<string, unknown> = {};
  const pairs =
    mapping.properties ?? mapping.allColumns.map((column) => ({ property: column, column }));
  for (const { property, column } of pairs) {
    const value = columnValue(row, column, mapping);
    if (!value.ok) return value;
    properties[property] = value.value;
  }
  const at = mapping.occurredAt ? columnValue(row, mapping.occurredAt, mapping) : ok(null);
  if (!at.ok) return at;
  const key = tableEventKey(mapping, row);
  if (!key.ok) return key;
  return ok({
    contact: contact.value,
    event: {
      name: mapping.eventName,
      properties,
      occurredAt: typeof at.value === 'string' ? at.value : null,
      idempotencyKey: key.value,
    },
  });
}

/**
 * The idempotency key of the event a row becomes: one per source row, so
 * re-running a sync (or the live sync seeing the same row) adds nothing.
 */
export function tableEventKey(mapping: TableSyncMapping, row: Row): Conversion<string> {
  const values = mapping.primaryKey.map((column) => row[column]);
  if (values.some((v) => v === null || v === undefined)) return fail('primary key is null');
  return ok(
    `table:${formatTableName(mapping.table)}:${mapping.eventName}:${JSON.stringify(values)}`,
  );
}

function rowContact(row: Row, mapping: TableSyncMapping): Conversion<ContactRef> {
  const { by, column } = mapping.contact;
  const value = row[column];
  if (value === null || value === undefined || value === '') return fail(`${column} is empty`);
  if (typeof value !== 'string') return fail(`${column} is ${describe(value)}, not text`);
  if (by === 'user_id') {
    return UUID.test(value)
      ? ok({ authUserId: value.toLowerCase() })
      : fail(`${column} ${describe(value)} is not a user id (UUID)`);
  }
  const email = value.trim().toLowerCase();
  return email.includes('@') ? ok({ email }) : fail(`${column} ${describe(value)} is not an email`);
}

function columnValue(row: Row, column: string, mapping: TableSyncMapping): Conversion<unknown> {
  const raw = row[column] ?? null;
  if (raw === null || !mapping.timeColumns.includes(column)) return ok(raw);
  const time = toTimestamp(raw);
  return time === undefined ? fail(`${column} ${describe(raw)} is not a timestamp`) : ok(time);
}
