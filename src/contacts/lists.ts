// Lists of contacts: static lists whose members are added and removed (by id,
// by email, or by a condition), and segments — a saved PostgREST query string
// (`plan=eq.pro&mrr=gt.100`) evaluated whenever the list is read.
import type postgres from 'postgres';
import { normalizeEmail } from './store.js';

export interface ContactList {
  id: string;
  name: string;
  /** Set for a segment: its PostgREST query string. */
  query: string | null;
  created_at: Date;
}

export class ListExists extends Error {
  override name = 'ListExists';
}

/** Some of the given contact ids name no (undeleted) contact. */
export class UnknownContacts extends Error {
  override name = 'UnknownContacts';
  constructor(
    readonly ids: string[],
    /** Where the first one was in the request's list. */
    readonly index: number,
  ) {
    super(`no contact with id ${ids[0]}${ids.length > 1 ? ` (and ${ids.length - 1} more)` : ''}`);
  }
}

export async function createList(
  sql: postgres.Sql,
  name: string,
  query: string | null,
): Promise<ContactList> {
  const [row] = await sql<ContactList[]>`
    insert into nudge_engine.lists (name, query) values (${name}, ${query})
    on conflict (name) do nothing
    returning id, name, query, created_at`;
  if (!row) throw new ListExists(`a list named "${name}" already exists`);
  return row;
}

export async function findList(
  sql: postgres.Sql | postgres.TransactionSql,
  name: string,
): Promise<ContactList | undefined> {
  const [row] = await sql<ContactList[]>`
    select id, name, query, created_at from nudge_engine.lists where name = ${name}`;
  return row;
}

/** Every list, with the member count of static lists (segments count when read). */
export async function allLists(
  sql: postgres.Sql,
): Promise<(ContactList & { members: number | null })[]> {
  return sql<(ContactList & { members: number | null })[]>`
    select l.id, l.name, l.query, l.created_at,
           case when l.query is null then (
             select count(*)::int from nudge_engine.list_members m
               join nudge_engine.contacts c on c.id = m.contact_id
              where m.list_id = l.id and c.deleted_at is null) end as members
      from nudge_engine.lists l
     order by l.name`;
}

/** Deletes a list by name; `segmentOnly`: only if it is a segment (it holds no members). */
export async function deleteList(
  sql: postgres.Sql,
  name: string,
  options: { segmentOnly?: boolean } = {},
): Promise<boolean> {
  const result = options.segmentOnly
    ? await sql`delete from nudge_engine.lists where name = ${name} and query is not null`
    : await sql`delete from nudge_engine.lists where name = ${name}`;
  return result.count > 0;
}

/**
 * Which of the attribute `names` no contact holds (deleted contacts count:
 * they held it): a segment on one of them is kept, with a warning. One
 * existence test per name, which stops at the first contact holding it.
 */
export async function attributesNoOneHolds(sql: postgres.Sql, names: string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const held = await sql<{ name: string }[]>`
    select name from unnest(${names}::text[]) as name
     where exists (select 1 from nudge_engine.contacts c where c.attributes ? name)`;
  const found = new Set(held.map((row) => row.name));
  return names.filter((name) => !found.has(name));
}

/** The attribute names contacts hold (at most `limit`), for a "did you mean". One scan. */
export async function heldAttributeNames(sql: postgres.Sql, limit = 1000): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`
    select distinct name from nudge_engine.contacts c, jsonb_object_keys(c.attributes) as name
     where jsonb_typeof(c.attributes) = 'object'
     order by name limit ${limit}`;
  return rows.map((row) => row.name);
}

/**
 * Adds contacts by id (each must exist) and by email (contacts are created
 * for emails not seen before, as an upsert would). All or nothing; returns
 * how many were not members yet.
 */
export async function addMembers(
  sql: postgres.Sql,
  listId: string,
  who: { ids: string[]; emails: string[] },
): Promise<number> {
  const emails = [...new Set(who.emails.map((e) => normalizeEmail(e)).filter((e) => e !== null))];
  return sql.begin(async (tx) => {
    await checkIds(tx, who.ids);
    if (emails.length > 0) {
      await tx`
        insert into nudge_engine.contacts (email)
        select e from unnest(${emails}::text[]) as e
        on conflict (email) where email is not null do nothing`;
    }
    const result = await tx`
      insert into nudge_engine.list_members (list_id, contact_id)
      select ${listId}, c.id from nudge_engine.contacts c
       where c.id = any(${who.ids}::uuid[]) or c.email = any(${emails}::text[])
      on conflict do nothing`;
    return result.count;
  });
}

/** Removes contacts by id or email; returns how many were members. */
export async function removeMembers(
  sql: postgres.Sql,
  listId: string,
  who: { ids: string[]; emails: string[] },
): Promise<number> {
  const emails = who.emails.map((e) => normalizeEmail(e)).filter((e) => e !== null);
  const result = await sql`
    delete from nudge_engine.list_members m
     using nudge_engine.contacts c
     where m.list_id = ${listId} and m.contact_id = c.id
       and (c.id = any(${who.ids}::uuid[]) or c.email = any(${emails}::text[]))`;
  return result.count;
}

/**
 * Adds every contact a compiled condition selects (`where` over contacts AS c,
 * with its parameters numbered from $2; $1 is the list).
 */
export async function addMembersWhere(
  sql: postgres.Sql,
  listId: string,
  where: string,
  values: unknown[],
): Promise<number> {
  const result = await sql.unsafe(
    `INSERT INTO nudge_engine.list_members (list_id, contact_id)
     SELECT $1::uuid, c.id FROM nudge_engine.contacts c WHERE ${where}
     ON CONFLICT DO NOTHING`,
    [listId, ...values] as never[],
  );
  return result.count;
}

/** Removes the members a compiled condition selects (parameters as for addMembersWhere). */
export async function removeMembersWhere(
  sql: postgres.Sql,
  listId: string,
  where: string,
  values: unknown[],
): Promise<number> {
  const result = await sql.unsafe(
    `DELETE FROM nudge_engine.list_members m USING nudge_engine.contacts c
      WHERE m.list_id = $1::uuid AND m.contact_id = c.id AND ${where}`,
    [listId, ...values] as never[],
  );
  return result.count;
}

async function checkIds(tx: postgres.TransactionSql, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const found = await tx<{ id: string }[]>`
    select id from nudge_engine.contacts where id = any(${ids}::uuid[]) and deleted_at is null`;
  const known = new Set(found.map((row) => row.id));
  const missing = ids.filter((id) => !known.has(id.toLowerCase()));
  if (missing.length > 0) throw new UnknownContacts(missing, ids.indexOf(missing[0]!));
}
