// The publications of `capture: replication`: one per operation (a
// publication's `publish` list covers all its tables, and a row filter is per
// publication), what each publishes of which table, the marker that says
// what Nudge made it from, and their SQL. Pure. (The slot: slot.ts; the
// plan that compares them with state.ts: plan.ts; replica identities:
// identity.ts.)
//
// Column lists and row filters (PostgreSQL 15+) are used only where they are
// safe for the user's writes:
// * A table captured on update or delete gets REPLICA IDENTITY FULL, so old
//   rows carry the columns a trigger would have copied, and so an UPDATE or
//   DELETE on a table without a primary key keeps working once it is
//   published (it would fail otherwise). With FULL identity a column list
//   must name every column (PostgreSQL then refuses UPDATE and DELETE), and
//   every publication of a table must use the same list: such a table is
//   published without a list, in every publication. The consumer keeps only
//   the columns the capture copies, before anything is written anywhere.
// * A table captured only on insert is published with the columns its
//   capture copies: credentials never leave the server.
// * A row filter goes on the insert publication only (on update and delete
//   PostgreSQL turns an update that leaves the filter into a DELETE), and
//   only when the features' condition reads new.* alone.
// * Publications publish through the partition root (13+): pgoutput would
//   otherwise name a partitioned table's changes after their partition.
import { createHash } from 'node:crypto';
import { dollarQuote, ident, literal } from '../../../db/quote.js';
import { formatTableName, type TableName } from '../../../source/names.js';
import {
  type CaptureObject,
  type Operation,
  parseMarkerComment,
  type RowRefs,
} from '../../triggers.js';
import type { DesiredCaptures } from '../port.js';

export const REPLICATION_MARKER = 'nudge:replication ';

/**
 * The prefix of the logical decoding message a deploy writes in the
 * transaction that changes the publications (objects.ts announce): the
 * consumer reads the feature files again before it stores any change
 * committed after it (consumer.ts).
 */
export const DEPLOY_MESSAGE = 'nudge_deploy';

/** Names of the slot and publications of a project (capture.replication.slot). */
export function publicationName(slot: string, operation: Operation): string {
  return `${slot}_${operation}`;
}

export interface PublishedTable {
  table: TableName;
  /** The columns published; undefined publishes every column. */
  columns?: string[];
  /** A row filter over the table's columns. */
  filter?: string;
}

export interface PublicationSpec {
  name: string;
  operation: Operation;
  tables: PublishedTable[];
  /**
   * publish_via_partition_root (PostgreSQL 13+): a change of a partitioned
   * table arrives under its own name, not its partition's (which the
   * consumer would not know, and drop).
   */
  viaRoot?: true;
  /** sha256 of the above (viaRoot where a table is partitioned): the marker's hash. */
  hash: string;
}

/** What the consumer keeps of each (table, operation) it receives. */
export interface ConsumedCapture {
  table: TableName;
  operation: Operation;
  /** The columns kept; undefined keeps every column that may leave (columns.ts exclusionOf). */
  columns?: string[];
}

export interface ReplicationDesired {
  slot: string;
  publications: PublicationSpec[];
  /** Tables that need REPLICA IDENTITY FULL (captured on update or delete). */
  fullIdentity: TableName[];
  captures: ConsumedCapture[];
}

/** A capture object's filter, before it was written for a trigger (desired.ts keeps it). */
export type RowFilter = (row: RowRefs) => string;

const OLD_MARK = '\u0000old';

/**
 * The publications, slot and identities that capture `objects` by logical
 * replication. `filters` holds each insert capture's filter (by table key),
 * when every need of it has one.
 */
export function replicationDesired(
  slot: string,
  objects: CaptureObject[],
  filters: Map<string, RowFilter>,
  serverVersion: number,
): ReplicationDesired {
  const lists = serverVersion >= 150000;
  const viaRoot = serverVersion >= 130000;
  const key = (t: TableName) => JSON.stringify([t.schema, t.table]);
  const full = new Map<string, TableName>();
  for (const object of objects)
    if (object.operation !== 'insert') full.set(key(object.table), object.table);
  const publications = (['insert', 'update', 'delete'] as const).map((operation) => {
    const tables = objects
      .filter((object) => object.operation === operation)
      .map((object): PublishedTable => {
        const listed = lists && !full.has(key(object.table)) && object.columns.copied.length > 0;
        const filter =
          lists && operation === 'insert'
            ? filters.get(key(object.table))?.({ new: (c) => ident(c), old: () => OLD_MARK })
            : undefined;
        return {
          table: object.table,
          ...(listed ? { columns: [...object.columns.copied] } : {}),
          ...(filter && !filter.includes(OLD_MARK) ? { filter } : {}),
        };
      });
    const name = publicationName(slot, operation);
    // In the hash only where it changes what is published: a partitioned table.
    const partitioned = objects.some((o) => o.operation === operation && o.partitioned);
    const hash = createHash('sha256')
      .update(
        JSON.stringify([name, operation, tables, ...(viaRoot && partitioned ? ['via root'] : [])]),
      )
      .digest('hex');
    return { name, operation, tables, ...(viaRoot ? { viaRoot: true as const } : {}), hash };
  });
  return {
    slot,
    publications,
    fullIdentity: [...full.values()],
    captures: objects.map((object) => ({
      table: object.table,
      operation: object.operation,
      ...(object.columns.copied.length ? { columns: [...object.columns.copied] } : {}),
    })),
  };
}

