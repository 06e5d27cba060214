// A lane's advisory lock, tried for several lanes in one statement.
import type postgres from 'postgres';
import { lockKey } from '../../db/locks.js';

/**
 * Takes the lanes no other transaction holds, for the rest of this one;
 * returns them. With `flush: false`, the transaction's commit does not wait
 * for the WAL to reach the disk (synchronous_commit off, for this one only):
 * a lane's commit is on the way from every event to its actions, and under
 * load — above all while a checkpoint runs — the wait for the flush made
 * most of the slowest events' latency (docs/benchmarks.md). It is safe
 * because a lane's work can be done again: if the server crashes before the
 * flush, the transaction is undone as a whole, its events are still in the
 * inbox (the pump's and the ingest's commits do wait), and processing them
 * again decides the same actions under the same keys, so an action already
 * attempted is only sent again with its key, as after a crash of Nudge.
 * A transaction that creates a contact, or changes how one is found, waits
 * for its flush after all (migration 007): the contact's id is in the keys.
 */
export async function takeLanes(
  tx: postgres.TransactionSql,
  lanes: readonly number[],
  options: { flush?: boolean } = {},
): Promise<Set<number>> {
  const lazy = options.flush === false ? tx`, set_config('synchronous_commit', 'off', true)` : tx``;
  const [row] = await tx<{ taken: number[] }[]>`
    select array(select lane from unnest(${lanes}::int[]) lane
                  where pg_try_advisory_xact_lock(${tx.unsafe(lockKey('lane'))}, lane)) as taken${lazy}`;
  return new Set(row?.taken ?? []);
}
