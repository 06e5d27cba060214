// The fields a contacts answer is shaped by — select= and order= on every
// route that takes them (/v1/contacts, /v1/lists/:name/contacts) — must be
// fields the contact book has: a contact column, an attribute nudge.yaml
// declares, or an attribute some contact holds. Any other name would come
// back as a column of nulls, or order by nothing, so it is a 400 naming the
// parameter, the field, and the fields there are. (Filters are left as they
// are: a condition on an attribute nobody holds yet is a condition all the
// same — `plan=is.null` matches everyone, and a segment saved before the
// first sync has to keep its meaning — but a new segment and a counted
// condition are told of each attribute no contact has yet: conditionWarnings.)
import type postgres from 'postgres';
import { type FieldRef, fieldsOf } from '../../conditions/index.js';
import { attributesHeld, heldAttributeNames } from '../../contacts/attribute-names.js';
import { type AttributeTypes, type ContactQuery, IDENTITY_COLUMNS } from '../../contacts/query.js';
import { didYouMean } from '../../suggest.js';
import { HttpError } from '../http-error.js';

/** How many attribute names a refusal lists at most. */
const LISTED = 40;

/**
 * Throws 400 bad_query for the first select or order field that names no
 * column, no declared attribute and no attribute a contact holds. Costs one
 * statement only when a field names an undeclared attribute: an existence
 * test per name, which stops at the first contact holding it.
 */
export async function checkViewFields(
  sql: postgres.Sql,
  query: ContactQuery,
  attributes: AttributeTypes,
): Promise<void> {
  const fields: { param: 'select' | 'order'; ref: FieldRef }[] = [
    ...(query.select ?? []).flatMap((item) =>
      item.field ? [{ param: 'select' as const, ref: item.field }] : [],
    ),
    ...query.order.map((item) => ({ param: 'order' as const, ref: item.field })),
  ];
  const declared = (name: string) =>
    Object.hasOwn(IDENTITY_COLUMNS, name) || Object.hasOwn(attributes, name);
  const undeclared = [...new Set(fields.map((f) => f.ref.column).filter((n) => !declared(n)))];
  if (undeclared.length === 0) return;
  const held = await attributesHeld(sql, undeclared);
  const unknown = fields.find((f) => !declared(f.ref.column) && !held.has(f.ref.column));
  if (!unknown) return;
  throw new HttpError(
    400,
    'bad_query',
    `${unknown.param}: no field "${unknown.ref.column}" (not a contact column, nor an attribute nudge.yaml declares or a contact holds); ${await fieldsText(sql, attributes)}`,
  );
}

/** `fields: id, …; attributes: mrr, plan`: the contact columns, then the attributes declared or held. */
async function fieldsText(sql: postgres.Sql, attributes: AttributeTypes): Promise<string> {
  // Every contact's attribute names: one scan, on the way to a refusal only.
  const held = await heldAttributeNames(sql, LISTED + 1);
  const names = [...new Set([...Object.keys(attributes), ...held])].sort();
  const listed = names.slice(0, LISTED).join(', ') + (names.length > LISTED ? ', …' : '');
  return `fields: ${Object.keys(IDENTITY_COLUMNS).join(', ')}; attributes: ${listed || 'none yet'}`;
}

/** How long the warnings of a condition may take, each of their two statements. */
const WARNINGS_TIMEOUT_MS = 2_000;

/**
 * What to tell whoever makes a segment, or counts the contacts a condition
 * holds (the Lists page's live count): each attribute it names that
 * nudge.yaml does not declare and no contact holds yet, with the name it
 * likely is (`no contact has the attribute "plann" yet (did you mean
 * "plan"?)`). Not refused: the attribute may come with the next sync.
 *
 * Advice, so bounded and never a failure: a name nobody holds costs a scan
 * of every contact (attribute keys have no index), twice with the "did you
 * mean", each statement stopped after WARNINGS_TIMEOUT_MS; a check that
 * fails or is stopped warns of nothing, and the segment is made all the same.
 */
export async function conditionWarnings(
  sql: postgres.Sql,
  declared: AttributeTypes,
  query: ContactQuery,
): Promise<string[]> {
  const named = new Set<string>();
  for (const { condition } of query.filters) {
    for (const field of fieldsOf(condition)) named.add(field.column);
  }
  for (const search of [...query.searches, ...query.groupSearches.values()]) {
    if (search.field !== 'email') named.add(search.field.attribute);
  }
  const undeclared = [...named].filter(
    (name) =>
      // \u0001 marks a full-text test inside a group, counted above by its attribute.
      !name.includes('\u0001') &&
      !Object.hasOwn(IDENTITY_COLUMNS, name) &&
      !Object.hasOwn(declared, name),
  );
  if (undeclared.length === 0) return [];
  try {
    return await sql.begin(async (tx) => {
      await tx`select set_config('statement_timeout', ${String(WARNINGS_TIMEOUT_MS)}, true)`;
      const held = await attributesHeld(tx, undeclared);
      const missing = undeclared.filter((name) => !held.has(name));
      if (missing.length === 0) return [];
      const known = [
        ...Object.keys(IDENTITY_COLUMNS),
        ...Object.keys(declared),
        ...(await heldAttributeNames(tx, 1000)),
      ];
      return missing.map(
        (name) => `no contact has the attribute "${name}" yet${didYouMean(name, known)}`,
      );
    });
  } catch {
    return [];
  }
}
