// Reads what capture: replication has deployed: Nudge's publications with
// their markers and catalog fingerprints, the slots they name, the tables
// whose replica identity is not the default, those Nudge made FULL, and the
// partitions of every partitioned table (each has a replica identity of its own).
// Read-only; plan and teardown (slot.ts nudgeReplication) both start from it.
import type { Sql } from '../../../source/connect.js';
import type { TableName } from '../../../source/names.js';
import { identityOf, sortTables, type TableIdentity } from './identity.js';
import type { TableOwners } from './ownership.js';
import { fingerprintSql, type PublicationMarker, parsePublicationMarker } from './publication.js';

export interface DeployedPublication {
  name: string;
  marker?: PublicationMarker;
  /** The fingerprint of the publication now (publication.ts fingerprintSql). */
  catalog: string;
  /** The same as markers written before it named tables in full computed it, in this session. */
  legacyCatalog: string;
}

export interface DeployedSlot {
  name: string;
  plugin: string | null;
  /** The database the slot belongs to; another one's slot of the same name is not ours. */
  database: string | null;
  active: boolean;
}

export interface ReplicationState {
  serverVersion: number;
  /** Every publication of the database (Nudge's have a marker). */
  publications: DeployedPublication[];
  slots: DeployedSlot[];
  /** Tables whose replica identity is not DEFAULT, and those of `madeFull` that still exist. */
  identities: TableIdentity[];
  /** Tables Nudge made FULL from DEFAULT: the union of its publications' markers. */
  madeFull: TableName[];
  /**
   * Every partition, at any depth, of every partitioned table: its identity
   * is its own (identity.ts). Foreign ones, which are not published, are left out.
   */
  partitions: Partition[];
  /** The deploying role and the tables it may not act as owner of (none for a superuser). */
  owners?: TableOwners;
  database: string;
}

export interface Partition {
  table: TableName;
  /** A partitioned table it is a partition of, directly or through another. */
  of: TableName;
}

export async function readReplicationState(sql: Sql): Promise<ReplicationState> {
  const [server] = await sql<{ version: number; database: string; role: string }[]>`
    select current_setting('server_version_num')::int as version, current_database() as database,
           current_user as role`;
  const version = server!.version;
  const found = await sql<{ name: string; comment: string | null }[]>`
    select pubname as name, obj_description(oid, 'pg_publication') as comment
      from pg_publication
     order by pubname`;
  const publications: DeployedPublication[] = [];
  for (const row of found) {
    const [print] = await sql.unsafe<{ catalog: string; legacy: string }[]>(
      `select ${fingerprintSql(row.name, version)} as catalog,
              ${fingerprintSql(row.name, version, { legacy: true })} as legacy`,
    );
    const marker = parsePublicationMarker(row.comment);
    publications.push({
      name: row.name,
      ...(marker ? { marker } : {}),
      catalog: print!.catalog,
      legacyCatalog: print!.legacy,
    });
  }
  const slots = await sql<DeployedSlot[]>`
    select slot_name as name, plugin, database, active from pg_replication_slots
     where slot_type = 'logical'`;
  const madeFull = sortTables(publications.flatMap((p) => p.marker?.full ?? []));
  const identities = await sql<{ schema: string; table: string; identity: string }[]>`
    select n.nspname as schema, c.relname as table, c.relreplident::text as identity
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p')
       and ((c.relreplident <> 'd' and n.nspname not in ('pg_catalog', 'information_schema'))
            or (n.nspname::text, c.relname::text) in (
                 select * from unnest(${madeFull.map((t) => t.schema)}::text[],
                                      ${madeFull.map((t) => t.table)}::text[])))`;
  const partitions = await sql<
    { schema: string; table: string; of_schema: string; of_table: string }[]
  >`
    select n.nspname as schema, c.relname as table, an.nspname as of_schema, a.relname as of_table
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      cross join lateral pg_partition_ancestors(c.oid) up
      join pg_class a on a.oid = up.relid join pg_namespace an on an.oid = a.relnamespace
     where c.relispartition and c.relkind in ('r', 'p') and a.oid <> c.oid
     order by 3, 4, 1, 2`;
  // Setting an identity or publishing needs the owner's privileges: a member of the owning role has them.
  const notOwned = await sql<{ schema: string; table: string; owner: string }[]>`
    select n.nspname as schema, c.relname as table, pg_get_userbyid(c.relowner) as owner
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema')
       and not pg_has_role(c.relowner, 'USAGE')
       and not (select rolsuper from pg_roles where rolname = current_user)`;
  return {
    serverVersion: version,
    publications,
    slots: [...slots],
    identities: identities.map((row) => ({
      table: { schema: row.schema, table: row.table },
      identity: identityOf(row.identity),
    })),
    madeFull,
    partitions: partitions.map((row) => ({
      table: { schema: row.schema, table: row.table },
      of: { schema: row.of_schema, table: row.of_table },
    })),
    owners: {
      role: server!.role,
      notOwned: notOwned.map((row) => ({
        table: { schema: row.schema, table: row.table },
        owner: row.owner,
      })),
    },
    database: server!.database,
  };
}
