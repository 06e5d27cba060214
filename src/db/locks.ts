// Every advisory lock Nudge takes, in one place, so no two parts of Nudge
// pick the same key by accident and a reader sees what excludes what. A key
// is hashtext(name) on the server — the value every version of Nudge used, so
// processes of an older version still exclude a newer one — with a second
// key where one lock stands for many (a lane's number, a sync's name). Who
// holds a lock is read here too, from pg_locks.
import type postgres from 'postgres';
import { literal } from './quote.js';

export const LOCKS = {
  /** Engine-store migrations: one process migrates at a time (migrate.ts). */
  migrate: 'nudge engine migrate',
  /** `nudge deploy`: two deploys never interleave (capture/deploy.ts). */
  deploy: 'nudge deploy',
  /** The outbox pump: one claim at a time over all processes; deploys take it too (engine pump, capture/deploy.ts). */
  pump: 'nudge pump',
  /** A lane, with the lane's number as the second key: one transaction processes it at a time (engine lanes). */
  lane: 'nudge partition',
  /** A sync, with hashtext(its name) as the second key: two runs of one sync never overlap (contacts/sync). */
  sync: 'nudge sync',
  /** The contact search indexer: one batch at a time (contacts/search-index.ts). */
  searchIndexer: 'nudge contact search indexer',
  /** capture: replication, with hashtext(the slot's name) as the second key: the one process streaming the slot (capture/transports/replication/consumer.ts). */
  replication: 'nudge replication',
  /** The one engine process that looks for rows a trigger could not capture and warns of them (engine/wiring/capture-failures.ts). */
  captureFailures: 'nudge capture failures',
  /** The demo app's tables, created by one `nudge dev` at a time (dev/demo.ts). */
  demoTables: 'nudge demo tables',
  /** One `nudge dev` per embedded server, held for its life (dev/demo.ts openDemoDatabase, exclusive). */
  dev: 'nudge dev',
} as const;

export type LockName = keyof typeof LOCKS;

/** A lock's (first) key as SQL text, e.g. `hashtext('nudge pump')`: for statement text and sql.unsafe fragments. */
export function lockKey(lock: LockName): string {
  return `hashtext(${literal(LOCKS[lock])})`;
}

/** The locks whose second key is hashtext of a name: a sync's, a replication slot's. */
type NamedLock = 'sync' | 'replication';

/**
 * Which of `names` some session holds now as the second key of `lock`
 * (first key hashtext(LOCKS[lock]), second hashtext(name)), in the
 * database `sql` is connected to. pg_locks shows a lock of two int4 keys as
 * classid and objid — as oids, so a negative key wraps, as the int4 → oid
 * cast does — with objsubid 2; a lock of one bigint key has objsubid 1 and
 * is never mistaken for one.
 */
export async function heldNamedLocks(
  sql: postgres.Sql,
  lock: NamedLock,
  names: string[],
): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const rows = await sql<{ name: string }[]>`
    select n.name
      from unnest(${names}::text[]) as n(name)
     where exists (
       select from pg_locks l
        where l.locktype = 'advisory' and l.granted and l.objsubid = 2
          and l.database = (select oid from pg_database where datname = current_database())
          and l.classid = hashtext(${LOCKS[lock]}::text)::oid
          and l.objid = hashtext(n.name)::oid)`;
  return new Set(rows.map((row) => row.name));
}
