// Reads what Nudge has deployed in a database: capture functions with their
// markers, the triggers that call them, enrichment rows and the last
// deployment, and what each transport with objects of its own has deployed
// (under its name: TransportState). Read-only; the plan compares this with
// what features need.
import type { Sql } from '../source/connect.js';
import { type OwnerRights, readOwnerRights } from './owner-rights.js';
import { readSchemaState, type SchemaState } from './schema.js';
import { readSchemaTables, type SchemaTablesState } from './schema-tables.js';
import { objectsParts } from './transports/index.js';
import type { RowsShape } from './transports/outbox/typed-rows.js';
import type { TransportState } from './transports/port.js';
import {
  type Enrichment,
  type Marker,
  type Operation,
  parseMarker,
  ROW_META,
  ROWS_MARKER_PREFIX,
  sha256,
} from './triggers.js';

export interface DeployedTrigger {
  schema: string;
  table: string;
  name: string;
  /** pg_trigger.tgenabled: 'O' fires normally, 'D' disabled, 'R'/'A' replica/always. */
  enabled: string;
  level: 'row' | 'statement';
  events: string[];
  /** When it fires: Nudge's fire AFTER the write. */
  timing: 'before' | 'after' | 'instead';
  /** It has a WHEN condition, a column list (UPDATE OF), arguments, or is a constraint trigger: Nudge's have none. */
  narrowed: boolean;
  /** Names of its transition tables (REFERENCING NEW / OLD TABLE AS), or null. */
  newTable: string | null;
  oldTable: string | null;
}

export interface DeployedCapture {
  functionName: string;
  marker?: Marker;
  /** sha256 of the function body as it is in the database now. */
  actualHash: string;
  /** SECURITY DEFINER, as Nudge makes it, and its SET clauses (proconfig). */
  securityDefiner: boolean;
  settings: string[];
  triggers: DeployedTrigger[];
  /** The role it runs as (owner-rights.ts), and whether the deploying role may take it from that role. */
  owner: string;
  takeable: boolean;
}

export interface DeployedEnrichment extends Enrichment {
  schema: string;
  table: string;
}

/** A function of the nudge schema itself (not a capture's): nudge.enrich(), nudge.pending(). */
export interface DeployedSchemaFunction {
  name: string;
  /** pg_get_function_identity_arguments: `p_schema text, p_table text, p_row json`. */
  args: string;
  /** sha256 of its body as it is in the database now. */
  actualHash: string;
  definer: boolean;
  settings: string[];
}

export interface CaptureState extends TransportState {
  schema: SchemaState;
  /** The schema's own functions as they are now, compared with the migrations' (schemaFunctions). */
  schemaFunctions: DeployedSchemaFunction[];
  captures: DeployedCapture[];
  enrichments: DeployedEnrichment[];
  /** Rows tables of typed captures (see triggers.ts), by name in schema nudge. */
  rowsTables: string[];
  /** The rows tables that hold rows the outbox pump has not processed yet. */
  rowsHeld: string[];
  /** Each rows table's columns and constraints, by name, to tell one altered by hand. */
  rowsShapes: Record<string, RowsShape>;
  /** The capture functions' owners, and what they and the deploying role lack (owner-rights.ts). */
  rights?: OwnerRights;
  /** Keys, indexes and triggers of the schema's tables (schema-tables.ts). */
  tables?: SchemaTablesState;
  /** Capture keys (see captureKey) of the last deployment, to tell "dropped by hand" from "never there". */
  /**
   * The latest deployment, the (table, operation) keys it captured by
   * trigger, and the fingerprints of the feature files it was made from
   * (features-deployed.ts; null before Nudge recorded them).
   */
  lastDeployed:
    | {
        id: number;
        at: Date;
        keys: string[];
        features: Record<string, string> | null;
        /** Each capture it recorded, by key: the features that used it and its definition's hash. */
        captures: Record<string, { usedBy: string[]; hash: string }>;
      }
    | undefined;
}

const BASE_FUNCTIONS = new Set(['enrich']);

/**
 * A trigger of its own, not the clone a row-level trigger on a partitioned
 * table has on each partition (tgparentid, PostgreSQL 13+; clones were
 * internal before): those come and go with it, and cannot be dropped alone.
 * Read through to_jsonb so the column may be missing.
 */
export const NOT_CLONED = "coalesce((to_jsonb(t) ->> 'tgparentid')::oid, 0) = 0";

