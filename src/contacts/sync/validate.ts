// Checks user_mapping and table_mapping against the live schema before a sync
// writes anything: every named table and column must exist (with "did you
// mean"), credentials are never mapped, each table must say how its rows find
// a contact. Errors point at their place in nudge.yaml. The schema comes from
// the catalog (database URL) or from PostgREST's OpenAPI description (API mode).

import { type ExcludedColumns, exclusionOf } from '../../capture/columns.js';
import { configErrorAt, type LoadedConfig } from '../../config/load.js';
import type { TableMapping } from '../../config/schema.js';
import type { FieldPath } from '../../config/yaml.js';
import { ConfigError, throwIfAny } from '../../errors.js';
import { readCatalog } from '../../source/catalog.js';
import type { Sql } from '../../source/connect.js';
import { formatTableName, parseTableName, type TableName } from '../../source/names.js';
import type { SupabaseApi } from '../../source/supabase-api.js';
import { didYouMean } from '../../suggest.js';
import {
  type AttributeTypes,
  AUTH_API_COLUMNS,
  compileTableMapping,
  compileUserMapping,
  METADATA_PREFIXES,
  parseUserSource,
  type TableSyncMapping,
  type UserMapping,
} from '../mapping.js';

export interface SchemaTable extends TableName {
  columns: { name: string; time: boolean }[];
  primaryKey: string[];
  /** Columns with a foreign key to auth.users(id). */
  userIdColumns: string[];
}

export interface SourceSchema {
  kind: 'database' | 'api';
  /** auth.users columns a sync can read; null when there is no auth.users. */
  userColumns: string[] | null;
  tables: SchemaTable[];
}

const TIME_TYPES = new Set(['timestamptz', 'timestamp', 'date']);
const TIME_FORMATS = new Set(['timestamp with time zone', 'timestamp without time zone', 'date']);

export async function readDatabaseSchema(sql: Sql): Promise<SourceSchema> {
  const catalog = await readCatalog(sql);
  const references = await sql<{ schema: string; table: string; column: string }[]>`
    select n.nspname as schema, c.relname as table, a.attname as column
      from pg_constraint k
      join pg_class c on c.oid = k.conrelid
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = k.conrelid and a.attnum = k.conkey[1]
     where k.contype = 'f' and cardinality(k.conkey) = 1
       and k.confrelid = to_regclass('auth.users')`;
  const tables = catalog.tables.map((t) => ({
    schema: t.schema,
    table: t.table,
    columns: t.columns.map((c) => ({ name: c.name, time: TIME_TYPES.has(c.typeName) })),
    primaryKey: t.primaryKey,
    userIdColumns: references
      .filter((r) => r.schema === t.schema && r.table === t.table)
      .map((r) => r.column),
  }));
  const users = catalog.get({ schema: 'auth', table: 'users' });
  return {
    kind: 'database',
    userColumns: users ? users.columns.map((c) => c.name) : null,
    tables,
  };
}

/** What PostgREST exposes in these schemas, and the Auth admin API's user fields. */
export async function readApiSchema(api: SupabaseApi, schemas: string[]): Promise<SourceSchema> {
  const tables: SchemaTable[] = [];
  for (const schema of new Set(schemas)) {
    for (const [table, columns] of await api.describeTables(schema)) {
      tables.push({
        schema,
        table,
        columns: columns.map((c) => ({ name: c.name, time: TIME_FORMATS.has(c.format) })),
        primaryKey: columns.filter((c) => c.primaryKey).map((c) => c.name),
        userIdColumns: columns.filter((c) => c.references === 'users.id').map((c) => c.name),
      });
    }
  }
  return { kind: 'api', userColumns: [...AUTH_API_COLUMNS], tables };
}

const BASE = ['connectors', 'supabase'] as const;

/** The tables of schema auth a table_mapping entry may name: the rest hold sign-in secrets. */
const SYNCABLE_AUTH_TABLES: ReadonlySet<string> = new Set(['users', 'identities']);

/**
 * Why a table_mapping entry may not name this table, or undefined. Supabase
 * Auth's other tables (flow_state, mfa_challenges, one_time_tokens,
 * sessions, ...) hold codes and tokens under names no rule can foresee; a
 * sync or a live capture of one would copy them into the engine store.
 */
export function refusedTable(table: TableName): string | undefined {
  if (table.schema !== 'auth' || SYNCABLE_AUTH_TABLES.has(table.table)) return undefined;
  return `${formatTableName(table)} is a table of Supabase Auth whose rows hold sign-in codes and tokens: only auth.users (user_mapping) and auth.identities can be synced`;
}

