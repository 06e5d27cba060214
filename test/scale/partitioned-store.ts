// The engine store with its hot tables hash-partitioned by contact: a
// stand-in on one PostgreSQL for a store distributed by contact (Citus).
// The real migrations run first; their schema is then renamed aside and
// nudge_engine rebuilt with each hot table's columns, defaults and identity
// (CREATE TABLE ... LIKE), PARTITION BY HASH on the column a distributed
// store would shard it by, in PARTITIONS partitions named <table>_p<r>.
// What PostgreSQL (and Citus) cannot keep on such a table is left out and
// named in docs/scale.md: a unique constraint without the partition column.
import type postgres from 'postgres';
import { migrateEngine } from '../../src/db/migrate.js';

export const PARTITIONS = 4;

/**
 * Table → its partition column and the indexes it keeps. The inbox has no
 * contact column: its lane (`partition`, chosen from the contact by the
 * router) stands for the contact.
 */
export const HOT_TABLES: Record<string, { by: string; indexes: string[] }> = {
  contacts: {
    by: 'id',
    indexes: ['primary key (id)', '(auth_user_id)', '(email)', '(phone)', '(external_id)'],
  },
  journeys: {
    by: 'contact_id',
    indexes: [
      'primary key (feature, contact_id)',
      "(wake_at) where status = 'active' and wake_at is not null",
      '(contact_id)',
    ],
  },
  decisions: { by: 'contact_id', indexes: ['(contact_id, at)', '(at)'] },
  // Its primary key (id) has no contact: kept as a plain index, as each shard would.
  action_runs: {
    by: 'contact_id',
    indexes: ['unique (contact_id, key)', '(id)', '(status, updated_at)'],
  },
  inbox: {
    by: 'partition',
    indexes: [
      'unique (partition, source, source_key)',
      '(partition, id) where processed_at is null',
    ],
  },
};

/** Builds the partitioned nudge_engine in the database `sql` is connected to (url for graphile-worker's part). */
export async function partitionedStore(sql: postgres.Sql, url: string): Promise<void> {
  await migrateEngine(sql, url);
  await sql.begin(async (tx) => {
    await tx.unsafe('alter schema nudge_engine rename to nudge_engine_plain');
    await tx.unsafe('create schema nudge_engine');
    for (const [table, { by, indexes }] of Object.entries(HOT_TABLES)) {
      await tx.unsafe(
        `create table nudge_engine.${table}
           (like nudge_engine_plain.${table} including defaults including identity)
           partition by hash (${by})`,
      );
      for (let r = 0; r < PARTITIONS; r++)
        await tx.unsafe(
          `create table nudge_engine.${table}_p${r} partition of nudge_engine.${table}
             for values with (modulus ${PARTITIONS}, remainder ${r})`,
        );
      for (const index of indexes)
        await tx.unsafe(
          /^(primary key|unique) /.test(index)
            ? `alter table nudge_engine.${table} add ${index}`
            : `create index on nudge_engine.${table} ${index}`,
        );
    }
  });
}

/**
 * Per leaf partition of the hot tables, how often this transaction has
 * scanned it or written rows to it so far (pg_stat_xact_user_tables: the
 * counts of the transaction in progress).
 */
export async function partitionActivity(tx: postgres.TransactionSql): Promise<Map<string, number>> {
  const rows = await tx<{ name: string; n: string }[]>`
    select c.relname as name,
           (s.seq_scan + coalesce(s.idx_scan, 0) + s.n_tup_ins + s.n_tup_upd + s.n_tup_del)::text as n
      from pg_stat_xact_user_tables s
      join pg_inherits i on i.inhrelid = s.relid
      join pg_class c on c.oid = s.relid
     where s.schemaname = 'nudge_engine'`;
  return new Map(rows.map((r) => [r.name, Number(r.n)]));
}
