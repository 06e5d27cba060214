// /v1/lists: create static lists and segments (a saved PostgREST query string,
// evaluated live), add and remove members by id, email or a condition given
// as query parameters, and read members with the same parameters and paging
// as /v1/contacts. A segment on an attribute no contact holds yet is kept
// (the attribute may come with the next sync) and its creation answered with
// a warning.
import { type Context, Hono } from 'hono';
import type postgres from 'postgres';
import { z } from 'zod';
import { numberedParams } from '../../conditions/index.js';
import {
  addMembers,
  addMembersWhere,
  allLists,
  type ContactList,
  createList,
  DeletedContacts,
  deleteList,
  findList,
  LIST_NAME,
  LIST_NAME_RULE,
  ListExists,
  removeMembers,
  removeMembersWhere,
  UnknownContacts,
} from '../../contacts/lists.js';
import {
  type AttributeTypes,
  type ContactQuery,
  compileWhere,
  parseContactQuery,
  QueryError,
  segmentProblem,
  segmentQuery,
} from '../../contacts/query.js';
import { HttpError } from '../http-error.js';
import type { ApiEnv } from './auth.js';
import { email, uuid } from './contacts.js';
import {
  badQuery,
  contactQueryEntries,
  expectedObject,
  invalid,
  readJson,
  searchError,
  searchRefusal,
  takes,
  validate,
} from './input.js';
import { conditionWarnings } from './known-fields.js';
import { pageOf, respondContacts, runContacts } from './paging.js';

export interface ListsApiOptions {
  sql: postgres.Sql;
  attributes: AttributeTypes;
  maxBodyBytes: number;
}

const MAX_MEMBERS_PER_CALL = 10_000;

const createSchema = z.strictObject(
  {
    name: z
      .string({ error: 'expected the list name' })
      .trim()
      .min(1, { error: 'expected a non-empty list name' })
      .max(200, { error: 'expected a list name of at most 200 characters' })
      .regex(LIST_NAME, { error: LIST_NAME_RULE }),
    query: z
      .string({ error: 'expected a PostgREST query string, e.g. "plan=eq.pro&mrr=gt.100"' })
      .optional(),
  },
  { error: expectedObject('expected a JSON object with name (and query for a segment)') },
);

const membersSchema = z
  .strictObject(
    {
      ids: z
        .array(uuid, { error: 'expected a list of contact ids' })
        .max(MAX_MEMBERS_PER_CALL)
        .optional(),
      emails: z
        .array(email, { error: 'expected a list of email addresses' })
        .max(MAX_MEMBERS_PER_CALL)
        .optional(),
    },
    { error: expectedObject('expected a JSON object with ids and/or emails') },
  )
  .optional();

