// Lists of contacts: static lists whose members are added and removed (by id,
// by email, or by a condition), and segments — a saved PostgREST query string
// (`plan=eq.pro&mrr=gt.100`) evaluated whenever the list is read.
import type postgres from 'postgres';
import { normalizeEmail } from './store.js';

/**
 * A list's or a segment's name (one rule for both, a feature's): it goes in
 * URLs (`/v1/lists/:name`, the dashboard's `/lists/<name>`) and in
 * `add_to_list:` of a feature file, so letters, digits, - and _, as feature
 * and stage names are. POST /v1/lists, a feature file's literal
 * `add_to_list:` and an action making a list on first use all check it;
 * lists made before the rule keep their names and keep working.
 */
export const LIST_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
/** What a refusal of a name says (a field's "got …" is added by whoever quotes it). */
export const LIST_NAME_RULE =
  'expected a name of letters, digits, - and _, starting with a letter or digit (e.g. email-users)';

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

/** Emails of deleted contacts given to add: refused as ids of them are (a member would stay hidden). */
export class DeletedContacts extends Error {
  override name = 'DeletedContacts';
  constructor(
    readonly email: string,
    /** Where it was in the request's emails. */
    readonly index: number,
  ) {
    super(`the contact ${email} was deleted; a deleted contact cannot be added to a list`);
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

/**
 * Deletes a list by name; `segmentOnly`: only if it is a segment (it holds
 * no members). Says what it found in the one statement that deleted, so a
 * list made or changed by someone else meanwhile cannot make it say another
 * thing than what the delete saw: `deleted`, `static` (there, a static list,
 * left as `segmentOnly` asks) or `missing`.
 */
export async function deleteList(
  sql: postgres.Sql,
  name: string,
  options: { segmentOnly?: boolean } = {},
): Promise<'deleted' | 'static' | 'missing'> {
  const segmentOnly = options.segmentOnly ?? false;
  // The select reads the statement's snapshot, the rows as the delete found them.
  const [row] = await sql<{ deleted: boolean; static: boolean }[]>`
    with gone as (
      delete from nudge_engine.lists
       where name = ${name} and (not ${segmentOnly}::boolean or query is not null)
      returning id)
    select exists (select 1 from gone) as deleted,
           exists (select 1 from nudge_engine.lists where name = ${name} and query is null) as static`;
  return row!.deleted ? 'deleted' : row!.static ? 'static' : 'missing';
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
      const [gone] = await tx<{ email: string }[]>`
        select email from nudge_engine.contacts
         where email = any(${emails}::text[]) and deleted_at is not null limit 1`;
      if (gone) {
        const index = who.emails.findIndex((e) => normalizeEmail(e) === gone.email);
        throw new DeletedContacts(gone.email, index);
      }
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
