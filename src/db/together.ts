// Several data-modifying statements sent as one: `with w0 as (...), w1 as
// (...) <final>`. One message and one reply instead of one each — on small
// machines the engine's time goes to socket calls more than to the queries
// (docs/benchmarks.md). The parts run once each, see one snapshot and cannot
// see each other's changes: use it for statements on different tables that
// do not depend on one another.
import type postgres from 'postgres';

type Statement = postgres.PendingQuery<postgres.Row[]>;

export function together(
  tx: postgres.Sql | postgres.TransactionSql,
  writes: Statement[],
  /** The statement's main part, given the last part's name (to return its rows). */
  final: (last: string) => Statement,
): Statement {
  const ctes = writes
    .map((w, i) => tx`${tx.unsafe(`w${i}`)} as (${w})`)
    .reduce((list, cte) => tx`${list}, ${cte}`);
  return tx`with ${ctes} ${final(`w${writes.length - 1}`)}`;
}