export function listsRoutes(options: ListsApiOptions): Hono<ApiEnv> {
  const { sql, attributes } = options;
  const app = new Hono<ApiEnv>();

  app.post('/', async (c) => {
    const body = validate(createSchema, await readJson(c, options.maxBodyBytes));
    const query = body.query?.replace(/^\?/, '').trim() || null;
    let segment: ContactQuery | undefined;
    if (query !== null) {
      // Compiled and planned once now, so a wrong segment is refused here,
      // not on every read (planning also meets an unknown text search
      // language or bad full-text terms).
      const params = numberedParams();
      let where: string;
      try {
        segment = segmentQuery(query);
        where = compileWhere([segment], { attributes, params });
      } catch (error) {
        if (error instanceof QueryError) throw invalid('query', error.message);
        throw error;
      }
      await sql
        .unsafe(
          `EXPLAIN SELECT 1 FROM nudge_engine.contacts c WHERE ${where}`,
          params.values as never[],
        )
        .catch((error: unknown) => {
          // The body's field, as the condition's other faults are (422 invalid_body query: …).
          const refusal = searchRefusal([segment!], error);
          if (refusal) throw invalid('query', refusal);
          throw error;
        });
    }
    const list = await createList(sql, body.name, query).catch((error: unknown) => {
      if (error instanceof ListExists) throw new HttpError(409, 'list_exists', error.message);
      throw error;
    });
    const warnings = segment ? await conditionWarnings(sql, attributes, segment) : [];
    return c.json({ ...listJson(list), warnings }, 201);
  });

  app.get('/', takes(), async (c) =>
    c.json((await allLists(sql)).map((l) => ({ ...listJson(l), members: l.members }))),
  );

  // One list. No warnings: they cost a scan of every contact, paid once when
  // the segment is made (POST), not each time its page is opened.
  app.get('/:name', takes(), async (c) =>
    c.json(listJson(await listNamed(sql, c.req.param('name')))),
  );

  // The dashboard (scope `dashboard`) deletes segments only: a segment is a
  // saved condition, while a static list's members would go with it. What
  // is answered is what the delete itself saw (deleteList), so a list made
  // meanwhile is a 404, never a 403 for a key that may delete it.
  app.delete('/:name', async (c) => {
    const name = c.req.param('name');
    const segmentOnly = c.get('apiKey').scope === 'dashboard';
    const outcome = await deleteList(sql, name, { segmentOnly });
    if (outcome === 'deleted') return c.json({ name, deleted: true });
    if (outcome === 'missing' || !segmentOnly) throw notFound(name);
    throw new HttpError(
      403,
      'insufficient_scope',
      `"${name}" is a static list: the dashboard deletes segments only (a static list's members would go with it); use an API key of scope write`,
    );
  });

  app.get('/:name/contacts', async (c) => {
    const list = await listNamed(sql, c.req.param('name'));
    let query: ContactQuery;
    let segment: ContactQuery | undefined;
    try {
      query = parseContactQuery(contactQueryEntries(c));
      segment = list.query === null ? undefined : segmentQuery(list.query);
    } catch (error) {
      badQuery(error);
    }
    return respondContacts(c, sql, {
      filters: segment ? [segment, query] : [query],
      view: query,
      ...(list.query === null ? { listId: list.id } : {}),
      attributes,
      page: pageOf(c, query),
    });
  });

  const changeMembers = (direction: 'add' | 'remove') => async (c: Context<ApiEnv>) => {
    const list = await listNamed(sql, c.req.param('name') ?? '');
    if (list.query !== null) {
      throw new HttpError(
        409,
        'segment_list',
        `"${list.name}" is a segment: its members are the contacts matching ${list.query}`,
      );
    }
    const entries = contactQueryEntries(c);
    const body = validate(membersSchema, await readJson(c, options.maxBodyBytes));
    const ids = body?.ids ?? [];
    const emails = body?.emails ?? [];
    const byBody = ids.length + emails.length > 0;
    if (byBody && entries.length > 0) {
      throw invalid(
        '(body)',
        'give contacts in the body or a condition as query parameters, not both',
      );
    }
    let changed: number;
    if (byBody) {
      try {
        changed =
          direction === 'add'
            ? await addMembers(sql, list.id, { ids, emails })
            : await removeMembers(sql, list.id, { ids, emails });
      } catch (error) {
        if (error instanceof UnknownContacts) throw invalid(`ids[${error.index}]`, error.message);
        if (error instanceof DeletedContacts)
          throw invalid(`emails[${error.index}]`, error.message);
        throw error;
      }
    } else {
      if (entries.length === 0) {
        throw invalid(
          '(body)',
          'give ids or emails, or a condition as query parameters (e.g. ?plan=eq.pro; ?id=not.is.null for everyone)',
        );
      }
      const params = numberedParams(2);
      let where: string;
      let query: ContactQuery;
      try {
        query = parseContactQuery(entries, { filtersOnly: true });
        where = compileWhere([query], { attributes, params });
      } catch (error) {
        badQuery(error);
      }
      const run = direction === 'add' ? addMembersWhere : removeMembersWhere;
      changed = await run(sql, list.id, where, params.values).catch((error: unknown) =>
        searchError([query], error),
      );
    }
    return c.json(direction === 'add' ? { added: changed } : { removed: changed });
  };
  app.post('/:name/contacts', changeMembers('add'));
  app.delete('/:name/contacts', changeMembers('remove'));

  return app;
}

async function listNamed(sql: postgres.Sql, name: string): Promise<ContactList> {
  const list = await findList(sql, name);
  if (!list) throw notFound(name);
  return list;
}

function notFound(name: string): HttpError {
  return new HttpError(404, 'list_not_found', `no list named "${name}"`);
}

function listJson(list: ContactList) {
  return {
    id: list.id,
    name: list.name,
    kind: list.query === null ? 'static' : 'segment',
    query: list.query,
    created_at: list.created_at,
  };
}

/**
 * The lists a contact is in: static lists it was added to, and segments whose
 * condition it meets now (each segment's query, run for this one contact).
 */
export async function listsOf(
  sql: postgres.Sql,
  attributes: AttributeTypes,
  contactId: string,
): Promise<ReturnType<typeof listJson>[]> {
  const lists = await sql<(ContactList & { member: boolean })[]>`
    select l.id, l.name, l.query, l.created_at,
           exists (select 1 from nudge_engine.list_members m
                    where m.list_id = l.id and m.contact_id = ${contactId}) as member
      from nudge_engine.lists l order by l.name`;
  const one = parseContactQuery([['id', `eq.${contactId}`]]);
  const found: ReturnType<typeof listJson>[] = [];
  for (const list of lists) {
    let member = list.member;
    if (list.query !== null) {
      // A segment whose query no longer parses or compiles (saved before
      // ordering an undeclared attribute was refused, say) is in no one's
      // lists; its own page says why, and so does nudge doctor.
      let segment: ContactQuery;
      try {
        segment = segmentQuery(list.query);
      } catch (error) {
        if (error instanceof QueryError) continue;
        throw error;
      }
      if (segmentProblem(segment, attributes) !== undefined) continue;
      const result = await runContacts(sql, {
        filters: [segment, one],
        view: one,
        attributes,
        page: { offset: 0, limit: 1, count: false },
      });
      member = result.rows.length > 0;
    }
    if (member) found.push(listJson(list));
  }
  return found;
}
