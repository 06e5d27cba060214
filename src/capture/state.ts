// Reads what Nudge has deployed in a database: capture functions with their
// markers, the triggers that call them, enrichment rows and the last
// deployment. Read-only; the plan compares this with what features need.
import type { Sql } from '../source/connect.js';
import { readSchemaState, type SchemaState } from './schema.js';
import { type Enrichment, type Marker, parseMarker, sha256 } from './triggers.js';

export interface DeployedTrigger {
  schema: string;
  table: string;
  name: string;
  /** pg_trigger.tgenabled: 'O' fires normally, 'D' disabled, 'R'/'A' replica/always. */
  enabled: string;
  level: 'row' | 'statement';
  events: string[];
}

export interface DeployedCapture {
  functionName: string;
  marker?: Marker;
  /** sha256 of the function body as it is in the database now. */
  actualHash: string;
  triggers: DeployedTrigger[];
}

export interface DeployedEnrichment extends Enrichment {
  schema: string;
  table: string;
}

export interface CaptureState {
  schema: SchemaState;
  captures: DeployedCapture[];
  enrichments: DeployedEnrichment[];
  /** Capture keys (see captureKey) of the last deployment, to tell "dropped by hand" from "never there". */
  lastDeployed: { id: number; at: Date; keys: string[] } | undefined;
}

const BASE_FUNCTIONS = new Set(['enrich']);

export async function readCaptureState(sql: Sql): Promise<CaptureState> {
  const schema = await readSchemaState(sql);
  if (!schema.exists) return { schema, captures: [], enrichments: [], lastDeployed: undefined };

  const functions = await sql<
    { name: string; comment: string | null; src: string; triggers: DeployedTrigger[] | null }[]
  >`
    select p.proname as name, obj_description(p.oid, 'pg_proc') as comment, p.prosrc as src,
           (select json_agg(json_build_object(
                     'schema', n.nspname, 'table', c.relname, 'name', t.tgname,
                     'enabled', t.tgenabled,
                     'level', case when t.tgtype & 1 = 1 then 'row' else 'statement' end,
                     'events', array_remove(array[
                        case when t.tgtype & 4 = 4 then 'insert' end,
                        case when t.tgtype & 8 = 8 then 'delete' end,
                        case when t.tgtype & 16 = 16 then 'update' end,
                        case when t.tgtype & 32 = 32 then 'truncate' end], null))
                   order by n.nspname, c.relname, t.tgname)
              from pg_trigger t
              join pg_class c on c.oid = t.tgrelid
              join pg_namespace n on n.oid = c.relnamespace
             where t.tgfoid = p.oid and not t.tgisinternal) as triggers
      from pg_proc p
     where p.pronamespace = 'nudge'::regnamespace and p.prorettype = 'trigger'::regtype
     order by p.proname`;

  const captures = functions
    .filter((f) => !BASE_FUNCTIONS.has(f.name))
    .map((f) => {
      const marker = parseMarker(f.comment);
      return {
        functionName: f.name,
        ...(marker ? { marker } : {}),
        actualHash: sha256(f.src),
        triggers: f.triggers ?? [],
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
    ? await sql<{ id: number; at: Date; keys: string[] }[]>`
        select id::int as id, deployed_at as at,
               coalesce((select array_agg(o ->> 'key') from jsonb_array_elements(objects) o), '{}') as keys
          from nudge.deployments order by id desc limit 1`
    : [];
  return { schema, captures, enrichments, lastDeployed: last };
}