/** auth.users columns the Auth admin API leaves out of its user object. */
const DATABASE_ONLY_USER_COLUMNS = [
  'instance_id',
  'is_super_admin',
  'is_sso_user',
  'email_change_confirm_status',
];

function locate(project: LoadedConfig) {
  return (path: FieldPath, message: string, options: { key?: boolean; hint?: string } = {}) =>
    configErrorAt(project, path, message, options);
}

function attributeTypes(project: LoadedConfig): AttributeTypes {
  return project.config.contacts.attributes;
}

/** The user mapping in effect, checked against auth.users; throws located ConfigErrors. */
export function checkUserMapping(project: LoadedConfig, schema: SourceSchema): UserMapping {
  const error = locate(project);
  const raw = project.supabase?.user_mapping ?? {};
  if (!schema.userColumns) {
    throw new ConfigError(
      { file: project.source?.file ?? 'nudge.yaml' },
      '',
      'this database has no auth.users table, so there are no Supabase users to sync',
      'point database_url at the Supabase project (Dashboard → Settings → Database)',
    );
  }
  const columns = new Set(schema.userColumns);
  const secret = (c: string) => exclusionOf({ schema: 'auth', table: 'users' }, c) === 'credential';
  const candidates = [...columns].filter((c) => !secret(c));
  const errors: ConfigError[] = [];
  for (const source of Object.keys(raw)) {
    const at = [...BASE, 'user_mapping', source];
    const { column } = parseUserSource(source);
    const head = source.split('.')[0]!;
    const metadata = METADATA_PREFIXES.includes(head);
    if (secret(column)) {
      errors.push(error(at, `${column} holds credentials; Nudge never reads it`, { key: true }));
    } else if (!metadata && source.includes('.')) {
      // `user_metdata.full_name`: a dotted name whose head is not metadata.
      errors.push(
        error(
          at,
          `"${head}" is neither user_metadata nor app_metadata${didYouMean(head, METADATA_PREFIXES)}`,
          { key: true },
        ),
      );
    } else if (!metadata && !columns.has(column)) {
      errors.push(
        error(
          at,
          `auth.users has no column "${column}"${didYouMean(column, [...candidates, ...METADATA_PREFIXES])}`,
          {
            key: true,
            ...(schema.kind === 'api' && DATABASE_ONLY_USER_COLUMNS.includes(column)
              ? {
                  hint: `the Auth admin API does not return ${column}; reading it needs database_url`,
                }
              : {}),
          },
        ),
      );
    }
  }
  throwIfAny(errors);
  return compileUserMapping(raw, attributeTypes(project));
}

/**
 * The table_mapping entries (all, or those named in `only`) checked against
 * the schema; throws every problem at once, located in nudge.yaml.
 */
export function checkTableMappings(
  project: LoadedConfig,
  schema: SourceSchema,
  only?: string[],
): TableSyncMapping[] {
  const error = locate(project);
  const entries = Object.entries(project.supabase?.table_mapping ?? {});
  const errors: ConfigError[] = [];
  const mappings: TableSyncMapping[] = [];
  const known = new Map(schema.tables.map((t) => [formatTableName(t), t]));
  if (only?.length) {
    const keys = entries.map(([key]) => key);
    for (const name of only) {
      const parsed = parseTableName(name);
      if (!entries.some(([key]) => sameTable(parseTableName(key), parsed))) {
        errors.push(
          error(
            [...BASE, 'table_mapping'],
            `no table_mapping entry for ${name}${didYouMean(name, keys)}`,
            { key: true },
          ),
        );
      }
    }
  }
  for (const [key, entry] of entries) {
    const name = parseTableName(key);
    if (only?.length && !only.some((n) => sameTable(parseTableName(n), name))) continue;
    const at = [...BASE, 'table_mapping', key];
    if (!name) {
      errors.push(
        error(at, 'expected a table name such as orders or "my-app"."Order Items"', { key: true }),
      );
      continue;
    }
    const refused = refusedTable(name);
    if (refused) {
      errors.push(error(at, refused, { key: true }));
      continue;
    }
    const table = known.get(formatTableName(name));
    if (!table) {
      const where = schema.kind === 'api' ? ' that the REST API exposes' : '';
      const names = schema.tables.filter((t) => t.schema === name.schema).map((t) => t.table);
      errors.push(
        error(at, `no table ${formatTableName(name)}${where}${didYouMean(name.table, names)}`, {
          key: true,
        }),
      );
      continue;
    }
    const exclude = project.config.capture.exclude_columns;
    const problems = checkEntry(table, entry, exclude);
    for (const p of problems.errors) errors.push(error([...at, ...p.path], p.message, p));
    if (problems.contact && problems.errors.length === 0) {
      // Credentials and excluded columns are not columns of the table as far as sync goes.
      const columns = table.columns.filter((c) => !exclusionOf(table, c.name, exclude));
      mappings.push(
        compileTableMapping(
          key,
          name,
          entry,
          { columns, primaryKey: table.primaryKey, contact: problems.contact },
          attributeTypes(project),
        ),
      );
    }
  }
  throwIfAny(errors);
  return mappings;
}