export async function readCaptureState(sql: Sql): Promise<CaptureState> {
  const schema = await readSchemaState(sql);
  const transports = await readTransportStates(sql);
  if (!schema.exists)
    return {
      schema,
      schemaFunctions: [],
      captures: [],
      enrichments: [],
      rowsTables: [],
      rowsHeld: [],
      rowsShapes: {},
      lastDeployed: undefined,
      ...transports,
    };

  const notCloned = sql.unsafe(NOT_CLONED);
  const functions = await sql<
    {
      name: string;
      comment: string | null;
      src: string;
      definer: boolean;
      settings: string[] | null;
      triggers: DeployedTrigger[] | null;
      owner: string;
      takeable: boolean;
    }[]
  >`
    select p.proname as name, obj_description(p.oid, 'pg_proc') as comment, p.prosrc as src,
           p.prosecdef as definer, p.proconfig::text[] as settings,
           pg_get_userbyid(p.proowner) as owner,
           (select rolsuper from pg_roles where rolname = current_user)
             or pg_has_role(current_user, p.proowner, 'MEMBER') as takeable,
           (select json_agg(json_build_object(
                     'schema', n.nspname, 'table', c.relname, 'name', t.tgname,
                     'enabled', t.tgenabled,
                     'level', case when t.tgtype & 1 = 1 then 'row' else 'statement' end,
                     'timing', case when t.tgtype & 2 = 2 then 'before'
                                    when t.tgtype & 64 = 64 then 'instead' else 'after' end,
                     'narrowed', t.tgqual is not null or cardinality(t.tgattr::int2[]) > 0
                                 or t.tgnargs > 0 or t.tgconstraint <> 0,
                     'newTable', t.tgnewtable, 'oldTable', t.tgoldtable,
                     'events', array_remove(array[
                        case when t.tgtype & 4 = 4 then 'insert' end,
                        case when t.tgtype & 8 = 8 then 'delete' end,
                        case when t.tgtype & 16 = 16 then 'update' end,
                        case when t.tgtype & 32 = 32 then 'truncate' end], null))
                   order by n.nspname, c.relname, t.tgname)
              from pg_trigger t
              join pg_class c on c.oid = t.tgrelid
              join pg_namespace n on n.oid = c.relnamespace
             where t.tgfoid = p.oid and not t.tgisinternal and ${notCloned}) as triggers
      from pg_proc p
     where p.pronamespace = 'nudge'::regnamespace and p.prorettype = 'trigger'::regtype
     order by p.proname`;

  const schemaFunctions = (
    await sql<
      { name: string; args: string; src: string; definer: boolean; settings: string[] | null }[]
    >`
      select p.proname as name, pg_get_function_identity_arguments(p.oid) as args, p.prosrc as src,
             p.prosecdef as definer, p.proconfig::text[] as settings
        from pg_proc p
       where p.pronamespace = 'nudge'::regnamespace and p.prorettype <> 'trigger'::regtype
       order by p.proname, 2`
  ).map((f) => ({
    name: f.name,
    args: f.args,
    actualHash: sha256(f.src),
    definer: f.definer,
    settings: f.settings ?? [],
  }));

  const captures = functions
    .filter((f) => !BASE_FUNCTIONS.has(f.name))
    .map((f) => {
      const marker = parseMarker(f.comment);
      return {
        functionName: f.name,
        ...(marker ? { marker } : {}),
        actualHash: sha256(f.src),
        securityDefiner: f.definer,
        settings: f.settings ?? [],
        triggers: f.triggers ?? [],
        owner: f.owner,
        takeable: f.takeable,
      };
    });

  const hasMap = schema.applied > 0 && !schema.missing.includes('table nudge.enrichment_map');
  const enrichments = hasMap
    ? (
        await sql<
          {
            schema_name: string;
            table_name: string;
            name: string;
            target_schema: string;
            target_table: string;
            target_column: string;
            target_type: string;
            source_field: string;
            columns: string[] | null;
          }[]
        >`select schema_name, table_name, name, target_schema, target_table, target_column,
                 target_type::text as target_type, source_field, columns
            from nudge.enrichment_map order by schema_name, table_name, name`
      ).map((row) => ({
        schema: row.schema_name,
        table: row.table_name,
        name: row.name,
        target: { schema: row.target_schema, table: row.target_table },
        targetColumn: row.target_column,
        targetType: row.target_type,
        sourceField: row.source_field,
        ...(row.columns ? { columns: row.columns } : {}),
      }))
    : [];

  const hasDeployments = schema.applied > 0 && !schema.missing.includes('table nudge.deployments');
  const [last] = hasDeployments
    ? await sql<
        {
          id: number;
          at: Date;
          keys: string[];
          features: Record<string, string> | null;
          captures: Record<string, { usedBy: string[]; hash: string }>;
        }[]
      >`
        select d.id::int as id, deployed_at as at, summary -> 'features' as features,
               coalesce((select array_agg(o ->> 'key') from jsonb_array_elements(objects) o
                          where coalesce(o ->> 'captured_by', 'trigger') = 'trigger'), '{}') as keys,
               coalesce((select jsonb_object_agg(o ->> 'key', jsonb_build_object(
                                  'usedBy', coalesce(o -> 'used_by', '[]'), 'hash', o ->> 'hash'))
                           from jsonb_array_elements(objects) o
                          where coalesce(o ->> 'captured_by', 'trigger') = 'trigger'), '{}') as captures
          from nudge.deployments d order by d.id desc limit 1`
    : [];
  const listed = await listRowsTables(sql);
  const rowsTables = listed.map((t) => t.name);
  const rowsHeld = await heldRowsTables(sql, rowsTables);
  const rowsShapes = await readRowsShapes(sql, listed);
  const rights = await readOwnerRights(sql, captures, rowsTables);
  const tables = await readSchemaTables(sql);
  return {
    schema,
    schemaFunctions,
    captures,
    enrichments,
    rowsTables,
    rowsHeld,
    rowsShapes,
    rights,
    tables,
    lastDeployed: last,
    ...transports,
  };
}

