// GET /v1/contacts/:contact/lists: the lists a contact is in — static lists
// it was added to, and segments whose condition it meets now — for the
// contact's page. (Its own file: lists.ts reads contacts.ts, so contacts.ts
// cannot read lists.ts.)
import { Hono } from 'hono';
import type postgres from 'postgres';
import type { AttributeTypes } from '../../contacts/query.js';
import type { ApiEnv } from './auth.js';
import { findContact } from './contacts.js';
import { takes } from './input.js';
import { listsOf } from './lists.js';

export function contactListsRoutes(options: {
  sql: postgres.Sql;
  project: { config: { contacts: { attributes: AttributeTypes } } };
}): Hono<ApiEnv> {
  const { sql } = options;
  const api = new Hono<ApiEnv>();
  api.get('/:contact/lists', takes(), async (c) => {
    const contact = await findContact(sql, c.req.param('contact'));
    return c.json(await listsOf(sql, options.project.config.contacts.attributes, contact.id));
  });
  return api;
}
