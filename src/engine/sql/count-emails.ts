// The emails recorded for a contact since a time: the frequency cap's count
// (decisions of outcome action and kind email).
import type postgres from 'postgres';

export async function countEmails(
  tx: postgres.TransactionSql,
  contactId: string,
  since: Date,
): Promise<number> {
  const [row] = await tx<{ n: number }[]>`
    select count(*)::int as n from nudge_engine.decisions
     where contact_id = ${contactId} and outcome = 'action' and detail ->> 'kind' = 'email' and at > ${since}`;
  return row?.n ?? 0;
}
