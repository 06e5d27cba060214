// Which attribute names contacts hold: "does anyone hold X" and "every name
// held". Attributes are schemaless jsonb with no index on their keys, so the
// cost is said with each query; callers decide when it is worth paying (a
// refusal already on its way, a segment being made), never on a plain read.
import type postgres from 'postgres';

type Sql = postgres.Sql | postgres.TransactionSql;

/**
 * Which of `names` some contact holds (deleted contacts count: they held
 * it). One existence test per name: it stops at the first contact holding
 * it, so it is cheap for a name that is held and a scan of every contact for
 * one that is not.
 */
export async function attributesHeld(sql: Sql, names: readonly string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const held = await sql<{ name: string }[]>`
    select name from unnest(${names as string[]}::text[]) as name
     where exists (select 1 from nudge_engine.contacts c where c.attributes ? name)`;
  return new Set(held.map((row) => row.name));
}

/** The attribute names contacts hold, in order, at most `limit`. A scan of every contact. */
export async function heldAttributeNames(sql: Sql, limit: number): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`
    select distinct name from nudge_engine.contacts c, jsonb_object_keys(c.attributes) as name
     where jsonb_typeof(c.attributes) = 'object'
     order by name limit ${limit}`;
  return rows.map((row) => row.name);
}