function sameTable(a: TableName | undefined, b: TableName | undefined): boolean {
  return !!a && !!b && a.schema === b.schema && a.table === b.table;
}

interface EntryProblem {
  path: FieldPath;
  message: string;
  key?: boolean;
  hint?: string;
}

function checkEntry(
  table: SchemaTable,
  entry: TableMapping,
  exclude: ExcludedColumns,
): { errors: EntryProblem[]; contact?: { by: 'email' | 'user_id'; column: string } } {
  const errors: EntryProblem[] = [];
  const columns = table.columns.map((c) => c.name);
  const has = (column: string) => columns.includes(column) && !exclusionOf(table, column, exclude);
  const missing = (column: string) => {
    const excluded = columns.includes(column) && exclusionOf(table, column, exclude);
    if (excluded === 'credential') return `${column} holds credentials; Nudge never reads it`;
    if (excluded) return `${column} is excluded by capture.exclude_columns in nudge.yaml`;
    return `${formatTableName(table)} has no column "${column}"${didYouMean(column, columns)}`;
  };
  const { sync_as, event_name: _eventName, properties, contact, ...pairs } = entry;
  const events = sync_as === 'events';
  if (!events) {
    for (const field of ['event_name', 'properties'] as const) {
      if (entry[field] !== undefined) {
        errors.push({
          path: [field],
          message: `${field} applies only with sync_as: events`,
          key: true,
        });
      }
    }
    if (Object.keys(pairs).length === 0) {
      errors.push({ path: [], message: 'maps no columns: add column: ATTRIBUTE pairs', key: true });
    }
  } else {
    for (const column of Object.keys(pairs)) {
      errors.push({
        path: [column],
        message: `with sync_as: events, columns go under properties (property: column)`,
        key: true,
      });
    }
  }
  for (const column of Object.keys(pairs)) {
    if (!events && !has(column))
      errors.push({ path: [column], message: missing(column), key: true });
  }
  for (const [property, column] of Object.entries(properties ?? {})) {
    if (has(column)) continue;
    errors.push({
      path: ['properties', property],
      message: missing(column),
      ...(has(property)
        ? { hint: `properties are written property: column — did you mean ${column}: ${property}?` }
        : {}),
    });
  }
  let found: { by: 'email' | 'user_id'; column: string } | undefined;
  if (contact?.email !== undefined || contact?.user_id !== undefined) {
    const by = contact.user_id !== undefined ? 'user_id' : 'email';
    const column = (contact.user_id ?? contact.email)!;
    if (contact.user_id !== undefined && contact.email !== undefined) {
      errors.push({ path: ['contact'], message: 'give either email or user_id, not both' });
    } else if (!has(column)) errors.push({ path: ['contact', by], message: missing(column) });
    else found = { by, column };
  } else if (table.userIdColumns.includes('user_id') || has('user_id')) {
    found = { by: 'user_id', column: 'user_id' };
  } else if (table.userIdColumns.length === 1) {
    found = { by: 'user_id', column: table.userIdColumns[0]! };
  } else if (has('email')) {
    found = { by: 'email', column: 'email' };
  } else {
    errors.push({
      path: [],
      key: true,
      message: `cannot tell how a row of ${formatTableName(table)} finds its contact`,
      hint: 'add contact: { user_id: <column> } (a column holding the auth user id) or contact: { email: <column> }',
    });
  }
  if (table.primaryKey.length === 0) {
    errors.push({
      path: [],
      key: true,
      message: `${formatTableName(table)} has no primary key: a sync needs one to page through it and to key its events`,
    });
  }
  return { errors, ...(found ? { contact: found } : {}) };
}
