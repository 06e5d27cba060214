// /v1/contacts: upsert by any identity (attributes merge), read one with its
// timeline, mark deleted, and query many with PostgREST parameters.
import { Hono } from 'hono';
import type postgres from 'postgres';
import { z } from 'zod';
import { readIsoTime } from '../../config/time-options.js';
import {
  type AttributeTypes,
  CONTACT_JSON,
  IDENTITY_COLUMNS,
  parseContactQuery,
} from '../../contacts/query.js';
import { normalizeEmail, resolveContact, setAttributes } from '../../contacts/store.js';
import { HttpError } from '../http-error.js';
import type { ApiEnv } from './auth.js';
import {
  badQuery,
  contactQueryEntries,
  expectedObject,
  invalid,
  readJson,
  takes,
  validate,
} from './input.js';
import { limitOf } from './keyset.js';
import { conditionWarnings } from './known-fields.js';
import { pageOf, respondContacts, WARNINGS_HEADER, warningsHeader } from './paging.js';
import { parseCursor, timelineOf } from './timeline.js';

export interface ContactsApiOptions {
  sql: postgres.Sql;
  attributes: AttributeTypes;
  maxBodyBytes: number;
}

export const uuid = z
  .string({ error: 'expected a UUID' })
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, {
    error: 'expected a UUID',
  })
  .transform((value) => value.toLowerCase());
export const email = z
  .string({ error: 'expected an email address' })
  .trim()
  .max(320, { error: 'expected an email address of at most 320 characters' })
  .regex(/^[^\s@]+@[^\s@]+$/, { error: 'expected an email address' });
const identityText = (what: string) =>
  z
    .string({ error: `expected ${what} as a string` })
    .min(1, { error: `expected a non-empty ${what}` })
    .max(200, { error: `expected ${what} of at most 200 characters` });
export const phone = identityText('a phone number');
export const externalId = identityText('an external id');

const upsertSchema = z.strictObject(
  {
    email: email.optional(),
    auth_user_id: uuid.optional(),
    phone: phone.optional(),
    external_id: externalId.optional(),
    attributes: z.record(z.string(), z.unknown(), { error: 'expected an object' }).optional(),
  },
  {
    error: expectedObject('expected a JSON object with email, auth_user_id, phone or external_id'),
  },
);

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TIMELINE_DEFAULT = 50;

export function contactsRoutes(options: ContactsApiOptions): Hono<ApiEnv> {
  const { sql, attributes } = options;
  const app = new Hono<ApiEnv>();

  app.post('/', async (c) => {
    const body = validate(upsertSchema, await readJson(c, options.maxBodyBytes));
    const identity = {
      email: body.email ?? null,
      authUserId: body.auth_user_id ?? null,
      phone: body.phone ?? null,
      externalId: body.external_id ?? null,
    };
    if (!identity.email && !identity.authUserId && !identity.phone && !identity.externalId) {
      throw invalid('(body)', 'give at least one of email, auth_user_id, phone, external_id');
    }
    const values = body.attributes ?? {};
    checkAttributes(values, attributes);
    // Outside a transaction: resolveContact tolerates a failed identity update
    // (another contact holds that email), which would abort a transaction.
    const { id, created } = await resolveContact(sql, identity, values);
    if (!created) {
      // Merged again: resolveContact skips attributes when that update fails.
      if (Object.keys(values).length > 0) await setAttributes(sql, id, values);
      await sql`update nudge_engine.contacts set deleted_at = null, updated_at = now()
                 where id = ${id} and deleted_at is not null`;
    }
    const contact = await contactJson(sql, id);
    const warnings = identitiesKept(identity, contact);
    if (warnings.length > 0) c.header(WARNINGS_HEADER, warningsHeader(warnings));
    return c.json(contact, created ? 201 : 200);
  });

  app.get('/', async (c) => {
    let query: ReturnType<typeof parseContactQuery>;
    try {
      query = parseContactQuery(contactQueryEntries(c));
    } catch (error) {
      badQuery(error);
    }
    const page = pageOf(c, query);
    // Counted (the Lists page's live count): told, as a new segment is, of
    // each attribute the condition names that no contact has yet.
    return respondContacts(
      c,
      sql,
      { filters: [query], view: query, attributes, page },
      page.count ? conditionWarnings(sql, attributes, query) : [],
    );
  });

  app.get('/:contact', takes('limit', 'before'), async (c) => {
    // The limit first: a bad one is refused whichever contact is named.
    const limit = limitOf(c.req.query('limit'), TIMELINE_DEFAULT);
    const contact = await findContact(sql, c.req.param('contact'));
    const timeline = await timelineOf(sql, contact.id, limit, parseCursor(c.req.query('before')));
    return c.json({ contact, timeline });
  });

  app.delete('/:contact', async (c) => {
    const contact = await findContact(sql, c.req.param('contact'), true);
    const [row] = await sql<{ id: string; deleted_at: Date }[]>`
      update nudge_engine.contacts set deleted_at = coalesce(deleted_at, now()), updated_at = now()
       where id = ${contact.id}
      returning id, deleted_at`;
    return c.json({ id: row!.id, deleted_at: row!.deleted_at });
  });

  return app;
}

interface ContactJson {
  id: string;
  deleted_at: string | null;
  [field: string]: unknown;
}

async function contactJson(sql: postgres.Sql, id: string): Promise<ContactJson> {
  const [row] = await sql<{ contact: ContactJson }[]>`
    select ${sql.unsafe(CONTACT_JSON)} as contact from nudge_engine.contacts c where c.id = ${id}`;
  return row!.contact;
}

