// The nudge schema's migrations (numbered .sql files, forward-only), how far a
// database has got, and the checks that find its objects changed by hand.
import { readdirSync, readFileSync } from 'node:fs';
import { literal } from '../db/quote.js';
import type { Sql } from '../source/connect.js';
import { sha256 } from './triggers.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const SQL_DIR = new URL('./sql/', import.meta.url);

let shipped: readonly Migration[] | undefined;

/**
 * The schema migrations shipped with this version, in order: read once (they
 * do not change while the process runs, and the dashboard plans every 30 s).
 */
export function migrations(): readonly Migration[] {
  shipped ??= readdirSync(SQL_DIR)
    .filter((file) => /^\d{3}_.+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 3)),
      name: file.slice(4, -4),
      sql: readFileSync(new URL(file, SQL_DIR), 'utf8'),
    }));
  return shipped;
}

/** Tables and functions every deployed nudge schema has. */
export const REQUIRED_TABLES = [
  'event_log',
  'failed_events',
  'enrichment_map',
  'deployments',
  'webhook_deliveries',
  'webhook_signing',
];
export const REQUIRED_FUNCTIONS = ['enrich'];

/**
 * A function of the nudge schema as the latest migration defining it makes
 * it: its arguments (as pg_get_function_identity_arguments writes them), the
 * sha256 of its body (pg_proc.prosrc: the text between the dollar quotes),
 * SECURITY DEFINER or not, and its SET clauses (as pg_proc.proconfig holds
 * them). Read from the migration files, which write each one
 * `CREATE OR REPLACE FUNCTION nudge.<name>(<args>) ... AS $tag$<body>$tag$`
 * with its attributes on the line before AS.
 */
export interface SchemaFunction {
  name: string;
  args: string;
  hash: string;
  definer: boolean;
  settings: string[];
  /** The migration that defines it last. */
  version: number;
}

const FUNCTION_DEFINITION =
  /CREATE OR REPLACE FUNCTION nudge\.(\w+)\(([^)]*)\)([\s\S]*?)\bAS \$(\w*)\$([\s\S]*?)\$\4\$/g;

export function schemaFunctions(): SchemaFunction[] {
  const byName = new Map<string, SchemaFunction>();
  for (const migration of migrations()) {
    for (const [, name, args, header, , body] of migration.sql.matchAll(FUNCTION_DEFINITION)) {
      const settings = [...header!.matchAll(/\bSET (\w+) = ([^\n]+)/g)].map(
        ([, key, value]) => `${key}=${value!.trim()}`,
      );
      byName.set(name!, {
        name: name!,
        args: args!.replace(/\s+/g, ' ').trim(),
        hash: sha256(body!),
        definer: /\bSECURITY DEFINER\b/.test(header!),
        settings,
        version: migration.version,
      });
    }
  }
  return [...byName.values()];
}

/** Roles that must never reach the nudge schema. PUBLIC is always included. */
export const API_ROLES = ['anon', 'authenticated'];

export interface SchemaState {
  exists: boolean;
  /** Highest migration version recorded as applied (0 when none). */
  applied: number;
  /** Required objects that are missing although the migrations ran. */
  missing: string[];
  /** Privileges API roles or PUBLIC hold on nudge objects. */
  exposed: string[];
}

export async function readSchemaState(sql: Sql): Promise<SchemaState> {
  const [schema] = await sql<{ exists: boolean; has_migrations: boolean }[]>`
    select exists (select from pg_namespace where nspname = 'nudge') as exists,
           to_regclass('nudge.schema_migrations') is not null as has_migrations`;
  if (!schema?.exists) return { exists: false, applied: 0, missing: [], exposed: [] };
  const applied = schema.has_migrations
    ? ((await sql<{ v: number | null }[]>`select max(version) as v from nudge.schema_migrations`)[0]
        ?.v ?? 0)
    : 0;
  const present = await sql<{ name: string; kind: string }[]>`
    select relname as name, 'table' as kind from pg_class
     where relnamespace = 'nudge'::regnamespace and relkind in ('r', 'p')
    union all
    select proname, 'function' from pg_proc where pronamespace = 'nudge'::regnamespace`;
  const has = (name: string, kind: string) =>
    present.some((o) => o.name === name && o.kind === kind);
  const missing =
    applied === 0
      ? []
      : [
          ...REQUIRED_TABLES.filter((t) => !has(t, 'table')).map((t) => `table nudge.${t}`),
          ...REQUIRED_FUNCTIONS.filter((f) => !has(f, 'function')).map(
            (f) => `function nudge.${f}()`,
          ),
        ];
  return { exists: true, applied, missing, exposed: await exposedPrivileges(sql) };
}

/** Every privilege that PUBLIC, anon or authenticated hold in schema nudge. */
async function exposedPrivileges(sql: Sql): Promise<string[]> {
  const rows = await sql<{ what: string }[]>`
    with roles as (
      select 'public' as role, 0::oid as oid
      union all
      select rolname, oid from pg_roles where rolname = any(${API_ROLES})
    ), grants as (
      select r.role, 'usage on schema nudge' as what
        from pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
        join roles r on r.oid = a.grantee
       where n.nspname = 'nudge'
      union all
      select r.role, lower(a.privilege_type) || ' on nudge.' || quote_ident(c.relname)
        from pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
        join roles r on r.oid = a.grantee
       where c.relnamespace = 'nudge'::regnamespace and c.relkind in ('r', 'p', 'S', 'v')
      union all
      select r.role, 'execute on nudge.' || quote_ident(p.proname) || '()'
        from pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
        join roles r on r.oid = a.grantee
       where p.pronamespace = 'nudge'::regnamespace
    )
    select distinct role || ': ' || what as what from grants order by 1`;
  return rows.map((r) => r.what);
}

/** A statement that takes every privilege in schema nudge away from PUBLIC and the API roles. */
export function lockdownSql(): string {
  const roles = API_ROLES.map(literal).join(', ');
  return `DO $lockdown$
DECLARE
  grantee text;
BEGIN
  FOR grantee IN
    SELECT 'PUBLIC' UNION ALL SELECT quote_ident(rolname) FROM pg_roles WHERE rolname IN (${roles})
  LOOP
    EXECUTE 'REVOKE ALL ON SCHEMA nudge FROM ' || grantee;
    EXECUTE 'REVOKE ALL ON ALL TABLES IN SCHEMA nudge FROM ' || grantee;
    EXECUTE 'REVOKE ALL ON ALL SEQUENCES IN SCHEMA nudge FROM ' || grantee;
    EXECUTE 'REVOKE ALL ON ALL FUNCTIONS IN SCHEMA nudge FROM ' || grantee;
  END LOOP;
END
$lockdown$`;
}

/** SQL that applies migrations after `applied` and records them. */
export function migrationSql(applied: number, repair: boolean): string[] {
  const pending = migrations().filter((m) => repair || m.version > applied);
  if (pending.length === 0) return [];
  return [
    'CREATE SCHEMA IF NOT EXISTS nudge',
    `CREATE TABLE IF NOT EXISTS nudge.schema_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`,
    ...pending.flatMap((m) => [
      m.sql.trim(),
      `INSERT INTO nudge.schema_migrations (version, name) VALUES (${m.version}, ${literal(m.name)}) ON CONFLICT (version) DO NOTHING`,
    ]),
  ];
}
