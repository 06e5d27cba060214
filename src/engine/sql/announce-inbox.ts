// New inbox rows announced to the lanes (intake/inbox.ts announcement), as a
// statement's main part: delivered when its transaction commits. Without a
// sender, an empty select (the part a combined write still needs).
import type postgres from 'postgres';
import { announcement } from '../intake/inbox.js';

export function announceInbox(
  db: postgres.Sql | postgres.TransactionSql,
  from: string | undefined,
  lanes: Iterable<number>,
): postgres.PendingQuery<postgres.Row[]> {
  return from === undefined ? db`select` : db`select ${announcement(db, from, lanes)}`;
}