/**
 * What an upsert asked for that the contact did not take: an identity another
 * contact holds stays that contact's (resolveContact does not move it), and
 * the answer is the contact the others found. Said, not refused: the upsert
 * did what it could, and the caller learns which identity is someone else's.
 */
function identitiesKept(
  asked: {
    email: string | null;
    authUserId: string | null;
    phone: string | null;
    externalId: string | null;
  },
  contact: ContactJson,
): string[] {
  const pairs: [field: string, asked: string | null, has: unknown][] = [
    ['email', normalizeEmail(asked.email), contact.email],
    ['auth_user_id', asked.authUserId?.toLowerCase() ?? null, contact.auth_user_id],
    ['phone', asked.phone || null, contact.phone],
    ['external_id', asked.externalId, contact.external_id],
  ];
  return pairs
    .filter(([, want, has]) => want !== null && want !== has)
    .map(
      ([field, want]) =>
        `${field} ${JSON.stringify(want)} belongs to another contact and was not given to ${contact.id}`,
    );
}

/**
 * A contact by id (or auth user id), email, or external id. Deleted contacts
 * are 404 unless `deleted` (DELETE is idempotent). An external id may look
 * like an id (an app's own user uuid) or an email: it is looked up too,
 * after the id, auth user id and email.
 */
export async function findContact(
  sql: postgres.Sql,
  ref: string,
  deleted = false,
): Promise<ContactJson> {
  const isId = UUID_TEXT.test(ref);
  const mail = ref.includes('@') ? normalizeEmail(ref) : null;
  const [row] = await sql<{ contact: ContactJson }[]>`
    select ${sql.unsafe(CONTACT_JSON)} as contact from nudge_engine.contacts c
     where ${
       isId
         ? sql`c.id = ${ref}::uuid or c.auth_user_id = ${ref}::uuid or c.external_id = ${ref}`
         : mail
           ? sql`c.email = ${mail} or c.external_id = ${ref}`
           : sql`c.external_id = ${ref}`
     }
     order by ${
       isId
         ? sql`c.id = ${ref}::uuid desc, (c.auth_user_id = ${ref}::uuid) is true desc`
         : mail
           ? sql`(c.email = ${mail}) is true desc`
           : sql`c.id`
     }
     limit 1`;
  if (!row || (row.contact.deleted_at && !deleted)) {
    const what = row ? 'was deleted' : 'does not exist';
    // Neither an id nor an email: say how it was read, and what else names a contact.
    const read =
      row || isId || mail
        ? ''
        : ' (read as an external id; a contact is named by its id, auth user id, email or external id)';
    throw new HttpError(404, 'contact_not_found', `contact ${ref} ${what}${read}`);
  }
  return row.contact;
}

/** Attribute values must fit the types nudge.yaml declares; identity fields are not attributes. */
function checkAttributes(values: Record<string, unknown>, types: AttributeTypes): void {
  for (const [name, value] of Object.entries(values)) {
    const field = `attributes.${name}`;
    if (name === '') throw invalid('attributes', 'attribute names cannot be empty');
    if (Object.hasOwn(IDENTITY_COLUMNS, name)) {
      // Conditions and queries read the contact's own field over an attribute of its name.
      const settable = Object.hasOwn(upsertSchema.shape, name);
      throw invalid(
        field,
        `"${name}" is a contact field, not an attribute; ${settable ? 'give it at the top level' : `Nudge sets it; name the attribute otherwise (e.g. user_${name})`}`,
      );
    }
    const type = types[name];
    if (value === null || type === undefined || type === 'jsonb' || type === 'unknown') continue;
    if (!fitsType(value, type)) {
      // A time of the right shape that is none says why (`the calendar has no 2025-02-30`).
      const fault = typeof value === 'string' ? readIsoTime(value) : undefined;
      throw invalid(
        field,
        `expected ${EXPECTED[type] ?? type} (nudge.yaml declares ${name}: ${type}), got ${JSON.stringify(value)}${typeof fault === 'string' ? `: ${fault}` : ''}`,
      );
    }
  }
}

const EXPECTED: Record<string, string> = {
  text: 'a string',
  integer: 'a whole number',
  numeric: 'a number',
  boolean: 'true or false',
  timestamptz: 'an ISO 8601 timestamp',
  timestamp: 'an ISO 8601 timestamp',
  date: 'a date (2024-01-31)',
  uuid: 'a UUID',
};

const isTime = (text: string) => readIsoTime(text) instanceof Date;

function fitsType(value: unknown, type: string): boolean {
  switch (type) {
    case 'text':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value) || (typeof value === 'string' && /^[+-]?\d+$/.test(value));
    case 'numeric':
      return (
        (typeof value === 'number' && Number.isFinite(value)) ||
        (typeof value === 'string' && /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,4})?$/.test(value))
      );
    case 'boolean':
      return typeof value === 'boolean';
    // As occurred_at and the commands read a time (readIsoTime): a day the
    // calendar has (Date.parse reads 2025-02-30 as March 2; PostgreSQL has
    // no such day, and the attribute would read as NULL in every query).
    case 'date':
      return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) && isTime(value);
    case 'timestamptz':
    case 'timestamp':
      return typeof value === 'string' && isTime(value);
    case 'uuid':
      return typeof value === 'string' && UUID_TEXT.test(value);
    default:
      return true;
  }
}