export interface PublicationMarker {
  v: 1;
  slot: string;
  operation: Operation;
  hash: string;
  /** The publication's catalog fingerprint right after the deploy: a change since is drift. */
  catalog: string;
  /**
   * Tables Nudge made REPLICA IDENTITY FULL from DEFAULT, to set back when none
   * is captured on update or delete (identity.ts). The same in every
   * publication of the slot; absent in markers written before Nudge recorded it.
   */
  full?: TableName[];
}

export function parsePublicationMarker(comment: string | null): PublicationMarker | undefined {
  return parseMarkerComment<PublicationMarker>(REPLICATION_MARKER, comment);
}

/**
 * SQL computing a publication's fingerprint from the catalog: its operations
 * and, per table, the column numbers of its list and its filter. Columns
 * added to a table without a list do not change it. Tables are named in
 * full, whatever the session's search_path, and publish_via_partition_root
 * counts (`legacy`: as markers written before, by regclass, which leaves out
 * a schema the session can see, so a session with another search_path saw
 * drift there; and without it).
 */
export function fingerprintSql(
  publication: string,
  serverVersion: number,
  options: { legacy?: boolean } = {},
): string {
  const detail =
    serverVersion >= 150000
      ? `coalesce(r.prattrs::text, '') || ' ' || coalesce(pg_get_expr(r.prqual, r.prrelid), '')`
      : `''`;
  const table = options.legacy
    ? 'r.prrelid::regclass::text'
    : `(SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = r.prrelid)`;
  const viaRoot = !options.legacy && serverVersion >= 130000 ? ' p.pubviaroot,' : '';
  return `(SELECT md5(concat_ws('|', p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.puballtables,${viaRoot}
          (SELECT string_agg(${table} || ' ' || ${detail}, ';' ORDER BY ${table})
             FROM pg_publication_rel r WHERE r.prpubid = p.oid)))
     FROM pg_publication p WHERE p.pubname = ${literal(publication)})`;
}

/** Creates (or recreates) a publication as specified, with its marker. */
export function createPublicationSql(
  spec: PublicationSpec,
  slot: string,
  serverVersion: number,
  madeFull: TableName[],
): string[] {
  const tables = spec.tables.map(
    (t) =>
      `${ident(t.table.schema, t.table.table)}${t.columns ? ` (${t.columns.map((c) => ident(c)).join(', ')})` : ''}${
        t.filter ? ` WHERE (${t.filter})` : ''
      }`,
  );
  return [
    `DROP PUBLICATION IF EXISTS ${ident(spec.name)}`,
    `CREATE PUBLICATION ${ident(spec.name)}${tables.length ? ` FOR TABLE ${tables.join(', ')}` : ''} WITH (publish = ${literal(spec.operation)}${spec.viaRoot ? ', publish_via_partition_root = true' : ''})`,
    markPublicationSql(spec, slot, serverVersion, madeFull),
  ];
}

/** Writes a publication's marker, its catalog fingerprint taken now. */
export function markPublicationSql(
  spec: PublicationSpec,
  slot: string,
  serverVersion: number,
  madeFull: TableName[],
): string {
  const full = JSON.stringify(madeFull.map((t) => ({ schema: t.schema, table: t.table })));
  const marker = `json_build_object('v', 1, 'slot', ${literal(slot)}, 'operation', ${literal(spec.operation)}, 'hash', ${literal(spec.hash)}, 'catalog', ${fingerprintSql(spec.name, serverVersion)}, 'full', ${literal(full)}::json)::text`;
  return `DO ${dollarQuote(
    `BEGIN EXECUTE format('COMMENT ON PUBLICATION %I IS %L', ${literal(spec.name)}, ${literal(REPLICATION_MARKER)} || ${marker}); END`,
    'nudge',
  )}`;
}

export function dropPublicationSql(name: string): string {
  return `DROP PUBLICATION IF EXISTS ${ident(name)}`;
}

/**
 * `public.orders (id, email) filtered`, for the plan's detail line. A table
 * published without a column list says so, why, and what the consumer keeps
 * of its rows (`kept`; undefined: every column that may leave): its other
 * columns, credentials included, leave the server in the stream.
 */
export function describeTable(
  t: PublishedTable,
  serverVersion: number,
  kept: readonly string[] | undefined,
): string {
  const whole = () => {
    const why =
      serverVersion < 150000
        ? 'no column lists before PostgreSQL 15'
        : 'REPLICA IDENTITY FULL needs every column';
    const keeps = kept ? kept.join(', ') : 'every column but credentials and excluded ones';
    return ` (whole rows: ${why}; the engine keeps ${keeps})`;
  };
  return `${formatTableName(t.table)}${t.columns ? ` (${t.columns.join(', ')})` : whole()}${t.filter ? ' filtered' : ''}`;
}

/** The capture objects with what replaces their triggers: replication's part of the desired captures (objects.ts). */
export function withReplication(
  objects: CaptureObject[],
  replication: ReplicationDesired,
): DesiredCaptures {
  return Object.assign(objects, { replication });
}