/**
 * The shape of every rows table in one statement: its columns (metadata
 * included), the types its user's table gives them now, formatted in this
 * session as deploy's are, and its constraints (NOT NULL ones aside, which
 * PostgreSQL 18 lists there too).
 */
async function readRowsShapes(sql: Sql, tables: RowsTable[]): Promise<Record<string, RowsShape>> {
  if (!tables.length) return {};
  const rows = await sql<{ name: string; shape: RowsShape }[]>`
    select r.name, json_build_object(
             'columns', coalesce((
               select json_agg(json_build_object(
                        'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                        'notNull', a.attnotnull, 'hasDefault', a.atthasdef) order by a.attnum)
                 from pg_attribute a
                where a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped), '[]'),
             'source', coalesce((
               select json_object_agg(a.attname, format_type(a.atttypid, a.atttypmod))
                 from pg_attribute a
                where a.attrelid = to_regclass(quote_ident(r.schema) || '.' || quote_ident(r."table"))
                  and a.attnum > 0 and not a.attisdropped), '{}'),
             'constraints', coalesce((
               select json_agg(k.conname order by k.conname) from pg_constraint k
                where k.conrelid = r.oid and k.contype <> 'n'), '[]')) as shape
      from (select t.name, t.schema, t."table", to_regclass('nudge.' || quote_ident(t.name)) as oid
              from unnest(${tables.map((t) => t.name)}::text[], ${tables.map((t) => t.schema)}::text[],
                          ${tables.map((t) => t.table)}::text[]) as t(name, schema, "table")) r`;
  return Object.fromEntries(rows.map((row) => [row.name, row.shape]));
}

/** The states of every transport with objects of its own, each under its name. */
async function readTransportStates(sql: Sql): Promise<TransportState> {
  const states: Record<string, unknown> = {};
  for (const part of objectsParts()) states[part.name] = await part.objects.read(sql);
  return states as unknown as TransportState;
}

/** Which of the rows tables hold a row, in one statement. */
async function heldRowsTables(sql: Sql, names: string[]): Promise<string[]> {
  if (!names.length) return [];
  const held = names.map(
    (name) =>
      sql`select ${name}::text as name where exists (select from ${sql('nudge')}.${sql(name)})`,
  );
  const rows = await sql<
    { name: string }[]
  >`${held.reduce((all, one) => sql`${all} union all ${one}`)}`;
  return rows.map((row) => row.name);
}

export interface RowsTable {
  name: string;
  schema: string;
  table: string;
  operation: Operation;
  /** The captured columns, in table order (the metadata columns left out). */
  columns: string[];
}

/** The rows tables in schema nudge (marked by their comment), oldest first. */
export async function listRowsTables(sql: Sql): Promise<RowsTable[]> {
  const rows = await sql<{ name: string; comment: string; columns: string[] | null }[]>`
    select c.relname as name, obj_description(c.oid, 'pg_class') as comment,
           (select array_agg(a.attname::text order by a.attnum) from pg_attribute a
             where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
               and a.attname <> all(${ROW_META}::text[])) as columns
      from pg_class c
     where c.relnamespace = 'nudge'::regnamespace and c.relkind = 'r'
       and obj_description(c.oid, 'pg_class') like ${`${ROWS_MARKER_PREFIX}%`}
     order by c.oid`;
  return rows.flatMap((row) => {
    try {
      const marker = JSON.parse(row.comment.slice(ROWS_MARKER_PREFIX.length)) as {
        schema: string;
        table: string;
        operation: Operation;
      };
      const { schema, table, operation } = marker;
      return [{ name: row.name, schema, table, operation, columns: row.columns ?? [] }];
    } catch {
      return [];
    }
  });
}
